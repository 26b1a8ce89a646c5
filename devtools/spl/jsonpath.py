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
    for path, value, _end in _walk_value(document, prefix):
        out.setdefault(path, []).append(value)
    return out


def _walk_value(value: Any, path: str) -> Iterator[Tuple[str, str, int]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk_value(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for item in value:
            yield from _walk_value(item, path + "{}")
    elif path:
        yield path, render(value), 0


def flatten_text(text: str, cutoff: int | None = None) -> Dict[str, List[str]]:
    """Flatten JSON text; with ``cutoff``, leaves that end after that many characters are dropped.

    Text that is not a JSON object or array gives no fields (as Splunk's auto-extraction).
    """
    out: Dict[str, List[str]] = {}
    start = _WS.match(text).end()
    if start >= len(text) or text[start] not in "{[":
        return out
    try:
        for path, value, end in _scan(text, start, ""):
            if cutoff is not None and end > cutoff:
                break
            out.setdefault(path, []).append(value)
    except ValueError:
        return out  # malformed JSON: Splunk keeps what it read before the error
    return out


def _scan(text: str, pos: int, path: str) -> Iterator[Tuple[str, str, int]]:
    """Yield (path, value, end offset) for every leaf of the JSON value at ``pos``; sets _scan.end."""
    pos = _WS.match(text, pos).end()
    char = text[pos] if pos < len(text) else ""
    if char == "{":
        pos += 1
        pos = _WS.match(text, pos).end()
        if text.startswith("}", pos):
            _scan.end = pos + 1  # type: ignore[attr-defined]
            return
        while True:
            key, pos = _DECODER.raw_decode(text, _WS.match(text, pos).end())
            pos = _WS.match(text, pos).end()
            if not text.startswith(":", pos):
                raise ValueError("expected ':'")
            yield from _scan(text, pos + 1, f"{path}.{key}" if path else str(key))
            pos = _WS.match(text, _scan.end).end()  # type: ignore[attr-defined]
            if text.startswith(",", pos):
                pos += 1
                continue
            if text.startswith("}", pos):
                _scan.end = pos + 1  # type: ignore[attr-defined]
                return
            raise ValueError("expected ',' or '}'")
    if char == "[":
        pos += 1
        pos = _WS.match(text, pos).end()
        if text.startswith("]", pos):
            _scan.end = pos + 1  # type: ignore[attr-defined]
            return
        while True:
            yield from _scan(text, pos, path + "{}")
            pos = _WS.match(text, _scan.end).end()  # type: ignore[attr-defined]
            if text.startswith(",", pos):
                pos += 1
                continue
            if text.startswith("]", pos):
                _scan.end = pos + 1  # type: ignore[attr-defined]
                return
            raise ValueError("expected ',' or ']'")
    value, end = _DECODER.raw_decode(text, pos)
    _scan.end = end  # type: ignore[attr-defined]
    if path:
        yield path, render(value), end


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
