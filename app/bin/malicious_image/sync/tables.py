"""Rows of every lookup table, built from canonical records (docs/ARCHITECTURE.md, lookup contract).

``build_tables`` is a pure function: the same records, catalogue, tactic order and commit give
the same rows in the same order, so a writer can compare generations and a test can compare
files. Multivalue fields are Python lists (arrays in the KV store; the CSV writer joins them
with newlines). Every row carries ``source_commit``: the commit given here, whatever the record
says, so a cached record from an earlier commit is stamped with the commit being synced.

Detection ids are not unique in every snapshot (the 2022 content has one id in two files), so
no table here is keyed by id: both rows are kept; ``duplicate_detection_ids`` lists them for
the status event. ``source_path`` is unique per table.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Sequence

from malicious_image.content.catalogue import order_tactics, tactic_sort_key
from malicious_image.content.model import Detection, Macro, Record, Story, Technique

__all__ = ["TABLES", "TABLE_NAMES", "build_tables", "duplicate_detection_ids"]

# The one list of the synced tables: the KV store writer, the CSV writer and the conf checks use it.
TABLE_NAMES = ("detections", "techniques", "tactics", "stories", "macros")
TABLES = TABLE_NAMES  # the older name
"""Table names; KV store collection and lookup definition ``malicious_image_<table>``."""


def build_tables(
    records: Iterable[Record],
    techniques: Sequence[Technique],
    tactic_order: Sequence[str],
    commit: str,
) -> Dict[str, List[Dict[str, Any]]]:
    """Build the rows of every table.

    Arguments:
        records: canonical records from ``reader.read_member`` (lookups and data sources are
            read but have no table of their own; they are ignored here).
        techniques: the ATT&CK catalogue (``reader.read_catalogue``).
        tactic_order: tactic names in matrix order (``catalogue.load_tactic_order``).
        commit: the commit being synced; stamped on every row as ``source_commit``.

    Returns:
        ``{"detections": [...], "techniques": [...], "tactics": [...], "stories": [...],
        "macros": [...]}``; detections sorted by name then id then path, techniques by id,
        tactics in matrix order, stories by name then id, macros by name then path.
    """
    detections: List[Detection] = []
    stories: List[Story] = []
    macros: List[Macro] = []
    for record in records:
        if isinstance(record, Detection):
            detections.append(record)
        elif isinstance(record, Story):
            stories.append(record)
        elif isinstance(record, Macro):
            macros.append(record)
    detections.sort(key=lambda d: (d.name.casefold(), d.name, d.id, d.source_path, d.era, d.version, d.date))
    stories.sort(key=lambda s: (s.name.casefold(), s.name, s.id, s.source_path, s.version, s.date))
    macros.sort(key=lambda m: (m.name, m.source_path, m.definition))
    ordered = sorted(techniques, key=lambda t: t.technique_id)
    tables = {
        "detections": [_stamp(d.to_row(), commit) for d in detections],
        "techniques": [_technique_row(t, tactic_order, commit) for t in ordered],
        "tactics": _tactic_rows(ordered, tactic_order, commit),
        "stories": [_stamp(s.to_row(), commit) for s in stories],
        "macros": [_stamp(m.to_row(), commit) for m in macros],
    }
    return tables


def duplicate_detection_ids(records: Iterable[Record]) -> Dict[str, List[str]]:
    """Detection ids used by more than one file: ``{id: [source_path, ...]}``, paths sorted."""
    paths: Dict[str, List[str]] = {}
    for record in records:
        if isinstance(record, Detection):
            paths.setdefault(record.id, []).append(record.source_path)
    return {key: sorted(found) for key, found in sorted(paths.items()) if len(found) > 1}


def _stamp(row: Dict[str, Any], commit: str) -> Dict[str, Any]:
    row["source_commit"] = commit
    return row


def _technique_row(technique: Technique, tactic_order: Sequence[str], commit: str) -> Dict[str, Any]:
    row = technique.to_row(commit)
    row["tactics"] = list(order_tactics(technique.tactics, tactic_order))
    return row


def _tactic_rows(
    techniques: Sequence[Technique], tactic_order: Sequence[str], commit: str
) -> List[Dict[str, Any]]:
    counts: Dict[str, int] = {}
    for technique in techniques:
        for tactic in order_tactics(technique.tactics, tactic_order):
            counts[tactic] = counts.get(tactic, 0) + 1
    present = sorted(counts, key=tactic_sort_key(tactic_order))
    return [
        {"tactic": tactic, "tactic_order": rank, "technique_count": counts[tactic], "source_commit": commit}
        for rank, tactic in enumerate(present, start=1)
    ]
