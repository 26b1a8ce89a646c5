"""Read security_content files of every schema era into the canonical model (model.py).

This module is the only place that knows the eras (docs/content-model.md has the full map):

* A, 2021-22: no ``status``; risk from ``tags.observable[{name, type, role[]}]`` and
  ``tags.risk_score`` / ``confidence`` / ``impact``; status implied by the folder
  (``detections/deprecated/``, ``detections/experimental/<platform>/``).
* B, 2023-24: adds ``status``, ``data_source[]`` (two 2024 files say ``data_sources``), inline
  ``tests[]``, ``drilldown_searches[]``; deprecated rules live in ``detections/deprecated/``.
* C1, contentctl v5: ``rba: {message, risk_objects[{field, type, score}], threat_objects[]}``.
* C2, ESCU 6: ``creation_date`` + ``modification_date``; ``finding: {title, entity}``,
  ``intermediate_findings: {entities[]}``, top-level ``threat_objects[]``; ``removed/`` folder
  and ``deprecation_info``.

Observables (eras A and B) become risk and threat objects by contentctl 4.4's rule, the last
one before ``rba``, which upstream's own migration to ``rba`` followed: a Victim user or system
is a risk object, an Attacker is a threat object, anything else is a risk object of type
``other``. The score is ``round(confidence * impact / 100)`` as contentctl 4 computed it
(``tags.risk_score`` when either is missing).

Entry points: ``member_kind(path)``, ``read_member(path, data, commit=...)`` and
``read_catalogue(data, tactic_order)``. A file that cannot be read becomes a ``Rejection`` with
a reason; nothing here raises for bad content.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Tuple

from malicious_image.content import schema
from malicious_image.content.catalogue import read_catalogue
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
    is_number,
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

__all__ = ["CATALOGUE_PATHS", "ContentError", "member_kind", "read_catalogue", "read_member"]

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
            "deprecation_info", "threat_objects")

# contentctl 4.4 (detection_abstract.risk): observable type -> risk / threat object type.
_RISK_USER = frozenset(("user", "username", "email address"))
_RISK_SYSTEM = frozenset(("device", "endpoint", "hostname", "ip address"))
_THREAT_TYPES = {
    "process name": "process", "process": "process",
    "file name": "file_name", "file": "file_name", "file hash": "file_name",
    "ip address": "ip_address",
    "url string": "url", "url": "url",
}


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
    try:
        doc = load_yaml(data)
        if not isinstance(doc, dict):
            raise ContentError(f"is not a YAML mapping (found {kind_of(doc)})")
        fields = _BUILDERS[kind](path, doc, commit)
    except (YamlError, ContentError) as exc:
        return ReadResult(kind, rejection=Rejection(path, str(exc)))
    reason = schema.check(kind, fields)
    if reason is not None:
        return ReadResult(kind, rejection=Rejection(path, reason))
    return ReadResult(kind, record=_MAKERS[kind](fields))


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
    if era == "C2":
        risk_message, risks, threats = _risk_c2(doc)
        date = parse_date(doc, "modification_date", "creation_date", "date")
    elif era == "C1":
        risk_message, risks, threats = _risk_c1(doc)
        date = parse_date(doc, "date")
    else:
        risk_message, risks, threats = _risk_observables(tags, era)
        date = parse_date(doc, "date")
    data_source = doc.get("data_source")
    if data_source is None:
        data_source = doc.get("data_sources")  # two 2024 files misspell the key
    return {
        "id": text(doc, "id").lower(),
        "name": text(doc, "name"),
        "type": _detection_type(text(doc, "type")),
        "status": _status(parts, doc),
        "version": whole_number(doc.get("version")),
        "date": date,
        "author": text(doc, "author"),
        "description": text(doc, "description"),
        "search": text(doc, "search"),
        "how_to_implement": text(doc, "how_to_implement"),
        "known_false_positives": text(doc, "known_false_positives"),
        "references": texts(doc.get("references"), "references"),
        "mitre_attack_id": unique(
            t.upper() for t in texts(tags.get("mitre_attack_id"), "tags.mitre_attack_id")
        ),
        "analytic_story": texts(tags.get("analytic_story"), "tags.analytic_story"),
        "data_source": texts(data_source, "data_source"),
        "security_domain": text(tags, "security_domain", "tags.").lower()
        or text(doc, "security_domain").lower(),
        "platform": _platform(parts),
        "risk_message": risk_message,
        "risk_objects": risks,
        "threat_objects": threats,
        "source_path": path,
        "source_commit": commit,
        "era": era,
    }


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


def _risk_observables(tags: Dict[str, Any], era: str) -> Tuple[str, list, list]:
    """Eras A and B: tags.message, tags.observable[{name, type, role[]}] and the legacy score.

    Era A follows the 2022 build tool: a user or system type is a risk object when its role is
    Attacker or Victim (and nothing otherwise); any other type is a threat object. Era B follows
    contentctl 4.4: a Victim user or system is a risk object, an Attacker a threat object, and
    anything else a risk object of type ``other``. An observable without a name is skipped.
    """
    observables = tags.get("observable") or []
    if not isinstance(observables, list):
        raise ContentError(f"field 'tags.observable' must be a list, found {kind_of(observables)}")
    score = _legacy_score(tags)
    risks: List[Dict[str, Any]] = []
    threats: List[Dict[str, Any]] = []
    for index, obs in enumerate(observables):
        where = f"tags.observable[{index}]"
        if not isinstance(obs, dict):
            raise ContentError(f"field '{where}' must be a mapping, found {kind_of(obs)}")
        name = text(obs, "name", where + ".")
        if not name:
            continue
        kind = text(obs, "type", where + ".").lower()
        roles = {role.lower() for role in texts(obs.get("role"), where + ".role")}
        entity = "user" if kind in _RISK_USER else "system" if kind in _RISK_SYSTEM else ""
        if era == "A":
            if not entity:
                threats.append({"field": name, "type": _threat_type(kind)})
            elif roles & {"attacker", "victim"}:
                risks.append({"field": name, "type": entity, "score": score})
        elif entity and "victim" in roles:
            risks.append({"field": name, "type": entity, "score": score})
        elif "attacker" in roles:
            threats.append({"field": name, "type": _threat_type(kind)})
        else:
            risks.append({"field": name, "type": "other", "score": score})
    if risks and score is None:
        raise ContentError(
            "tags have observables but no risk score (tags.risk_score, or confidence and impact)"
        )
    return text(tags, "message", "tags."), _sorted_unique(risks), _sorted_unique(threats)


def _threat_type(kind: str) -> str:
    """contentctl 4.4's threat object types; other observable types in snake_case."""
    return _THREAT_TYPES.get(kind, "_".join(kind.split()))


def _legacy_score(tags: Dict[str, Any]) -> int | None:
    confidence, impact = tags.get("confidence"), tags.get("impact")
    if is_number(confidence) and is_number(impact):
        return round(confidence * impact / 100)
    score = tags.get("risk_score")
    if is_number(score):
        return round(score)
    return None


def _risk_c1(doc: Dict[str, Any]) -> Tuple[str, list, list]:
    """contentctl v5: rba {message, risk_objects[{field, type, score}], threat_objects[{field, type}]}."""
    rba = mapping(doc, "rba")
    risks = _objects(rba.get("risk_objects"), "rba.risk_objects", scored=True)
    threats = _objects(rba.get("threat_objects"), "rba.threat_objects", scored=False)
    return text(rba, "message", "rba."), _sorted_unique(risks), _sorted_unique(threats)


def _risk_c2(doc: Dict[str, Any]) -> Tuple[str, list, list]:
    """ESCU 6: finding {title, entity}, intermediate_findings {entities[]}, threat_objects[]."""
    finding = mapping(doc, "finding")
    entity = finding.get("entity")
    entities = entity if isinstance(entity, list) else ([] if entity is None else [entity])
    risks = _objects(entities, "finding.entity", scored=True)
    intermediate = mapping(doc, "intermediate_findings")
    risks += _objects(intermediate.get("entities"), "intermediate_findings.entities", scored=True)
    threats = _objects(doc.get("threat_objects"), "threat_objects", scored=False)
    message = text(finding, "title", "finding.") or text(intermediate, "title", "intermediate_findings.")
    return message, _sorted_unique(risks), _sorted_unique(threats)


def _objects(value: Any, where: str, *, scored: bool) -> List[Dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ContentError(f"field '{where}' must be a list, found {kind_of(value)}")
    out = []
    for index, item in enumerate(value):
        here = f"{where}[{index}]"
        if not isinstance(item, dict):
            raise ContentError(f"field '{here}' must be a mapping, found {kind_of(item)}")
        obj = {"field": text(item, "field", here + "."), "type": text(item, "type", here + ".").lower()}
        if scored:
            obj["score"] = whole_number(item.get("score"))  # a whole number, or left for the schema
        out.append(obj)
    return out


def _sorted_unique(objects: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Canonical order (field, type) without repeats: eras list entities in different orders.

    An entity listed twice with different scores keeps the higher one.
    """
    seen: Dict[Tuple[str, str], Dict[str, Any]] = {}
    for obj in objects:
        key = (obj["field"], obj["type"])
        kept = seen.setdefault(key, obj)
        score, old = obj.get("score"), kept.get("score")
        if is_number(score) and is_number(old) and score > old:
            seen[key] = obj
    return [seen[key] for key in sorted(seen)]


def _make_detection(f: Dict[str, Any]) -> Detection:
    return Detection(
        id=f["id"], name=f["name"], type=f["type"], status=f["status"], version=f["version"],
        date=f["date"], author=f["author"], description=f["description"], search=f["search"],
        how_to_implement=f["how_to_implement"], known_false_positives=f["known_false_positives"],
        references=tuple(f["references"]), mitre_attack_id=tuple(f["mitre_attack_id"]),
        analytic_story=tuple(f["analytic_story"]), data_source=tuple(f["data_source"]),
        security_domain=f["security_domain"], platform=f["platform"], risk_message=f["risk_message"],
        risk_objects=tuple(RiskObject(o["field"], o["type"], o["score"]) for o in f["risk_objects"]),
        threat_objects=tuple(ThreatObject(o["field"], o["type"]) for o in f["threat_objects"]),
        source_path=f["source_path"], source_commit=f["source_commit"], era=f["era"],
    )


# ------------------------------------------------------------------ stories, macros, the rest

def _story_fields(path: str, doc: Dict[str, Any], commit: str) -> Dict[str, Any]:
    tags = mapping(doc, "tags")
    usecase = tags.get("usecase")
    if isinstance(usecase, list):
        usecase = ", ".join(texts(usecase, "tags.usecase"))
    return {
        "id": text(doc, "id").lower(),
        "name": text(doc, "name"),
        "version": whole_number(doc.get("version")),
        "date": parse_date(doc, "modification_date", "creation_date", "date"),
        "author": text(doc, "author"),
        "description": text(doc, "description"),
        "narrative": text(doc, "narrative"),
        "references": texts(doc.get("references"), "references"),
        "category": texts(tags.get("category"), "tags.category"),
        "product": texts(tags.get("product"), "tags.product"),
        "usecase": scalar_text(usecase, "tags.usecase"),
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
