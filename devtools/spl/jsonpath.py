"""JSON field extraction as Splunk does it for KV_MODE=json and the ``spath`` command.

* Flattening (auto-extraction, ``spath`` without ``path``): every leaf becomes a field named by
  its key path joined with ``.``; array elements add ``{}`` to the name and all elements of one
  name form a multivalue field in document order (``a.b{}.c``). Booleans print as true/false,
  JSON null as ``null``; empty objects and arrays give no field.
* ``spath path=a.b{}.c``: ``{}`` walks every element of an array, ``{N}`` the N-th (1-based);
  a path ending on an object or array returns its JSON text.
  Search Reference, "spath" (docs.splunk.com/Documentation/Splunk/latest/SearchReference/Spath).
* Extract-all ``spath`` only reads the first ``extraction_cutoff`` bytes (limits.conf [spath],
  default 5000); :func:`flatten_text` takes that cutoff and drops leaves that end beyond it.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, Iterator, List, Tuple

_WS = re.compile(r"\s*")
_DECODER = json.JSONDecoder()


def render(value: Any) -> str:
    """A JSON value as Splunk shows it: strings bare, other scalars as JSON, containers as JSON text."""
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False)


def flatten(document: Any, prefix: str = "") -> Dict[str, List[str]]:
    """All leaves of a parsed JSON document as ``{path: [values]}`` in document order."""
    out: Dict[str, List[str]] = {}
    for path, value in _walk_value(document, prefix):
        out.setdefault(path, []).append(value)
    return out


def _walk_value(value: Any, path: str) -> Iterator[Tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk_value(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for item in value:
            yield from _walk_value(item, path + "{}")
    elif path:
        yield path, render(value)


def flatten_text(text: str, cutoff: int | None = None) -> Dict[str, List[str]]:
    """Flatten JSON text; with ``cutoff``, leaves that end after that many characters are dropped.

    Text that is not a JSON object or array gives no fields (as Splunk's auto-extraction); on
    malformed JSON the leaves read before the error are kept.
    """
    start = _WS.match(text).end()
    if start >= len(text) or text[start] not in "{[":
        return {}
    scanner = _Scanner(text, start, cutoff)
    try:
        scanner.value("")
    except (_Cutoff, ValueError, IndexError):
        pass
    out: Dict[str, List[str]] = {}
    for path, value in scanner.leaves:
        out.setdefault(path, []).append(value)
    return out


class _Cutoff(Exception):
    """The scan reached the extraction cutoff."""


class _Scanner:
    """A JSON reader that records each leaf with its path, so a cutoff can stop it part-way."""

    def __init__(self, text: str, pos: int, cutoff: int | None) -> None:
        self.text = text
        self.pos = pos
        self.cutoff = cutoff
        self.leaves: List[Tuple[str, str]] = []

    def _skip_space(self) -> str:
        self.pos = _WS.match(self.text, self.pos).end()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _members(self, closer: str) -> Iterator[None]:
        """Iterate over the members of an object or array; ``self.pos`` is after the opener."""
        if self._skip_space() == closer:
            self.pos += 1
            return
        while True:
            yield
            char = self._skip_space()
            self.pos += 1
            if char == closer:
                return
            if char != ",":
                raise ValueError(f"expected ',' or {closer!r} at {self.pos - 1}")

    def value(self, path: str) -> None:
        char = self._skip_space()
        if char == "{":
            self.pos += 1
            for _ in self._members("}"):
                self._skip_space()
                key, self.pos = _DECODER.raw_decode(self.text, self.pos)
                if self._skip_space() != ":":
                    raise ValueError(f"expected ':' at {self.pos}")
                self.pos += 1
                self.value(f"{path}.{key}" if path else str(key))
        elif char == "[":
            self.pos += 1
            for _ in self._members("]"):
                self.value(path + "{}")
        else:
            value, self.pos = _DECODER.raw_decode(self.text, self.pos)
            if self.cutoff is not None and self.pos > self.cutoff:
                raise _Cutoff
            if path:
                self.leaves.append((path, render(value)))


_STEP = re.compile(r"([^.{}]+)|\{(\d*)\}|\.")


def _steps(path: str) -> List[Tuple[str, Any]]:
    steps: List[Tuple[str, Any]] = []
    for match in _STEP.finditer(path):
        if match.group(1) is not None:
            steps.append(("key", match.group(1)))
        elif match.group(0).startswith("{"):
            steps.append(("index", int(match.group(2)) if match.group(2) else None))
    return steps


def extract(document: Any, path: str) -> Tuple[List[Any], bool]:
    """Nodes at ``path`` (spath syntax) and whether the path fanned out over an array.

    ``{}`` fans out over every element; a key step applied to an array fans out too, so
    ``findings.name`` on an array of findings gives every name, as spath does.
    """
    current: List[Any] = [document]
    fanned = False
    for kind, arg in _steps(path):
        following: List[Any] = []
        for node in current:
            if kind == "key":
                if isinstance(node, dict) and arg in node:
                    following.append(node[arg])
                elif isinstance(node, list):
                    fanned = True
                    following.extend(item[arg] for item in node if isinstance(item, dict) and arg in item)
            elif isinstance(node, list):
                if arg is None:
                    fanned = True
                    following.extend(node)
                elif 1 <= arg <= len(node):
                    following.append(node[arg - 1])
        current = following
    return current, fanned


def spath_values(text: str, path: str) -> List[str]:
    """spath's result for ``path`` in JSON ``text`` as a list of rendered values ([] when absent)."""
    try:
        document = json.loads(text)
    except ValueError:
        return []
    nodes, _fanned = extract(document, path)
    return [render(node) for node in nodes]
