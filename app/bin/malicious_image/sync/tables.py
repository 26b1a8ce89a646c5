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
from malicious_image.content.model import DataSource, Detection, Macro, Record, Story, Technique

__all__ = ["TABLES", "TABLE_NAMES", "build_tables", "cloudtrail_event_name", "duplicate_detection_ids"]

TABLE_NAMES = ("detections", "techniques", "tactics", "stories", "macros", "data_sources")
"""Table names; KV store collections ``malicious_image_<table>_a/_b``, lookup definition
``malicious_image_<table>``, offline file ``<table>.csv``. The one list: the KV store writer and
the conf checks derive from it."""
DATA_SOURCE_FIELDS = ("name", "sourcetype", "source", "supported_ta", "event_name", "source_path", "source_commit")
TABLES = TABLE_NAMES  # the name used before the contract named it TABLE_NAMES

CLOUDTRAIL_SOURCETYPE = "aws:cloudtrail"
_CLOUDTRAIL_WORD = "CloudTrail "


def build_tables(
    records: Iterable[Record],
    techniques: Sequence[Technique],
    tactic_order: Sequence[str],
    commit: str,
) -> Dict[str, List[Dict[str, Any]]]:
    """Build the rows of every table.

    Arguments:
        records: canonical records from ``reader.read_member`` (lookups are read but have no
            table of their own; they are ignored here).
        techniques: the ATT&CK catalogue (``reader.read_catalogue``).
        tactic_order: tactic names in matrix order (``catalogue.load_tactic_order``).
        commit: the commit being synced; stamped on every row as ``source_commit``.

    Returns:
        ``{"detections": [...], "techniques": [...], "tactics": [...], "stories": [...],
        "macros": [...], "data_sources": [...]}``; detections sorted by name then id then path,
        techniques by id, tactics in matrix order, stories by name then id, macros and data
        sources by name then path.
    """
    detections: List[Detection] = []
    stories: List[Story] = []
    macros: List[Macro] = []
    data_sources: List[DataSource] = []
    for record in records:
        if isinstance(record, Detection):
            detections.append(record)
        elif isinstance(record, Story):
            stories.append(record)
        elif isinstance(record, Macro):
            macros.append(record)
        elif isinstance(record, DataSource):
            data_sources.append(record)
    detections.sort(key=lambda d: (d.name.casefold(), d.name, d.id, d.source_path, d.era, d.version, d.date))
    stories.sort(key=lambda s: (s.name.casefold(), s.name, s.id, s.source_path, s.version, s.date))
    macros.sort(key=lambda m: (m.name, m.source_path, m.definition))
    data_sources.sort(key=lambda d: (d.name, d.source_path))
    ordered = sorted(techniques, key=lambda t: t.technique_id)
    tables = {
        "detections": [_stamp(d.to_row(), commit) for d in detections],
        "techniques": [_technique_row(t, tactic_order, commit) for t in ordered],
        "tactics": _tactic_rows(ordered, tactic_order, commit),
        "stories": [_stamp(s.to_row(), commit) for s in stories],
        "macros": [_stamp(m.to_row(), commit) for m in macros],
        "data_sources": [_data_source_row(d, commit) for d in data_sources],
    }
    return tables


def duplicate_detection_ids(records: Iterable[Record]) -> Dict[str, List[str]]:
    """Detection ids used by more than one file: ``{id: [source_path, ...]}``, paths sorted."""
    paths: Dict[str, List[str]] = {}
    for record in records:
        if isinstance(record, Detection):
            paths.setdefault(record.id, []).append(record.source_path)
    return {key: sorted(found) for key, found in sorted(paths.items()) if len(found) > 1}


def cloudtrail_event_name(name: str, sourcetype: str) -> str:
    """The CloudTrail ``eventName`` a data source stands for, or "".

    security_content names one data source per CloudTrail event (``AWS CloudTrail PutImage``,
    ``separator: eventName``, sourcetype ``aws:cloudtrail``): the one word after "CloudTrail ".
    The generic ``AWS CloudTrail`` source and every non-CloudTrail source have no event name.

    >>> cloudtrail_event_name("AWS CloudTrail PutImage", "aws:cloudtrail")
    'PutImage'
    >>> cloudtrail_event_name("AWS CloudTrail", "aws:cloudtrail")
    ''
    """
    if sourcetype != CLOUDTRAIL_SOURCETYPE or _CLOUDTRAIL_WORD not in name:
        return ""
    rest = name.split(_CLOUDTRAIL_WORD, 1)[1].strip()
    return rest if rest.isalnum() else ""


def _data_source_row(source: DataSource, commit: str) -> Dict[str, Any]:
    return {
        "name": source.name,
        "sourcetype": source.sourcetype,
        "source": source.source,
        "supported_ta": list(source.supported_ta),
        "event_name": cloudtrail_event_name(source.name, source.sourcetype),
        "source_path": source.source_path,
        "source_commit": commit,
    }


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
