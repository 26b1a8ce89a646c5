"""One safe way to load a security_content YAML file: ``load_yaml(data)``.

security_content YAML is plain data: mappings, sequences and scalars. It never uses anchors,
aliases or tags, so this loader refuses anchors and aliases altogether (an alias bomb cannot get
through) and refuses nesting deeper than ``MAX_DEPTH`` levels. Bytes that are not UTF-8 are
refused with the offset of the first bad byte, and a file over ``MAX_BYTES`` is not parsed at
all (the largest security_content YAML file is 73 kB).

Two back-ends give the same result:

* libyaml (``yaml.CSafeLoader``) when PyYAML was built with it: about eight times faster. The C
  parser cannot be hooked per node, so a cheap byte scan looks for anything that could be an
  anchor or alias (``&x`` / ``*x`` after white space or a flow indicator) or deep nesting (more
  than ``MAX_DEPTH`` brackets); only a file that matches (about one in fourteen: SPL and Markdown
  use ``*``) is re-read event by event to decide exactly. Block nesting (by indentation) is
  bounded by libyaml itself, which stops at 1,000 levels; PyYAML builds such a document
  without recursion, so that is safe too.
* the pure-Python ``yaml.SafeLoader`` (what runs inside Splunk, which ships no compiled
  modules): its composer is subclassed to refuse anchors, aliases and deep nesting as it goes.

``use_libyaml(False)`` (or the environment variable ``MALICIOUS_IMAGE_YAML=pure``) forces the
pure-Python loader, e.g. for benchmarks.
"""

from __future__ import annotations

import os
import re
from typing import Any, ClassVar, Dict, Tuple

import yaml

__all__ = ["MAX_BYTES", "MAX_DEPTH", "YamlError", "libyaml_in_use", "load_yaml", "use_libyaml"]

MAX_BYTES = 2 * 1024 * 1024
"""Largest YAML file parsed (the pure-Python loader needs about a second a megabyte)."""

MAX_DEPTH = 32
"""Deepest nesting of mappings and sequences accepted (security_content uses at most 5)."""

# "&x" or "*x" after white space or a flow indicator. Written as "find & or *, then look
# behind" because the regex engine scans for one of two characters far faster than for a pair.
_SUSPECT = re.compile(rb"[&*](?<=[\s\[{,][&*])[^\s\[\]{},]")


class YamlError(ValueError):
    """The bytes are not a YAML document this reader accepts; the message says why."""


class _GuardedComposer:
    """Mix-in for a PyYAML loader: refuse anchors, aliases and deep nesting while composing."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[attr-defined]
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise YamlError(_position("anchors and aliases are not allowed", event))
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise YamlError(_position(f"nesting deeper than {MAX_DEPTH} levels", event))
            return super().compose_node(parent, index)  # type: ignore[misc]
        finally:
            self._depth -= 1


_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_SCALAR_TAGS = frozenset(
    "tag:yaml.org,2002:" + name for name in ("null", "bool", "int", "float", "timestamp", "binary")
)
_ScalarNode, _MappingNode, _SequenceNode = yaml.ScalarNode, yaml.MappingNode, yaml.SequenceNode


class _Fallback(Exception):
    """The fast constructor met something it leaves to PyYAML's own (merge keys, other tags...)."""


class _FastConstructor:
    """Mix-in for a PyYAML safe loader: the same documents, built faster.

    PyYAML resolves and constructs every node through several Python calls (``resolve``,
    ``construct_object``, ``construct_mapping``...); for the plain data security_content holds
    (mappings, sequences, strings and the implicit scalars) this does the same in one tight
    function. ``resolve`` is SafeLoader's with the per-call lookups hoisted (no path resolvers
    are registered, so ``descend_resolver`` and ``ascend_resolver`` do nothing). Anything else
    (merge keys, ``=`` keys, non-scalar keys, explicit tags such as ``!!set``, nesting deeper
    than ``MAX_DEPTH``) makes the whole document go through PyYAML's constructor, so the result
    (or the error) is exactly SafeLoader's.
    """

    _implicit: ClassVar[Dict[Any, Tuple[Any, ...]]] = {
        first: tuple(resolvers) + tuple(yaml.SafeLoader.yaml_implicit_resolvers.get(None, ()))
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
        if first is not None
    }
    _wildcard = tuple(yaml.SafeLoader.yaml_implicit_resolvers.get(None, ()))

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is _ScalarNode:
            if implicit[0]:
                for tag, regexp in self._implicit.get(value[0] if value else "", self._wildcard):
                    if regexp.match(value):
                        return tag
            return _STR_TAG
        if kind is _MappingNode:
            return _MAP_TAG
        return _SEQ_TAG

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        """No path resolvers are registered: nothing to track (called once a node)."""

    def ascend_resolver(self) -> None:
        """No path resolvers are registered: nothing to track (called once a node)."""

    def get_single_data(self) -> Any:
        node = self.get_single_node()  # type: ignore[attr-defined]
        if node is None:
            return None
        try:
            return self._build(node, 0)
        except _Fallback:
            return self.construct_document(node)  # type: ignore[attr-defined]

    def _build(self, node: Any, depth: int) -> Any:
        kind, tag = type(node), node.tag
        if kind is _ScalarNode:
            if tag == _STR_TAG:
                return node.value
            if tag in _SCALAR_TAGS:
                return self.yaml_constructors[tag](self, node)  # type: ignore[attr-defined]
            raise _Fallback
        if depth >= MAX_DEPTH:
            raise _Fallback
        if kind is _MappingNode and tag == _MAP_TAG:
            data = {}
            for key_node, value_node in node.value:
                if type(key_node) is not _ScalarNode:
                    raise _Fallback
                key_tag = key_node.tag
                if key_tag == _STR_TAG:
                    key = key_node.value
                elif key_tag in _SCALAR_TAGS:
                    key = self.yaml_constructors[key_tag](self, key_node)  # type: ignore[attr-defined]
                else:
                    raise _Fallback  # merge (<<) and value (=) keys, explicit tags
                value_kind = type(value_node)
                if value_kind is _ScalarNode and value_node.tag == _STR_TAG:
                    data[key] = value_node.value
                else:
                    data[key] = self._build(value_node, depth + 1)
            return data
        if kind is _SequenceNode and tag == _SEQ_TAG:
            return [
                item.value if type(item) is _ScalarNode and item.tag == _STR_TAG else self._build(item, depth + 1)
                for item in node.value
            ]
        raise _Fallback


class _PureLoader(_GuardedComposer, _FastConstructor, yaml.SafeLoader):
    """Pure-Python safe loader with the guards above."""


_CBase = getattr(yaml, "CSafeLoader", None)
_CLoader = type("_FastCSafeLoader", (_FastConstructor, _CBase), {}) if _CBase is not None else None
_prefer_libyaml = _CLoader is not None and os.environ.get("MALICIOUS_IMAGE_YAML", "") != "pure"


def use_libyaml(enabled: bool) -> bool:
    """Choose the libyaml back-end (when PyYAML has it) or the pure-Python one.

    Arguments:
        enabled: True to use libyaml when available, False to force the pure-Python loader.

    Returns:
        True when libyaml is now in use.
    """
    global _prefer_libyaml
    _prefer_libyaml = bool(enabled) and _CLoader is not None
    return _prefer_libyaml


def libyaml_in_use() -> bool:
    """Return True when ``load_yaml`` parses with libyaml."""
    return _prefer_libyaml


def load_yaml(data: bytes) -> Any:
    """Parse one YAML document from UTF-8 bytes.

    Arguments:
        data: the file's bytes.

    Returns:
        The document (dict, list, str, int, ...; None for an empty file).

    Raises:
        YamlError: larger than ``MAX_BYTES``, not UTF-8, not valid YAML, more than one
            document, anchors or aliases, or nesting deeper than ``MAX_DEPTH``.
    """
    if len(data) > MAX_BYTES:
        raise YamlError(f"file of {len(data):,} bytes is larger than the {MAX_BYTES:,} bytes accepted")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlError(f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None
    try:
        if _prefer_libyaml:
            if _needs_event_check(data):
                _check_events(text)
            return yaml.load(text, Loader=_CLoader)  # noqa: S506 (CSafeLoader is the safe loader)
        return yaml.load(text, Loader=_PureLoader)  # noqa: S506 (a SafeLoader subclass)
    except YamlError:
        raise
    except yaml.YAMLError as exc:
        raise YamlError(f"not valid YAML: {_one_line(exc)}") from None
    except RecursionError:
        raise YamlError(f"nesting deeper than {MAX_DEPTH} levels") from None


def _needs_event_check(data: bytes) -> bool:
    """Cheap scan for the libyaml path: could these bytes hold an anchor, an alias or deep nesting?

    Never answers False for a document that has one (a property test holds it to that); answers
    True for about one security_content file in fourteen, which then gets the exact check.
    """
    return (
        data[:1] in (b"&", b"*")
        or data.count(b"[") + data.count(b"{") > MAX_DEPTH
        or _SUSPECT.search(data) is not None
    )


def _check_events(text: str) -> None:
    """Exact check for the libyaml path: no anchor, no alias, nesting within MAX_DEPTH."""
    depth = 0
    for event in yaml.parse(text, Loader=_CLoader or yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise YamlError(_position("anchors and aliases are not allowed", event))
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise YamlError(_position(f"nesting deeper than {MAX_DEPTH} levels", event))
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def _position(what: str, event: Any) -> str:
    mark = getattr(event, "start_mark", None)
    if mark is None:
        return what
    return f"{what} (line {mark.line + 1}, column {mark.column + 1})"


def _one_line(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if problem and mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return " ".join(str(exc).split())
