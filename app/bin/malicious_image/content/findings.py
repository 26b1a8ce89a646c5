"""What a detection raises, in every era: risk objects, threat objects, message, finding kind.

Used by reader.py only (docs/content-model.md, "Risk and threat objects"). Every era is reduced
to contentctl v5's shape: risk objects ``{field, type, score, message}`` and threat objects
``{field, type}``, sorted by (field, type) without repeats.

* A, B: ``tags.observable[{name, type, role[]}]`` with ``tags.message`` and the legacy score
  (``round(confidence * impact / 100)``, else ``tags.risk_score``).
* C1 (contentctl v5): ``rba: {message, risk_objects[{field, type, score}], threat_objects[]}``.
* C2 (ESCU 6, seen in splunk/security_content ``develop`` since May 2026):
  ``finding: {title, entity: {field, type, score}}`` (a finding, a notable in ES 8) and/or
  ``intermediate_findings: {entities: [{field, type, score, message}]}`` (risk events only, each
  entity with its own message), and top-level ``threat_objects[]``. A file that mixes eras (an
  ESCU 6 ``removed/`` file that kept ``rba:``) is read from ``rba`` when it has no finding block;
  a top-level ``threat_objects`` wins over ``rba.threat_objects``.

``finding_kind`` says what the detection produces in ES 8 terms (ES 8 calls notables
"findings" and risk events "intermediate findings"): from the C2 blocks present (an ESCU 6
file with neither produces ``none``); for earlier
eras from how ESCU rendered them (contentctl 4-5: TTP gets the notable and the risk action,
Anomaly risk only, Correlation a notable only, Hunting neither).
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

from malicious_image.content.values import ContentError, is_number, kind_of, mapping, text, texts, whole_number

__all__ = ["Findings", "finding_kind", "read_findings"]

Findings = Tuple[str, List[Dict[str, Any]], List[Dict[str, Any]]]
"""(risk message, risk objects, threat objects), objects as plain dicts for the schema check."""

# contentctl 4.4 (detection_abstract.risk): observable type -> risk / threat object type.
_RISK_USER = frozenset(("user", "username", "email address"))
_RISK_SYSTEM = frozenset(("device", "endpoint", "hostname", "ip address"))
_THREAT_TYPES = {
    "process name": "process", "process": "process",
    "file name": "file_name", "file": "file_name", "file hash": "file_name",
    "ip address": "ip_address",
    "url string": "url", "url": "url",
}


def read_findings(doc: Dict[str, Any], tags: Dict[str, Any], era: str) -> Findings:
    """The risk message, risk objects and threat objects of a detection of ``era``.

    Raises:
        ContentError: a block has the wrong shape (the message names the field).
    """
    if era in ("A", "B"):
        return _risk_observables(tags, era)
    if "finding" in doc or "intermediate_findings" in doc:
        message, risks, threats = _risk_c2(doc)
    elif "rba" in doc:
        message, risks, threats = _risk_c1(doc)
    elif "observable" in tags:
        message, risks, threats = _risk_observables(tags, "B")
    else:
        message, risks, threats = "", [], []
    if "threat_objects" in doc:  # ESCU 6's top-level key wins over a leftover rba block
        threats = _sorted_unique(_objects(doc.get("threat_objects"), "threat_objects", scored=False))
    return message, risks, threats


def finding_kind(doc: Dict[str, Any], era: str, detection_type: str, has_risk: bool) -> str:
    """``finding``, ``intermediate``, ``both`` or ``none`` (see the module docstring)."""
    if "finding" in doc or "intermediate_findings" in doc or (era == "C2" and "rba" not in doc):
        finding = bool(mapping(doc, "finding"))
        intermediate = bool(mapping(doc, "intermediate_findings"))
    else:
        finding = detection_type in ("TTP", "Correlation")
        intermediate = has_risk and detection_type in ("TTP", "Anomaly")
    if finding and intermediate:
        return "both"
    return "finding" if finding else "intermediate" if intermediate else "none"


def _risk_observables(tags: Dict[str, Any], era: str) -> Findings:
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
    message = text(tags, "message", "tags.")
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
        risk = {"field": name, "type": entity, "score": score, "message": message}
        if era == "A":
            if not entity:
                threats.append({"field": name, "type": _threat_type(kind)})
            elif roles & {"attacker", "victim"}:
                risks.append(risk)
        elif entity and "victim" in roles:
            risks.append(risk)
        elif "attacker" in roles:
            threats.append({"field": name, "type": _threat_type(kind)})
        else:
            risks.append(dict(risk, type="other"))
    if risks and score is None:
        raise ContentError(
            "tags have observables but no risk score (tags.risk_score, or confidence and impact)"
        )
    return message, _sorted_unique(risks), _sorted_unique(threats)


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


def _risk_c1(doc: Dict[str, Any]) -> Findings:
    """contentctl v5: rba {message, risk_objects[{field, type, score}], threat_objects[{field, type}]}."""
    rba = mapping(doc, "rba")
    message = text(rba, "message", "rba.")
    risks = _objects(rba.get("risk_objects"), "rba.risk_objects", scored=True, message=message)
    threats = _objects(rba.get("threat_objects"), "rba.threat_objects", scored=False)
    return message, _sorted_unique(risks), _sorted_unique(threats)


def _risk_c2(doc: Dict[str, Any]) -> Findings:
    """ESCU 6: finding {title, entity}, intermediate_findings {entities[{..., message}]}."""
    finding = mapping(doc, "finding")
    title = text(finding, "title", "finding.")
    entity = finding.get("entity")
    entities = entity if isinstance(entity, list) else ([] if entity is None else [entity])
    risks = _objects(entities, "finding.entity", scored=True, message=title)
    intermediate = mapping(doc, "intermediate_findings")
    fallback = text(intermediate, "title", "intermediate_findings.")  # not seen upstream; accepted
    risks += _objects(intermediate.get("entities"), "intermediate_findings.entities", scored=True,
                      message=fallback or title)
    message = title or fallback or next((r["message"] for r in risks if r["message"]), "")
    for risk in risks:
        risk["message"] = risk["message"] or message
    return message, _sorted_unique(risks), []


def _objects(value: Any, where: str, *, scored: bool, message: str = "") -> List[Dict[str, Any]]:
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
            obj["message"] = text(item, "message", here + ".") or message
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
