"""MITRE ATT&CK as MITRE publishes it: a STIX 2.1 bundle of ``mitre-attack/attack-stix-data``.

Like ``catalogue.py`` (the content's CSV), this module turns bytes into the canonical model and
never downloads anything. The data model followed is ``attack-stix-data/USAGE.md`` and the ATT&CK
specification it points to (REFERENCE.md section 3):

- ``attack-pattern``: a technique or sub-technique (ATT&CK id in ``external_references`` with a
  ``mitre-*`` ``source_name``); its tactics are ``kill_chain_phases[].phase_name`` (the tactic's
  ``x_mitre_shortname``); ``x_mitre_is_subtechnique`` plus a ``subtechnique-of`` relationship give
  the parent; ``revoked: true`` plus a ``revoked-by`` relationship give the successor;
  ``x_mitre_deprecated: true`` marks a retired one. Revoked and deprecated techniques are kept,
  flagged.
- ``x-mitre-tactic`` (name, ``TA`` id, shortname) in the order of the ``tactic_refs`` of the
  bundle's current (neither revoked nor deprecated) ``x-mitre-matrix`` objects.
- ``intrusion-set``: a group, with the techniques of its ``uses`` relationships to
  ``attack-pattern`` objects plus those of the campaigns ``attributed-to`` it (as ATT&CK's group
  pages, USAGE.md's ``techniques_used_by_groups`` and ``mitreattack-python`` count them);
  revoked or deprecated groups and relationships are left out.
- ``x-mitre-collection``: the release (``x_mitre_version``); the matrix's ``external_id`` names
  the domain (``enterprise-attack``, ``mobile-attack``, ``ics-attack``).

The bundle is read as a stream: :func:`iter_objects` scans the top-level JSON object and decodes
the ``objects`` array one element at a time with :meth:`json.JSONDecoder.raw_decode` over a
sliding text buffer, so memory holds one chunk, one object and the small records kept from the
objects seen (an Enterprise bundle of about 45 MB is read in well under 100 MB of peak RSS:
``benchmarks/bench_stix.py``). ``raw_decode`` is the standard library's C scanner: no third-party
parser is needed (ijson's pure-Python backend was the alternative; it is several times slower).
"""

from __future__ import annotations

import codecs
import io
import json
import re
from dataclasses import dataclass
from typing import IO, Any, Dict, Iterator, List, Mapping, Sequence, Set, Tuple, Union

from malicious_image.content.model import Group, Tactic, Technique

__all__ = ["AttackCatalogue", "StixError", "iter_objects", "read_bundle"]

CHUNK_CHARS = 1 << 20
MAX_OBJECT_CHARS = 64 << 20
"""One STIX object larger than this is refused (the largest real one, an Enterprise
``x-mitre-collection`` listing every object, is about 2 MB)."""

_TECHNIQUE_ID = re.compile(r"^T[0-9]{4}(\.[0-9]{3})?$")
_TACTIC_ID = re.compile(r"^TA[0-9]{4}$")
_GROUP_ID = re.compile(r"^G[0-9]{4}$")
_WHITESPACE = " \t\n\r"
# A name ends up inside a quoted SPL string (dashboard drilldowns); ATT&CK names never hold these.
_SPL_QUOTING = str.maketrans({'"': "'", "\\": "/", "$": "", "`": "'"})
_DECODER = json.JSONDecoder()
_SLACK = 16  # characters: how near the end of the buffer a parse error may be a cut object


class StixError(ValueError):
    """The bundle cannot be read; the message names the STIX object (index and id) at fault."""


@dataclass(frozen=True)
class AttackCatalogue:
    """One ATT&CK domain at one release, in the canonical model.

    ``techniques`` are sorted by id (revoked and deprecated ones included, flagged),
    ``tactics`` are in matrix order, ``groups`` sorted by id then name. ``source`` says where it
    came from: ``github``, a local path, or ``security_content`` (the content's CSV, no release).
    """

    domain: str
    version: str
    techniques: Tuple[Technique, ...]
    tactics: Tuple[Tactic, ...]
    groups: Tuple[Group, ...]
    modified: str = ""
    source: str = ""

    def figures(self) -> Dict[str, int]:
        """Counts for reports: techniques, subtechniques, revoked, deprecated, groups, tactics."""
        return {
            "techniques": sum(1 for t in self.techniques if not t.is_subtechnique),
            "subtechniques": sum(1 for t in self.techniques if t.is_subtechnique),
            "revoked": sum(1 for t in self.techniques if t.revoked),
            "deprecated": sum(1 for t in self.techniques if t.deprecated),
            "groups": len(self.groups),
            "tactics": len(self.tactics),
        }


# -- streaming ----------------------------------------------------------------------------------
class _Scanner:
    """A sliding text buffer over a binary stream, decoded as UTF-8 incrementally."""

    def __init__(self, stream: IO[bytes], chunk_chars: int, max_object_chars: int) -> None:
        self.stream = stream
        self.chunk = chunk_chars
        self.max_object = max_object_chars
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.buf = ""
        self.pos = 0
        self.consumed = 0  # characters dropped from the front of buf
        self.eof = False
        self.first = True

    def more(self) -> bool:
        """Append the next chunk; False at the end of the stream."""
        if self.eof:
            return False
        raw = self.stream.read(self.chunk)
        try:
            text = self.decoder.decode(raw or b"", final=not raw)
        except UnicodeDecodeError as exc:
            raise StixError(
                f"the bundle is not UTF-8 text (near character {self.consumed + len(self.buf)}: {exc.reason})"
            ) from None
        if self.first:
            text = text.lstrip("\ufeff")
            self.first = False
        if self.pos:
            self.consumed += self.pos
            self.buf = self.buf[self.pos :]
            self.pos = 0
        self.buf += text
        if not raw:
            self.eof = True
        return bool(raw) or bool(text)

    def peek(self) -> str:
        """The next character that is not whitespace ('' at the end), not consumed."""
        while True:
            buf, pos = self.buf, self.pos
            while pos < len(buf) and buf[pos] in _WHITESPACE:
                pos += 1
            self.pos = pos
            if pos < len(buf):
                return buf[pos]
            if not self.more():
                return ""

    def expect(self, char: str, where: str) -> None:
        found = self.peek()
        if found != char:
            raise StixError(
                f"{where}: expected {char!r}, found {found or 'the end of the file'!r} at character {self.where()}"
            )
        self.pos += 1

    def where(self) -> int:
        return self.consumed + self.pos

    def value(self, where: str) -> Any:
        """Decode one JSON value at the cursor, reading more of the stream as needed."""
        self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                # An error well before the end of the buffer is in the data, not a cut object:
                # fail now rather than buffer the rest of the file (an unterminated string is
                # reported where it starts, so it may still be a cut one).
                inside = exc.pos < len(self.buf) - _SLACK and not exc.msg.startswith("Unterminated string")
                if self.eof or inside:
                    raise StixError(
                        f"{where}: invalid JSON at character {self.consumed + exc.pos}: {exc.msg}"
                    ) from None
                if len(self.buf) - self.pos > self.max_object:
                    raise StixError(
                        f"{where}: larger than {self.max_object} characters or invalid JSON ({exc.msg})"
                    ) from None
                self.more()
                continue
            if end == len(self.buf) and not self.eof and not isinstance(value, (dict, list, str)):
                self.more()  # a number or literal may continue in the next chunk
                continue
            self.pos = end
            return value


def iter_objects(
    data: Union[bytes, IO[bytes]], *, chunk_chars: int = CHUNK_CHARS, max_object_chars: int = MAX_OBJECT_CHARS
) -> Iterator[Dict[str, Any]]:
    """Yield the objects of a STIX bundle one by one, without reading the whole file into memory.

    Arguments:
        data: the bundle's bytes, or a binary stream (a file, an HTTP response's raw stream).
        chunk_chars: bytes read at a time.
        max_object_chars: refuse one object larger than this.

    Raises:
        StixError: not UTF-8, not JSON, not a ``bundle`` with an ``objects`` array, or an
            element of ``objects`` that is not an object with a string ``type`` and ``id``.
    """
    stream = io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
    scan = _Scanner(stream, chunk_chars, max_object_chars)
    if scan.peek() != "{":
        raise StixError("the bundle is not a JSON object (a STIX bundle starts with '{')")
    scan.pos += 1
    seen_objects = False
    kind: Any = None
    while True:
        if scan.peek() == "}":
            scan.pos += 1
            break
        key = scan.value("the bundle")
        if not isinstance(key, str):
            raise StixError(f"the bundle: expected a key at character {scan.where()}")
        scan.expect(":", f"the bundle key {key!r}")
        if key == "objects":
            if seen_objects:
                raise StixError("the bundle has two 'objects' arrays")
            seen_objects = True
            yield from _array(scan)
        else:
            value = scan.value(f"the bundle key {key!r}")
            if key == "type":
                kind = value
        following = scan.peek()
        if following == ",":
            scan.pos += 1
        elif following != "}":
            raise StixError(f"the bundle: expected ',' or '}}' at character {scan.where()}")
    if scan.peek():
        raise StixError(f"the bundle: data after the end of the JSON object at character {scan.where()}")
    if kind != "bundle":
        raise StixError(f"the file is not a STIX bundle (type {kind!r}, expected 'bundle')")
    if not seen_objects:
        raise StixError("the bundle has no 'objects' array")


def _array(scan: _Scanner) -> Iterator[Dict[str, Any]]:
    scan.expect("[", "the bundle's 'objects'")
    index = 0
    if scan.peek() == "]":
        scan.pos += 1
        return
    while True:
        label = f"object {index} of 'objects'"
        obj = scan.value(label)
        if not isinstance(obj, dict) or not isinstance(obj.get("type"), str) or not isinstance(obj.get("id"), str):
            raise StixError(f"{label}: a STIX object must be a JSON object with a string 'type' and 'id'")
        yield obj
        index += 1
        following = scan.peek()
        scan.pos += 1
        if following == "]":
            return
        if following != ",":
            raise StixError(
                f"{label} ({obj['id']}): expected ',' or ']' after it, found {following or 'the end of the file'!r}"
            )


# -- the catalogue ------------------------------------------------------------------------------
@dataclass
class _Pattern:
    stix_id: str
    attack_id: str
    name: str
    phases: Tuple[str, ...]
    is_sub: bool
    platforms: Tuple[str, ...]
    deprecated: bool
    revoked: bool
    url: str
    modified: str


@dataclass
class _Collected:
    patterns: Dict[str, _Pattern]
    tactics: Dict[str, Tuple[str, str, str, bool]]  # stix id -> (name, TA id, shortname, retired)
    matrices: List[Tuple[bool, List[str], str]]  # (current, tactic_refs, external_id)
    groups: Dict[str, Tuple[str, str, Tuple[str, ...], str]]  # stix id -> (G id, name, aliases, url)
    revoked_by: Dict[str, List[str]]
    parent_of: Dict[str, str]
    uses: Dict[str, Set[str]]
    attributed: Dict[str, Set[str]]  # campaign -> groups it is attributed to
    version: str = ""
    modified: str = ""
    collections: int = 0


def read_bundle(data: Union[bytes, IO[bytes]], *, source: str = "", chunk_chars: int = CHUNK_CHARS) -> AttackCatalogue:
    """Read one ATT&CK STIX 2.1 bundle into an :class:`AttackCatalogue`.

    Arguments:
        data: the bundle (bytes or a binary stream; read once, as a stream).
        source: recorded as the catalogue's ``source``.
        chunk_chars: bytes read at a time.

    Raises:
        StixError: the bundle is malformed, has no ``x-mitre-collection`` (no release),
            no ``x-mitre-matrix``, or an ATT&CK object whose fields have the wrong type;
            the message names the object.
    """
    got = _Collected({}, {}, [], {}, {}, {}, {}, {})
    for index, obj in enumerate(iter_objects(data, chunk_chars=chunk_chars)):
        try:
            _take(obj, got)
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            if isinstance(exc, StixError):
                raise StixError(f"object {index} ({obj['id']}): {exc}") from None
            raise StixError(
                f"object {index} ({obj['id']}): malformed {obj['type']} ({type(exc).__name__}: {exc})"
            ) from None
    if not got.collections:
        raise StixError("the bundle has no x-mitre-collection object, so its ATT&CK release is unknown")
    return _build(got, source)


def _flag(obj: Mapping[str, Any], key: str) -> bool:
    value = obj.get(key, False)
    if not isinstance(value, bool):
        raise StixError(f"{key} is {type(value).__name__}, expected true or false")
    return value


def _text(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key, "")
    if not isinstance(value, str):
        raise StixError(f"{key} is {type(value).__name__}, expected a string")
    return value


def _strings(obj: Mapping[str, Any], key: str) -> Tuple[str, ...]:
    value = obj.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise StixError(f"{key} is not a list of strings")
    return tuple(value)


def _attack_ref(obj: Mapping[str, Any], pattern: re.Pattern[str]) -> Tuple[str, str]:
    """(ATT&CK id, url) from the ``mitre-*`` external reference, ('', '') when there is none."""
    refs = obj.get("external_references") or []
    if not isinstance(refs, list):
        raise StixError("external_references is not a list")
    for ref in refs:
        if not isinstance(ref, dict):
            raise StixError("an external_references entry is not an object")
        name, external = ref.get("source_name"), ref.get("external_id")
        if (
            isinstance(name, str)
            and name.startswith("mitre-")
            and isinstance(external, str)
            and pattern.match(external)
        ):
            url = ref.get("url")
            return external, url if isinstance(url, str) else ""
    return "", ""


def _take(obj: Dict[str, Any], got: _Collected) -> None:
    kind, stix_id = obj["type"], obj["id"]
    retired = _flag(obj, "revoked") or _flag(obj, "x_mitre_deprecated")
    if kind == "attack-pattern":
        attack_id, url = _attack_ref(obj, _TECHNIQUE_ID)
        if not attack_id:
            return
        phases = obj.get("kill_chain_phases") or []
        if not isinstance(phases, list) or not all(isinstance(p, dict) for p in phases):
            raise StixError("kill_chain_phases is not a list of objects")
        shortnames = tuple(
            p["phase_name"] for p in phases
            if isinstance(p.get("phase_name"), str) and str(p.get("kill_chain_name", "")).startswith("mitre-")
        )  # fmt: skip
        got.patterns[stix_id] = _Pattern(
            stix_id, attack_id, _text(obj, "name").translate(_SPL_QUOTING).strip(), shortnames,
            _flag(obj, "x_mitre_is_subtechnique"), _strings(obj, "x_mitre_platforms"),
            _flag(obj, "x_mitre_deprecated"), _flag(obj, "revoked"), url, _text(obj, "modified"),
        )  # fmt: skip
    elif kind == "x-mitre-tactic":
        tactic_id, _ = _attack_ref(obj, _TACTIC_ID)
        got.tactics[stix_id] = (
            " ".join(_text(obj, "name").split()),
            tactic_id,
            _text(obj, "x_mitre_shortname"),
            retired,
        )
    elif kind == "x-mitre-matrix":
        external, _ = _attack_ref(obj, re.compile(r".+"))
        got.matrices.append((not retired, list(_strings(obj, "tactic_refs")), external))
    elif kind == "intrusion-set":
        if retired:
            return
        group_id, url = _attack_ref(obj, _GROUP_ID)
        name = _text(obj, "name").translate(_SPL_QUOTING).strip()
        aliases = tuple(a.translate(_SPL_QUOTING).strip() for a in _strings(obj, "aliases") if a.strip() != name)
        got.groups[stix_id] = (group_id, name, aliases, url)
    elif kind == "relationship":
        if retired:
            return
        rel, src, dst = _text(obj, "relationship_type"), _text(obj, "source_ref"), _text(obj, "target_ref")
        if rel == "revoked-by":
            got.revoked_by.setdefault(src, []).append(dst)
        elif rel == "subtechnique-of":
            got.parent_of[src] = dst
        elif rel == "uses" and src.startswith(("intrusion-set--", "campaign--")) and dst.startswith("attack-pattern--"):
            got.uses.setdefault(src, set()).add(dst)
        elif rel == "attributed-to" and src.startswith("campaign--") and dst.startswith("intrusion-set--"):
            got.attributed.setdefault(src, set()).add(dst)
    elif kind == "x-mitre-collection":
        got.collections += 1
        got.version = _text(obj, "x_mitre_version")
        got.modified = _text(obj, "modified")


def _build(got: _Collected, source: str) -> AttackCatalogue:
    current = [m for m in got.matrices if m[0]] or got.matrices
    if not current:
        raise StixError("the bundle has no x-mitre-matrix object, so the tactic order is unknown")
    domain = next((m[2] for m in current if m[2]), "")
    order: List[str] = []
    for _, refs, _ in current:
        order.extend(r for r in refs if r not in order)
    tactics: List[Tactic] = []
    by_shortname: Dict[str, Tuple[int, str]] = {}
    for ref in order:
        if ref not in got.tactics:
            raise StixError(f"the matrix names tactic {ref}, which is not in the bundle")
        name, tactic_id, shortname, _ = got.tactics[ref]
        tactics.append(Tactic(name, tactic_id, shortname, len(tactics) + 1))
        by_shortname.setdefault(shortname, (len(by_shortname), name))
    chosen: Dict[str, _Pattern] = {}
    for pattern in got.patterns.values():  # one object per ATT&CK id: the current one, then the newest
        held = chosen.get(pattern.attack_id)
        if held is None or _preference(pattern) > _preference(held):
            chosen[pattern.attack_id] = pattern
    named = {shortname: name for name, _, shortname, _ in got.tactics.values()}  # tactics off the matrix too
    techniques = [_technique(p, got, by_shortname, named) for p in chosen.values()]
    techniques.sort(key=lambda t: t.technique_id)
    via_campaigns: Dict[str, Set[str]] = {}
    for campaign, attributed in got.attributed.items():
        for group in attributed:
            via_campaigns.setdefault(group, set()).update(got.uses.get(campaign, ()))
    groups = []
    for stix_id, (group_id, name, aliases, url) in got.groups.items():
        refs = got.uses.get(stix_id, set()) | via_campaigns.get(stix_id, set())
        used = sorted({got.patterns[t].attack_id for t in refs if t in got.patterns})
        groups.append(Group(group_id, name, aliases, tuple(used), url, got.version))
    groups.sort(key=lambda g: (g.group_id, g.group_name))
    return AttackCatalogue(domain, got.version, tuple(techniques), tuple(tactics), tuple(groups), got.modified, source)


def _preference(pattern: _Pattern) -> Tuple[bool, str]:
    return (not (pattern.revoked or pattern.deprecated), pattern.modified)


def _technique(
    pattern: _Pattern, got: _Collected, by_shortname: Mapping[str, Tuple[int, str]], named: Mapping[str, str]
) -> Technique:
    """Tactics in matrix order; a tactic of a retired matrix only (Mobile's "Remote Service
    Effects") keeps its name and sorts after the matrix's, alphabetically."""
    known = [by_shortname[s] for s in dict.fromkeys(pattern.phases) if s in by_shortname]
    unknown = sorted(named.get(s, s) for s in dict.fromkeys(pattern.phases) if s not in by_shortname)
    tactics = tuple(name for _, name in sorted(known)) + tuple(unknown)
    parent = ""
    if pattern.is_sub:
        parent_ref = got.parent_of.get(pattern.stix_id)
        parent = got.patterns[parent_ref].attack_id if parent_ref in got.patterns else pattern.attack_id.split(".")[0]
    return Technique(
        technique_id=pattern.attack_id,
        technique_name=pattern.name,
        tactics=tactics,
        parent_technique_id=parent,
        platforms=pattern.platforms,
        deprecated=pattern.deprecated,
        revoked=pattern.revoked,
        revoked_by=_successor(pattern, got) if pattern.revoked else "",
        url=pattern.url,
        attack_version=got.version,
    )


def _successor(pattern: _Pattern, got: _Collected) -> str:
    """The ATT&CK id at the end of the ``revoked-by`` chain ('' for a loop or a dead end)."""
    seen = {pattern.stix_id}
    here: _Pattern | None = pattern
    while here is not None and here.revoked:
        targets = sorted(
            (got.patterns[t] for t in got.revoked_by.get(here.stix_id, ()) if t in got.patterns),
            key=lambda p: (p.revoked, p.attack_id),
        )  # fmt: skip
        if not targets or targets[0].stix_id in seen:
            return ""
        here = targets[0]
        seen.add(here.stix_id)
    return here.attack_id if here is not None else ""


def catalogue_figures(catalogues: Sequence[AttackCatalogue]) -> List[Dict[str, Any]]:
    """Figures of several catalogues, for reports and the benchmark."""
    return [{"domain": c.domain, "version": c.version, **c.figures()} for c in catalogues]
