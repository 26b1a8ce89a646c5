"""Rows of every lookup table, built from canonical records (docs/ARCHITECTURE.md, lookup contract).

``build_tables`` is a pure function: the same records, catalogue, tactic order and commit give
the same rows in the same order, so a writer can compare generations and a test can compare
files. Multivalue fields are Python lists (arrays in the KV store; the CSV writer joins them
with newlines). Every row carries ``source_commit``: the commit given here, whatever the record
says, so a cached record from an earlier commit is stamped with the commit being synced.

Detection ids are not unique in every snapshot (the 2022 content has one id in two files), so
no table here is keyed by id: both rows are kept; ``duplicate_detection_ids`` lists them for
the status event. ``source_path`` is unique per table.

ATT&CK: the catalogue is MITRE's STIX bundle (``content/stix.py``) when the sync has one, else
the content's ``mitre_enrichment.csv`` (``content/catalogue.py``). Each detection row gains
``attack_technique_id``: its annotated ids with a revoked technique replaced by its current
successor (the end of the ``revoked-by`` chain), and ``attack_mapping_note``: one line per id
that was replaced ("mapped to T<old>, revoked in ATT&CK <release> by T<new>") or is deprecated
("mapped to T<old>, deprecated in ATT&CK <release>"). Nothing is dropped: an id the catalogue
does not know is kept as annotated.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Sequence, Tuple

from malicious_image.content.catalogue import order_tactics, tactic_sort_key
from malicious_image.content.model import DataSource, Detection, Group, Macro, Record, Story, Technique
from malicious_image.content.stix import AttackCatalogue

__all__ = [
    "TABLES", "TABLE_NAMES", "attack_mapping", "build_tables", "cloudtrail_event_name", "duplicate_detection_ids",
]  # fmt: skip

TABLE_NAMES = ("detections", "techniques", "tactics", "groups", "stories", "macros", "data_sources")
"""Table names, the one list: KV store collections ``malicious_image_<table>_a/_b``, lookup
definitions ``malicious_image_<table>``, offline files ``<table>.csv``; the KV store writer, the CSV
writer and the conf checks (collections.conf, transforms.conf) derive from it."""
DATA_SOURCE_FIELDS = ("name", "sourcetype", "source", "supported_ta", "event_name", "source_path", "source_commit")
TABLES = TABLE_NAMES  # the name used before the contract named it TABLE_NAMES

CLOUDTRAIL_SOURCETYPE = "aws:cloudtrail"
_CLOUDTRAIL_WORD = "CloudTrail "


def build_tables(
    records: Iterable[Record],
    techniques: Sequence[Technique],
    tactic_order: Sequence[str],
    commit: str,
    *,
    catalogue: AttackCatalogue | None = None,
    groups: Sequence[Group] = (),
    tactic_ids: Mapping[str, str] | None = None,
) -> Dict[str, List[Dict[str, Any]]]:
    """Build the rows of every table.

    Arguments:
        records: canonical records from ``reader.read_member`` (lookups are read but have no
            table of their own; they are ignored here).
        techniques: the ATT&CK catalogue (``reader.read_catalogue``).
        tactic_order: tactic names in matrix order (``catalogue.load_tactic_order``).
        commit: the commit being synced; stamped on every row as ``source_commit``.
        catalogue: MITRE's catalogue (``stix.read_bundle``); when given, its techniques, tactics
            (in its matrix order) and groups replace ``techniques``, ``tactic_order`` and ``groups``.
        groups: the groups of the content's CSV (``catalogue.read_catalogue_groups``).
        tactic_ids: tactic name -> ``TA`` id for the CSV path (``catalogue.load_tactic_ids``).

    Returns:
        ``{"detections": [...], "techniques": [...], "tactics": [...], "groups": [...],
        "stories": [...], "macros": [...], "data_sources": [...]}``; detections sorted by name then
        id then path, techniques by id, tactics in matrix order, groups by id then name, stories by
        name then id, macros and data sources by name then path.
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
    shortnames: Dict[str, str] = {}
    if catalogue is not None:
        techniques, groups = catalogue.techniques, catalogue.groups
        tactic_order = [t.tactic for t in catalogue.tactics]
        tactic_ids = {t.tactic: t.tactic_id for t in catalogue.tactics}
        shortnames = {t.tactic: t.shortname for t in catalogue.tactics}
    data_sources.sort(key=lambda d: (d.name, d.source_path))
    ordered = sorted(techniques, key=lambda t: t.technique_id)
    release = catalogue.version if catalogue is not None else ""
    by_id = {t.technique_id: t for t in ordered}
    tables = {
        "detections": [_detection_row(d, by_id, release, commit) for d in detections],
        "techniques": [_technique_row(t, tactic_order, commit) for t in ordered],
        "tactics": _tactic_rows(ordered, tactic_order, commit, tactic_ids or {}, shortnames, catalogue is not None),
        "groups": [g.to_row(commit) for g in sorted(groups, key=lambda g: (g.group_id, g.group_name))],
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


def attack_mapping(
    annotated: Iterable[str], techniques: Mapping[str, Technique], release: str = ""
) -> Tuple[List[str], List[str]]:
    """Resolve a detection's ATT&CK ids against the catalogue.

    Arguments:
        annotated: the detection's ``mitre_attack_id`` values.
        techniques: the catalogue by technique id.
        release: the catalogue's ATT&CK release (a technique's own ``attack_version`` wins).

    Returns:
        ``(attack_technique_id, attack_mapping_note)``: ids in annotation order without repeats,
        a revoked one replaced by its successor; one note per revoked or deprecated id.

    Examples:
        >>> old = Technique("T1562.001", "Disable", (), "T1562", revoked=True, revoked_by="T1685.002")
        >>> attack_mapping(["T1562.001"], {"T1562.001": old}, "19.0")
        (['T1685.002'], ['mapped to T1562.001, revoked in ATT&CK 19.0 by T1685.002'])
    """
    ids: List[str] = []
    notes: List[str] = []
    for raw in annotated:
        technique_id = str(raw).strip().upper()
        if not technique_id:
            continue
        known = techniques.get(technique_id)
        version = (known.attack_version if known else "") or release
        where = f"ATT&CK {version}" if version else "ATT&CK"
        if known is not None and known.revoked and known.revoked_by:
            notes.append(f"mapped to {technique_id}, revoked in {where} by {known.revoked_by}")
            technique_id = known.revoked_by
        elif known is not None and known.deprecated:
            notes.append(f"mapped to {technique_id}, deprecated in {where}")
        if technique_id not in ids:
            ids.append(technique_id)
    return ids, notes


def _detection_row(
    detection: Detection, techniques: Mapping[str, Technique], release: str, commit: str
) -> Dict[str, Any]:
    row = _stamp(detection.to_row(), commit)
    row["attack_technique_id"], row["attack_mapping_note"] = attack_mapping(
        detection.mitre_attack_id, techniques, release
    )
    return row


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
    techniques: Sequence[Technique],
    tactic_order: Sequence[str],
    commit: str,
    tactic_ids: Mapping[str, str],
    shortnames: Mapping[str, str],
    every_tactic: bool,
) -> List[Dict[str, Any]]:
    """Tactics in matrix order with their count of current (neither revoked nor deprecated)
    techniques and sub-techniques. ``every_tactic`` (a STIX catalogue): every matrix tactic is
    listed; else (the CSV) only those its techniques name (older content lacks v19's tactics)."""
    counts: Dict[str, int] = dict.fromkeys(tactic_order, 0) if every_tactic else {}
    for technique in techniques:
        if technique.revoked or technique.deprecated:
            continue
        for tactic in order_tactics(technique.tactics, tactic_order):
            counts[tactic] = counts.get(tactic, 0) + 1
    present = sorted(counts, key=tactic_sort_key(tactic_order))
    return [
        {
            "tactic": tactic,
            "tactic_id": tactic_ids.get(tactic, ""),
            "shortname": shortnames.get(tactic) or "-".join(tactic.lower().split()),
            "tactic_order": rank,
            "technique_count": counts[tactic],
            "source_commit": commit,
        }
        for rank, tactic in enumerate(present, start=1)
    ]
