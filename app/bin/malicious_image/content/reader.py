"""Read security_content files of every schema era into the canonical model (model.py).

This module is the only place that knows the eras (docs/content-model.md has the full map):

* A, 2021-22: no ``status``; risk from ``tags.observable[{name, type, role[]}]`` and
  ``tags.risk_score`` / ``confidence`` / ``impact``; status implied by the folder
  (``detections/deprecated/``, ``detections/experimental/<platform>/``).
* B, 2023-24: adds ``status``, ``data_source[]`` (two 2024 files say ``data_sources``), inline
  ``tests[]``, ``drilldown_searches[]``; deprecated rules live in ``detections/deprecated/``.
* C1, contentctl v5: ``rba: {message, risk_objects[{field, type, score}], threat_objects[]}``.
* C2, ESCU 6 (``develop`` since May 2026): no ``tags:`` block; analytic_story, asset_type,
  mitre_attack_id, product, category, security_domain, cve are top-level keys;
  ``creation_date`` + ``modification_date``; ``finding: {title, entity}``,
  ``intermediate_findings: {entities[]}``, top-level ``threat_objects[]``; ``removed/`` folder
  and ``deprecation_info``. A file may mix eras (a ``removed/`` file with ESCU 6 dates and the
  old ``rba:`` + ``tags:``): both are read, and a top-level key wins over the same key in
  ``tags``.

Risk and threat objects of every era are read by ``findings.py``. Top-level keys the reader does
not know (``KNOWN_KEYS``) are listed in ``ReadResult.unknown_keys``; they never reject a file.

Entry points: ``member_kind(path)``, ``read_member(path, data, commit=...)`` and
``read_catalogue(data, tactic_order)``. A file that cannot be read becomes a ``Rejection`` with
a reason; nothing here raises for bad content.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Tuple

from malicious_image.content import schema
from malicious_image.content.catalogue import read_catalogue
from malicious_image.content.findings import finding_kind, read_findings
from malicious_image.content.model import (
    DataSource,
    Detection,
    LookupDef,
    Macro,
    ReadResult,
    Rejection,
    RiskObject,
    Story,
    ThreatObject,
)
from malicious_image.content.values import (
    ContentError,
    kind_of,
    mapping,
    parse_date,
    scalar_text,
    text,
    texts,
    unique,
    whole_number,
)
from malicious_image.content.yaml_safe import YamlError, load_yaml

__all__ = ["CATALOGUE_PATHS", "KNOWN_KEYS", "ContentError", "member_kind", "read_catalogue", "read_member"]

CATALOGUE_PATHS = ("app_template/lookups/mitre_enrichment.csv", "lookups/mitre_enrichment.csv")
"""Where the ATT&CK catalogue lives (2024 and later first, then 2022-23); use the first present."""

_FOLDER_KINDS = {
    "detections": "detection",
    "stories": "story",
    "macros": "macro",
    "lookups": "lookup",
    "data_sources": "data_source",
}
_STATUS_FOLDERS = ("deprecated", "experimental", "removed")
_C2_KEYS = ("finding", "intermediate_findings", "creation_date", "modification_date",
            "deprecation_info", "threat_objects", "mitre_attack_id", "analytic_story")
_TAG_KEYS = ("analytic_story", "asset_type", "mitre_attack_id", "product", "category",
             "security_domain", "cve")
"""Keys of ``tags`` (eras A-C1) that ESCU 6 moved to the top level; a top-level key wins."""

_COMMON_KEYS = frozenset(("name", "id", "version", "date", "creation_date", "modification_date",
                          "author", "status", "description", "references"))
KNOWN_KEYS: Dict[str, frozenset] = {
    # every era's detection keys: read, or known and deliberately not needed (tests, drilldowns,
    # datamodel, deployment, baselines)
    "detection": _COMMON_KEYS | frozenset((
        "type", "data_source", "data_sources", "search", "how_to_implement", "known_false_positives",
        "tags", "datamodel", "tests", "drilldown_searches", "deployment", "rba", "finding",
        "intermediate_findings", "threat_objects", "deprecation_info", "baselines", *_TAG_KEYS,
    )),
    "story": _COMMON_KEYS | frozenset(("narrative", "tags", "type", "category", "product", "usecase")),
    "macro": _COMMON_KEYS | frozenset(("definition", "arguments")),
}
"""Top-level keys the reader knows, by kind (lookups and data sources are not checked)."""
MAX_UNKNOWN_KEYS = 20
MAX_KEY_LENGTH = 80

def member_kind(path: str) -> str | None:
    """Say what a repository file is to the sync.

    Arguments:
        path: path relative to the repository root, e.g. ``detections/cloud/x.yml``.

    Returns:
        "detection", "story", "macro", "lookup", "data_source", "catalogue", or None when the
        sync does not read the file (other folders, ``.untested`` markers, CSV lookups, a name
        that does not end in ``.yml`` exactly, as upstream's own build tools ignore those).
    """
    path = _relative(path)
    if path in CATALOGUE_PATHS:
        return "catalogue"
    parts = path.split("/")
    if len(parts) < 2 or not parts[-1].endswith(".yml"):
        return None
    if parts[0] == "removed":
        if len(parts) == 2:
            return None if parts[1].lower().startswith("deprecation_mapping") else "detection"
        return _FOLDER_KINDS.get(parts[1], "detection")
    return _FOLDER_KINDS.get(parts[0])


def read_member(path: str, data: bytes, *, commit: str = "") -> ReadResult:
    """Read one repository file into its canonical record.

    Arguments:
        path: path relative to the repository root.
        data: the file's bytes.
        commit: the commit the file comes from (copied into the record's ``source_commit``).

    Returns:
        ``ReadResult(kind, record, None)`` for a good file, ``ReadResult(kind, None,
        Rejection(path, reason))`` for a bad one, ``ReadResult(None)`` for a file the sync does
        not need, and ``ReadResult("catalogue")`` for the ATT&CK catalogue (read it with
        ``read_catalogue``).
    """
    path = _relative(path)
    kind = member_kind(path)
    if kind is None or kind == "catalogue":
        return ReadResult(kind)
    unknown: Tuple[str, ...] = ()
    try:
        doc = load_yaml(data)
        if not isinstance(doc, dict):
            raise ContentError(f"is not a YAML mapping (found {kind_of(doc)})")
        unknown = _unknown_keys(kind, doc)
        fields = _BUILDERS[kind](path, doc, commit)
    except (YamlError, ContentError) as exc:
        return ReadResult(kind, rejection=Rejection(path, str(exc)), unknown_keys=unknown)
    reason = schema.check(kind, fields)
    if reason is not None:
        return ReadResult(kind, rejection=Rejection(path, reason), unknown_keys=unknown)
    return ReadResult(kind, record=_MAKERS[kind](fields), unknown_keys=unknown)


def _unknown_keys(kind: str, doc: Dict[str, Any]) -> Tuple[str, ...]:
    """Sorted top-level keys not in ``KNOWN_KEYS``: at most ``MAX_UNKNOWN_KEYS``, each cut to
    ``MAX_KEY_LENGTH`` characters (a hostile file may hold thousands of long keys)."""
    known = KNOWN_KEYS.get(kind)
    if known is None:
        return ()
    unknown = sorted({str(key)[:MAX_KEY_LENGTH] for key in doc if key not in known})
    return tuple(unknown[:MAX_UNKNOWN_KEYS])


def _relative(path: str) -> str:
    """``./detections\\x.yml`` -> ``detections/x.yml``: the form used in records and rejections."""
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path


# ---------------------------------------------------------------------------------- detections

def _detection_fields(path: str, doc: Dict[str, Any], commit: str) -> Dict[str, Any]:
    parts = path.split("/")
    era = _era(parts, doc)
    tags = mapping(doc, "tags")
    tagged = {key: doc[key] if key in doc else tags.get(key) for key in _TAG_KEYS}  # top level wins
    risk_message, risks, threats = read_findings(doc, tags, era)
    data_source = doc.get("data_source")
    if data_source is None:
        data_source = doc.get("data_sources")  # two 2024 files misspell the key
    deprecation = mapping(doc, "deprecation_info")
    detection_type = _detection_type(text(doc, "type"))
    return {
        "id": text(doc, "id").lower(),
        "name": text(doc, "name"),
        "type": detection_type,
        "status": _status(parts, doc),
        "version": whole_number(doc.get("version")),
        "date": parse_date(doc, "modification_date", "creation_date", "date"),
        "author": text(doc, "author"),
        "description": text(doc, "description"),
        "search": text(doc, "search"),
        "how_to_implement": text(doc, "how_to_implement"),
        "known_false_positives": text(doc, "known_false_positives"),
        "references": texts(doc.get("references"), "references"),
        "mitre_attack_id": unique(t.upper() for t in texts(tagged["mitre_attack_id"], _where(doc, "mitre_attack_id"))),
        "analytic_story": texts(tagged["analytic_story"], _where(doc, "analytic_story")),
        "data_source": texts(data_source, "data_source"),
        "security_domain": scalar_text(tagged["security_domain"], _where(doc, "security_domain")).lower(),
        "platform": _platform(parts),
        "risk_message": risk_message,
        "risk_objects": risks,
        "threat_objects": threats,
        "source_path": path,
        "source_commit": commit,
        "era": era,
        "finding_kind": finding_kind(doc, era, detection_type, bool(risks)),
        "creation_date": parse_date(doc, "creation_date"),
        "deprecation_reason": text(deprecation, "reason", "deprecation_info."),
        "removed_in_version": text(deprecation, "removed_in_version", "deprecation_info."),
        "replacement_content": "; ".join(
            texts(deprecation.get("replacement_content"), "deprecation_info.replacement_content")
        ),
        "asset_type": scalar_text(tagged["asset_type"], _where(doc, "asset_type")),
        "product": unique(texts(tagged["product"], _where(doc, "product"))),
        "category": ", ".join(texts(tagged["category"], _where(doc, "category"))),
        "cve": unique(t.upper() for t in texts(tagged["cve"], _where(doc, "cve"))),
    }


def _where(doc: Dict[str, Any], key: str) -> str:
    """How a message names ``key``: top level (ESCU 6) or ``tags.key`` (earlier eras)."""
    return key if key in doc else "tags." + key


def _era(parts: List[str], doc: Dict[str, Any]) -> str:
    if any(key in doc for key in _C2_KEYS):
        return "C2"
    if "rba" in doc:
        return "C1"
    if parts[0] == "removed":
        return "C2"
    if "status" in doc or "data_source" in doc or "data_sources" in doc:
        return "B"
    return "A"


def _status(parts: List[str], doc: Dict[str, Any]) -> str:
    """The folder wins for deprecated/ and removed/; otherwise the field; otherwise the folder."""
    folder = parts[1] if parts[0] == "detections" and len(parts) > 2 else ""
    if parts[0] == "removed":
        return "removed"
    if folder == "deprecated":
        return "deprecated"
    stated = text(doc, "status").lower()
    if stated:
        return stated
    return "experimental" if folder == "experimental" else "production"


def _platform(parts: List[str]) -> str:
    """``detections/<platform>/x.yml``; ``detections/experimental/<platform>/x.yml`` (2022)."""
    if parts[0] != "detections" or len(parts) < 3:
        return ""
    if parts[1] in _STATUS_FOLDERS:
        return parts[2] if len(parts) > 3 else ""
    return parts[1]


_TYPES = {"ttp": "TTP", "anomaly": "Anomaly", "hunting": "Hunting", "correlation": "Correlation",
          "baseline": "Baseline", "investigation": "Investigation"}


def _detection_type(value: str) -> str:
    return _TYPES.get(value.lower(), value)


def _make_detection(f: Dict[str, Any]) -> Detection:
    return Detection(
        id=f["id"], name=f["name"], type=f["type"], status=f["status"], version=f["version"],
        date=f["date"], author=f["author"], description=f["description"], search=f["search"],
        how_to_implement=f["how_to_implement"], known_false_positives=f["known_false_positives"],
        references=tuple(f["references"]), mitre_attack_id=tuple(f["mitre_attack_id"]),
        analytic_story=tuple(f["analytic_story"]), data_source=tuple(f["data_source"]),
        security_domain=f["security_domain"], platform=f["platform"], risk_message=f["risk_message"],
        risk_objects=tuple(RiskObject(o["field"], o["type"], o["score"], o["message"]) for o in f["risk_objects"]),
        threat_objects=tuple(ThreatObject(o["field"], o["type"]) for o in f["threat_objects"]),
        source_path=f["source_path"], source_commit=f["source_commit"], era=f["era"],
        finding_kind=f["finding_kind"], creation_date=f["creation_date"],
        deprecation_reason=f["deprecation_reason"], removed_in_version=f["removed_in_version"],
        replacement_content=f["replacement_content"], asset_type=f["asset_type"],
        product=tuple(f["product"]), category=f["category"], cve=tuple(f["cve"]),
    )


# ------------------------------------------------------------------ stories, macros, the rest

def _story_fields(path: str, doc: Dict[str, Any], commit: str) -> Dict[str, Any]:
    tags = mapping(doc, "tags")
    tagged = {key: doc[key] if key in doc else tags.get(key) for key in ("category", "product", "usecase")}
    usecase = tagged["usecase"]
    if isinstance(usecase, list):
        usecase = ", ".join(texts(usecase, _where(doc, "usecase")))
    return {
        "id": text(doc, "id").lower(),
        "name": text(doc, "name"),
        "version": whole_number(doc.get("version")),
        "date": parse_date(doc, "modification_date", "creation_date", "date"),
        "author": text(doc, "author"),
        "description": text(doc, "description"),
        "narrative": text(doc, "narrative"),
        "references": texts(doc.get("references"), "references"),
        "category": texts(tagged["category"], _where(doc, "category")),
        "product": texts(tagged["product"], _where(doc, "product")),
        "usecase": scalar_text(usecase, _where(doc, "usecase")),
        "source_path": path,
        "source_commit": commit,
    }


def _macro_fields(path: str, doc: Dict[str, Any], commit: str) -> Dict[str, Any]:
    name = text(doc, "name")
    arguments = texts(doc.get("arguments"), "arguments")
    return {
        "name": f"{name}({len(arguments)})" if arguments and name else name,
        "definition": text(doc, "definition"),
        "description": text(doc, "description"),
        "arguments": arguments,
        "source_path": path,
        "source_commit": commit,
    }


def _lookup_fields(path: str, doc: Dict[str, Any], commit: str) -> Dict[str, Any]:
    fields_list = doc.get("fields_list")
    if isinstance(fields_list, str):
        fields_list = [part.strip() for part in fields_list.split(",") if part.strip()]
    fields = {
        "name": text(doc, "name"),
        "description": text(doc, "description"),
        "filename": text(doc, "filename"),
        "collection": text(doc, "collection"),
        "fields_list": texts(fields_list, "fields_list"),
        "source_path": path,
        "source_commit": commit,
    }
    if not fields["name"]:
        raise ContentError("field 'name' is missing")
    return fields


def _data_source_fields(path: str, doc: Dict[str, Any], commit: str) -> Dict[str, Any]:
    tas = doc.get("supported_TA") or []
    names = [
        text(ta, "name", "supported_TA.") if isinstance(ta, dict) else scalar_text(ta, "supported_TA")
        for ta in (tas if isinstance(tas, list) else [tas])
    ]
    raw_fields = doc.get("fields")
    if raw_fields is None:
        raw_fields = doc.get("raw_fields")  # 2023 shape
    fields = {
        "name": text(doc, "name"),
        "id": text(doc, "id").lower(),
        "source": text(doc, "source"),
        "sourcetype": text(doc, "sourcetype"),
        "supported_ta": [name for name in names if name],
        "fields": texts(raw_fields, "fields"),
        "example_log": text(doc, "example_log"),
        "source_path": path,
        "source_commit": commit,
    }
    if not fields["name"]:
        raise ContentError("field 'name' is missing")
    return fields


def _tupled(cls: Callable[..., Any]) -> Callable[[Dict[str, Any]], Any]:
    def make(fields: Dict[str, Any]) -> Any:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()})
    return make


_BUILDERS: Dict[str, Callable[[str, Dict[str, Any], str], Dict[str, Any]]] = {
    "detection": _detection_fields,
    "story": _story_fields,
    "macro": _macro_fields,
    "lookup": _lookup_fields,
    "data_source": _data_source_fields,
}
_MAKERS: Dict[str, Callable[[Dict[str, Any]], Any]] = {
    "detection": _make_detection,
    "story": _tupled(Story),
    "macro": _tupled(Macro),
    "lookup": _tupled(LookupDef),
    "data_source": _tupled(DataSource),
}
