"""The canonical content model: one shape per kind of security_content file, whatever its era.

The reader (``reader.py``) turns every era of YAML into these records; nothing downstream ever
sees an era-specific field. Records are frozen dataclasses holding tuples, so they can be cached
by blob hash and shared. ``to_row()`` gives exactly the fields of the lookup table of the same
name (docs/ARCHITECTURE.md, "The lookup contract"), multivalue fields as lists.

Risk: every era is reduced to risk objects (field, type, score) and threat objects (field,
type), the shape of contentctl v5's ``rba`` block; the table carries the fields and types as
parallel multivalue fields and one ``risk_score`` (the highest score, as contentctl computes it).
See docs/content-model.md for the era mapping.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Dict, Mapping, Tuple, Union

__all__ = [
    "DETECTION_FIELDS",
    "FINDING_KINDS",
    "GROUP_FIELDS",
    "MACRO_FIELDS",
    "STORY_FIELDS",
    "TACTIC_FIELDS",
    "TECHNIQUE_FIELDS",
    "DataSource",
    "Detection",
    "Group",
    "LookupDef",
    "Macro",
    "ReadResult",
    "Record",
    "Rejection",
    "RiskObject",
    "Story",
    "Tactic",
    "Technique",
    "ThreatObject",
    "result_from_dict",
    "result_to_dict",
]

Row = Dict[str, Any]

# Table fields, in the order of the lookup contract (docs/ARCHITECTURE.md).
DETECTION_FIELDS = (
    "id", "name", "type", "status", "version", "date", "mitre_attack_id", "analytic_story",
    "data_source", "security_domain", "platform", "risk_object_field", "risk_object_type",
    "risk_score", "threat_object_field", "threat_object_type", "search", "description",
    "how_to_implement", "known_false_positives", "source_path", "source_commit", "era",
    "finding_kind", "creation_date", "deprecation_reason", "removed_in_version",
    "replacement_content", "asset_type", "product", "category", "cve",
    "attack_technique_id", "attack_mapping_note",
)
FINDING_KINDS = ("finding", "intermediate", "both", "none")
"""What a detection produces in ES 8 terms (``Detection.finding_kind``, docs/content-model.md)."""
TECHNIQUE_FIELDS = (
    "technique_id", "technique_name", "tactics", "is_subtechnique", "parent_technique_id",
    "platforms", "deprecated", "revoked", "revoked_by", "url", "attack_version", "source_commit",
)
TACTIC_FIELDS = ("tactic", "tactic_id", "shortname", "tactic_order", "technique_count", "source_commit")
GROUP_FIELDS = ("group_id", "group_name", "aliases", "technique_id", "url", "attack_version", "source_commit")
STORY_FIELDS = (
    "id", "name", "version", "date", "author", "description", "narrative", "references",
    "category", "product", "usecase", "source_path", "source_commit",
)
MACRO_FIELDS = ("name", "definition", "description", "arguments", "source_path", "source_commit")


@dataclass(frozen=True)
class RiskObject:
    """An entity a detection raises risk on: ``field`` of the results, ``type`` user/system/other.

    ``message`` is the risk message of this entity: its own (ESCU 6 ``intermediate_findings``
    entities carry one each; a ``finding`` entity has the finding's title), else the
    detection's ``risk_message``.
    """

    field: str
    type: str
    score: int
    message: str = ""


@dataclass(frozen=True)
class ThreatObject:
    """A field of the results that describes the threat (ip_address, process_name, url, ...)."""

    field: str
    type: str


@dataclass(frozen=True)
class Detection:
    """One detection rule, era-independent.

    ``date`` is the date of the current version (YYYY-MM-DD; ESCU 6's ``modification_date``)
    and ``creation_date`` the first version's (ESCU 6 only, else ""); ``platform`` is the
    ``detections/<platform>/`` folder (empty for deprecated/ and removed/ content);
    ``era`` is A, B, C1 or C2; ``finding_kind`` is what the detection produces in ES 8 terms:
    ``finding`` (a notable), ``intermediate`` (risk events), ``both`` or ``none``
    (docs/content-model.md). The deprecation fields come from ESCU 6's ``deprecation_info``.
    """

    id: str
    name: str
    type: str
    status: str
    version: int
    date: str
    author: str
    description: str
    search: str
    how_to_implement: str
    known_false_positives: str
    references: Tuple[str, ...]
    mitre_attack_id: Tuple[str, ...]
    analytic_story: Tuple[str, ...]
    data_source: Tuple[str, ...]
    security_domain: str
    platform: str
    risk_message: str
    risk_objects: Tuple[RiskObject, ...]
    threat_objects: Tuple[ThreatObject, ...]
    source_path: str
    source_commit: str
    era: str
    finding_kind: str = "none"
    creation_date: str = ""
    deprecation_reason: str = ""
    removed_in_version: str = ""
    replacement_content: str = ""
    asset_type: str = ""
    product: Tuple[str, ...] = ()
    category: str = ""
    cve: Tuple[str, ...] = ()

    @property
    def risk_score(self) -> int | None:
        """The highest risk object score, or None when the detection raises no risk."""
        if not self.risk_objects:
            return None
        return max(obj.score for obj in self.risk_objects)

    def to_row(self) -> Row:
        """Return the ``detections`` table row (multivalue fields as lists)."""
        return {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "status": self.status,
            "version": self.version,
            "date": self.date,
            "mitre_attack_id": list(self.mitre_attack_id),
            "analytic_story": list(self.analytic_story),
            "data_source": list(self.data_source),
            "security_domain": self.security_domain,
            "platform": self.platform,
            "risk_object_field": [obj.field for obj in self.risk_objects],
            "risk_object_type": [obj.type for obj in self.risk_objects],
            "risk_score": self.risk_score,
            "threat_object_field": [obj.field for obj in self.threat_objects],
            "threat_object_type": [obj.type for obj in self.threat_objects],
            "search": self.search,
            "description": self.description,
            "how_to_implement": self.how_to_implement,
            "known_false_positives": self.known_false_positives,
            "source_path": self.source_path,
            "source_commit": self.source_commit,
            "era": self.era,
            "finding_kind": self.finding_kind,
            "creation_date": self.creation_date,
            "deprecation_reason": self.deprecation_reason,
            "removed_in_version": self.removed_in_version,
            "replacement_content": self.replacement_content,
            "asset_type": self.asset_type,
            "product": list(self.product),
            "category": self.category,
            "cve": list(self.cve),
            # resolved against the ATT&CK catalogue by sync/tables.py (revoked -> successor)
            "attack_technique_id": list(self.mitre_attack_id),
            "attack_mapping_note": [],
        }


@dataclass(frozen=True)
class Story:
    """An analytic story (stories/*.yml)."""

    id: str
    name: str
    version: int
    date: str
    author: str
    description: str
    narrative: str
    references: Tuple[str, ...]
    category: Tuple[str, ...]
    product: Tuple[str, ...]
    usecase: str
    source_path: str
    source_commit: str

    def to_row(self) -> Row:
        """Return the ``stories`` table row (multivalue fields as lists)."""
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "date": self.date,
            "author": self.author,
            "description": self.description,
            "narrative": self.narrative,
            "references": list(self.references),
            "category": list(self.category),
            "product": list(self.product),
            "usecase": self.usecase,
            "source_path": self.source_path,
            "source_commit": self.source_commit,
        }


@dataclass(frozen=True)
class Macro:
    """A search macro (macros/*.yml).

    ``name`` is the macros.conf stanza name: ``name(N)`` when the macro takes N arguments,
    which is how Splunk tells ``security_content_ctime(1)`` from a macro without arguments.
    """

    name: str
    definition: str
    description: str
    arguments: Tuple[str, ...]
    source_path: str
    source_commit: str

    def to_row(self) -> Row:
        """Return the ``macros`` table row (multivalue fields as lists)."""
        return {
            "name": self.name,
            "definition": self.definition,
            "description": self.description,
            "arguments": list(self.arguments),
            "source_path": self.source_path,
            "source_commit": self.source_commit,
        }


@dataclass(frozen=True)
class LookupDef:
    """A lookup definition (lookups/*.yml): a CSV file, a KV store collection or an ML model."""

    name: str
    description: str
    filename: str
    collection: str
    fields_list: Tuple[str, ...]
    source_path: str
    source_commit: str


@dataclass(frozen=True)
class DataSource:
    """A data source (data_sources/*.yml, 2023 and later)."""

    name: str
    id: str
    source: str
    sourcetype: str
    supported_ta: Tuple[str, ...]
    fields: Tuple[str, ...]
    example_log: str
    source_path: str
    source_commit: str


@dataclass(frozen=True)
class Technique:
    """One ATT&CK technique or sub-technique, from MITRE's STIX bundle (``stix.py``) or the
    content's ``mitre_enrichment.csv`` (``catalogue.py``, which fills only the first four fields).

    ``tactics`` are tactic display names in ATT&CK matrix order; ``parent_technique_id`` is empty
    for a technique, ``T1204`` for ``T1204.003``. A revoked technique keeps its row with
    ``revoked_by`` = the current technique that replaces it (the end of its ``revoked-by``
    chain); a deprecated one keeps its row flagged ``deprecated``.
    """

    technique_id: str
    technique_name: str
    tactics: Tuple[str, ...]
    parent_technique_id: str
    platforms: Tuple[str, ...] = ()
    deprecated: bool = False
    revoked: bool = False
    revoked_by: str = ""
    url: str = ""
    attack_version: str = ""

    @property
    def is_subtechnique(self) -> bool:
        """True for a sub-technique (``Tnnnn.nnn``)."""
        return bool(self.parent_technique_id)

    def to_row(self, source_commit: str = "") -> Row:
        """Return the ``techniques`` table row (multivalue fields as lists, flags 0/1)."""
        return {
            "technique_id": self.technique_id,
            "technique_name": self.technique_name,
            "tactics": list(self.tactics),
            "is_subtechnique": 1 if self.is_subtechnique else 0,
            "parent_technique_id": self.parent_technique_id,
            "platforms": list(self.platforms),
            "deprecated": 1 if self.deprecated else 0,
            "revoked": 1 if self.revoked else 0,
            "revoked_by": self.revoked_by,
            "url": self.url,
            "attack_version": self.attack_version,
            "source_commit": source_commit,
        }


@dataclass(frozen=True)
class Tactic:
    """One ATT&CK tactic of a matrix: display name, id (``TA0001``), shortname (the
    ``kill_chain_phases[].phase_name`` of its techniques) and 1-based matrix order."""

    tactic: str
    tactic_id: str
    shortname: str
    tactic_order: int


@dataclass(frozen=True)
class Group:
    """An ATT&CK group (STIX ``intrusion-set``) and the techniques it ``uses``.

    From the content's CSV fallback only the name and techniques are known (``group_id`` empty).
    """

    group_id: str
    group_name: str
    aliases: Tuple[str, ...]
    technique_ids: Tuple[str, ...]
    url: str = ""
    attack_version: str = ""

    def to_row(self, source_commit: str = "") -> Row:
        """Return the ``groups`` table row."""
        return {
            "group_id": self.group_id,
            "group_name": self.group_name,
            "aliases": list(self.aliases),
            "technique_id": list(self.technique_ids),
            "url": self.url,
            "attack_version": self.attack_version,
            "source_commit": source_commit,
        }


@dataclass(frozen=True)
class Rejection:
    """A file the sync skipped: its path and a reason a Splunk admin can act on."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


Record = Union[Detection, Story, Macro, LookupDef, DataSource]


@dataclass(frozen=True)
class ReadResult:
    """What ``reader.read_member`` made of one file: a record or a rejection (never both).

    ``unknown_keys`` are the file's top-level keys the reader does not know (sorted): the sync
    counts them, so that the next format change shows on the day it lands.
    """

    kind: str | None
    record: Record | None = None
    rejection: Rejection | None = None
    unknown_keys: Tuple[str, ...] = ()


# ------------------------------------------------------------- plain-data form (parse cache)

_KINDS: Dict[str, type] = {
    "detection": Detection,
    "story": Story,
    "macro": Macro,
    "lookup": LookupDef,
    "data_source": DataSource,
}


def result_to_dict(result: ReadResult) -> Dict[str, Any]:
    """Turn a ReadResult into JSON-ready data (lists, dicts, str, int, None), e.g. for a cache.

    Key a cache by (path, blob hash), not by the blob alone: the same bytes in another folder
    read to another record (status from ``deprecated/`` or ``removed/``, platform).

    Arguments:
        result: what ``reader.read_member`` returned.

    Returns:
        ``{"kind": ..., "record": {...} | None, "rejection": {"path", "reason"} | None,
        "unknown_keys": [...]}``.
    """
    record = None
    if result.record is not None:
        record = {}
        for field in fields(result.record):
            value = getattr(result.record, field.name)
            if field.name in ("risk_objects", "threat_objects"):
                value = [{k.name: getattr(obj, k.name) for k in fields(obj)} for obj in value]
            elif isinstance(value, tuple):
                value = list(value)
            record[field.name] = value
    rejection = None
    if result.rejection is not None:
        rejection = {"path": result.rejection.path, "reason": result.rejection.reason}
    return {"kind": result.kind, "record": record, "rejection": rejection,
            "unknown_keys": list(result.unknown_keys)}


def result_from_dict(data: Mapping[str, Any]) -> ReadResult:
    """Rebuild a ReadResult from ``result_to_dict``'s output.

    Raises:
        ValueError: the data does not describe a ReadResult of a known kind (e.g. a cache written
            by another version); treat the entry as missing.
    """
    try:
        kind = data["kind"]
        record = None
        if data.get("record") is not None:
            values = dict(data["record"])
            if kind == "detection":
                values["risk_objects"] = tuple(RiskObject(**obj) for obj in values["risk_objects"])
                values["threat_objects"] = tuple(ThreatObject(**obj) for obj in values["threat_objects"])
            record = _KINDS[kind](**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})
        rejection = None
        if data.get("rejection") is not None:
            rejection = Rejection(data["rejection"]["path"], data["rejection"]["reason"])
        unknown_keys = tuple(str(key) for key in data.get("unknown_keys") or ())
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a cached read result: {exc}") from None
    return ReadResult(kind, record, rejection, unknown_keys)
