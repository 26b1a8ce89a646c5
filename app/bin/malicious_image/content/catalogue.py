"""The ATT&CK catalogue shipped in security_content, and the order of ATT&CK tactics.

``mitre_enrichment.csv`` (``lookups/`` in 2022-23, ``app_template/lookups/`` from 2024) has the
columns mitre_id, technique, tactics (``|``-separated) and groups; it is ATT&CK v15 in the 2024
content. Tactic names are matched without regard to case (the file says "Command And
Control") and written as the tactic order file spells them.

The tactic order is data, not code: ``app/lookups/attack_tactic_order.csv`` (tactic, tactic_id,
tactic_order) ships ATT&CK v19's 15 tactics in matrix order plus Defense Evasion, which v19
split into Stealth and Defense Impairment but older content still names. A Splunk admin can
edit it; a tactic missing from it sorts after the known ones, alphabetically.
"""

from __future__ import annotations

import csv
import io
import os
import re
from typing import Dict, Iterable, List, Sequence, Tuple

from malicious_image.content.model import Group, Technique

__all__ = [
    "DEFAULT_TACTIC_ORDER_PATH",
    "CatalogueError",
    "load_tactic_ids",
    "load_tactic_order",
    "order_tactics",
    "read_catalogue",
    "read_catalogue_groups",
    "tactic_sort_key",
]

DEFAULT_TACTIC_ORDER_PATH = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
    "lookups",
    "attack_tactic_order.csv",
)
"""``app/lookups/attack_tactic_order.csv`` of the installed app."""

_TECHNIQUE_ID = re.compile(r"^T[0-9]{4}(\.[0-9]{3})?$")
_CATALOGUE_COLUMNS = ("mitre_id", "technique", "tactics")
_ORDER_COLUMNS = ("tactic", "tactic_order")
# A technique name ends up inside a quoted SPL string (the dashboard's technique drilldown);
# ATT&CK names never hold these characters, so a name that does is neutralised, not trusted.
_SPL_QUOTING = str.maketrans({'"': "'", "\\": "/", "$": "", "`": "'"})


class CatalogueError(ValueError):
    """The ATT&CK catalogue or the tactic order file cannot be read; the message says why."""


def read_catalogue(data: bytes, tactic_order: Sequence[str]) -> List[Technique]:
    """Read ``mitre_enrichment.csv`` into techniques, sorted by technique id.

    Arguments:
        data: the CSV file's bytes.
        tactic_order: tactic names in matrix order (``load_tactic_order``).

    Returns:
        One Technique per technique id (a repeated id merges its tactics); rows whose
        ``mitre_id`` is not a technique id (``Tnnnn`` or ``Tnnnn.nnn``) are skipped. In a
        technique name, ``"`` and backquotes become ``'``, ``\\`` becomes ``/`` and ``$`` is dropped (the
        name is put into SPL by the dashboard's drilldown; ATT&CK names never hold them).

    Raises:
        CatalogueError: not UTF-8, or a required column is missing.
    """
    rows = _csv_rows(data, _CATALOGUE_COLUMNS, "mitre_enrichment.csv")
    names: Dict[str, str] = {}
    tactics: Dict[str, List[str]] = {}
    for row in rows:
        technique_id = (row.get("mitre_id") or "").strip().upper()
        if not _TECHNIQUE_ID.match(technique_id):
            continue
        names.setdefault(technique_id, (row.get("technique") or "").translate(_SPL_QUOTING).strip())
        listed = tactics.setdefault(technique_id, [])
        for tactic in (row.get("tactics") or "").split("|"):
            tactic = " ".join(tactic.split())
            if tactic and tactic not in listed:
                listed.append(tactic)
    return [
        Technique(
            technique_id=technique_id,
            technique_name=names[technique_id],
            tactics=order_tactics(tactics[technique_id], tactic_order),
            parent_technique_id=technique_id.split(".")[0] if "." in technique_id else "",
        )
        for technique_id in sorted(names)
    ]


def read_catalogue_groups(data: bytes) -> List[Group]:
    """The groups of ``mitre_enrichment.csv``'s ``groups`` column (``|``-separated names; the CSV
    has no group ids), each with the technique ids of the rows naming it, sorted by name.

    Raises:
        CatalogueError: as :func:`read_catalogue`.
    """
    used: Dict[str, List[str]] = {}
    for row in _csv_rows(data, _CATALOGUE_COLUMNS, "mitre_enrichment.csv"):
        technique_id = (row.get("mitre_id") or "").strip().upper()
        if not _TECHNIQUE_ID.match(technique_id):
            continue
        for name in (row.get("groups") or "").split("|"):
            name = " ".join(name.split()).translate(_SPL_QUOTING)
            if name:
                listed = used.setdefault(name, [])
                if technique_id not in listed:
                    listed.append(technique_id)
    return [Group("", name, (), tuple(sorted(ids))) for name, ids in sorted(used.items())]


def load_tactic_ids(path: str = DEFAULT_TACTIC_ORDER_PATH) -> Dict[str, str]:
    """Tactic name -> ``TA`` id from the tactic order file (empty when it cannot be read: the
    ids are a courtesy of the CSV path, the order is what :func:`load_tactic_order` checks)."""
    try:
        with open(path, "rb") as handle:
            rows = _csv_rows(handle.read(), _ORDER_COLUMNS, os.path.basename(path))
    except (OSError, CatalogueError):
        return {}
    return {" ".join((r.get("tactic") or "").split()): (r.get("tactic_id") or "").strip() for r in rows}


def load_tactic_order(path: str = DEFAULT_TACTIC_ORDER_PATH) -> List[str]:
    """Read the tactic order file (columns tactic, tactic_id, tactic_order).

    Arguments:
        path: the CSV file; by default the app's ``lookups/attack_tactic_order.csv``.

    Returns:
        Tactic names sorted by ``tactic_order`` (ties keep file order).

    Raises:
        CatalogueError: the file is missing, unreadable, lacks a column or has a
            ``tactic_order`` that is not a whole number.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise CatalogueError(f"cannot read the tactic order file {path}: {exc.strerror}") from None
    ranked = []
    for line, row in enumerate(_csv_rows(data, _ORDER_COLUMNS, os.path.basename(path)), start=2):
        tactic = " ".join((row.get("tactic") or "").split())
        if not tactic:
            continue
        try:
            rank = int((row.get("tactic_order") or "").strip())
        except ValueError:
            raise CatalogueError(
                f"{os.path.basename(path)} line {line}: tactic_order of {tactic!r} is not a whole number"
            ) from None
        ranked.append((rank, len(ranked), tactic))
    return [tactic for _, _, tactic in sorted(ranked)]


def tactic_sort_key(tactic_order: Sequence[str]) -> _SortKey:
    """Return a sort key for tactic names: known tactics in matrix order, then others A-Z."""
    return _SortKey(tactic_order)


def order_tactics(tactics: Iterable[str], tactic_order: Sequence[str]) -> Tuple[str, ...]:
    """Sort tactic names into matrix order, spelled as in ``tactic_order``, without repeats.

    Arguments:
        tactics: tactic names as found (any case).
        tactic_order: tactic names in matrix order.

    Returns:
        The tactics, known ones first in matrix order, then unknown ones alphabetically.
    """
    key = _SortKey(tactic_order)
    spelled = {key.canonical(t) for t in tactics if t and t.strip()}
    return tuple(sorted(spelled, key=key))


class _SortKey:
    """Sort key over tactic names for one tactic order (case-insensitive)."""

    def __init__(self, tactic_order: Sequence[str]) -> None:
        self._rank: Dict[str, int] = {}
        self._spelling: Dict[str, str] = {}
        for tactic in tactic_order:
            folded = " ".join(tactic.split()).casefold()
            self._rank.setdefault(folded, len(self._rank))
            self._spelling.setdefault(folded, " ".join(tactic.split()))

    def canonical(self, tactic: str) -> str:
        """The tactic's spelling in the order file, or the name as given when unknown."""
        name = " ".join(tactic.split())
        return self._spelling.get(name.casefold(), name)

    def __call__(self, tactic: str) -> Tuple[int, str]:
        folded = " ".join(tactic.split()).casefold()
        return (self._rank.get(folded, len(self._rank)), folded)


def _csv_rows(data: bytes, required: Sequence[str], label: str) -> List[Dict[str, str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CatalogueError(f"{label} is not UTF-8 text (byte at offset {exc.start})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:  # reading the header may fail too (a cell over csv's 128 kB field limit, a NUL byte)
        header = [(name or "").strip() for name in (reader.fieldnames or [])]
        missing = [column for column in required if column not in header]
        if missing:
            found = ", ".join(header)[:200]
            raise CatalogueError(f"{label} lacks the column(s) {', '.join(missing)} (found {found})")
        reader.fieldnames = header
        return list(reader)
    except csv.Error as exc:
        raise CatalogueError(f"{label} is not valid CSV: {exc}") from None
