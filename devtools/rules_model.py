"""The app's rules as code: read ``rules/`` (security_content era-B YAML) into small records.

``rules/detections/*.yml`` hold the seven T1204.003 rules, ``rules/baselines/*.yml`` the baseline
search that keeps the known-pushers lookup, ``rules/macros/*.yml`` and ``rules/lookups/*.yml`` the
macros and lookup definitions they use. The files follow security_content's own format so the
app's content reader (``malicious_image.content.reader``) reads them like synced content; when that
reader is importable, :func:`load_rules` also runs every file through it and fails on a rejection
or a disagreement, so the sync and the renderer can never read the same file differently.

The risk-object mapping follows contentctl 4.4 (``Detection.risk``): an observable with role
Victim and type User is a ``user`` risk object, Victim with a device type a ``system`` risk object,
Attacker an threat object (IP Address -> ``ip_address``, ...), anything else an ``other`` risk object.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
RULES_DIR = ROOT / "rules"
STANZA_PREFIX = "Malicious Image - "

_USER_TYPES = {"user", "username", "email address"}
_SYSTEM_TYPES = {"device", "endpoint", "hostname", "ip address"}
_THREAT_TYPES = {
    "process name": "process",
    "process": "process",
    "file name": "file_name",
    "file": "file_name",
    "file hash": "file_name",
    "ip address": "ip_address",
    "url string": "url",
    "url": "url",
}


class RuleFileError(ValueError):
    """A file under rules/ is invalid; the message names the file and the problem."""


@dataclass(frozen=True)
class Rule:
    """One detection or baseline of rules/, with what the conf renderer needs."""

    path: Path
    name: str
    id: str
    version: int
    date: str
    status: str
    type: str
    description: str
    search: str
    how_to_implement: str
    known_false_positives: str
    mitre_attack_id: list[str]
    analytic_story: list[str]
    confidence: int
    impact: int
    risk_score: int
    message: str
    security_domain: str
    observables: list[dict[str, Any]]
    drilldown_searches: list[dict[str, str]]
    scheduling: dict[str, str] = field(default_factory=dict)

    @property
    def stanza(self) -> str:
        """Saved search stanza name: ``Malicious Image - <name> - Rule`` (baselines keep their name)."""
        if self.type == "Baseline":
            return STANZA_PREFIX + self.name
        return f"{STANZA_PREFIX}{self.name} - Rule"

    @property
    def filter_macro(self) -> str:
        """The ``malicious_image_<rule>_filter`` macro the search must end with (app-unique: ESCU
        exports ``<rule>_filter`` system-wide for its own copies of the upstream rules)."""
        return "malicious_image_" + self.path.stem + "_filter"

    @property
    def one_line_search(self) -> str:
        """The search on one line (conf values cannot hold raw newlines)."""
        return one_line(self.search)

    @property
    def severity(self) -> str:
        """Notable severity from the risk score, as contentctl 4.4 (``DetectionTags.severity``)."""
        score = self.risk_score
        for limit, name in ((20, "informational"), (40, "low"), (60, "medium"), (80, "high")):
            if score <= limit:
                return name
        return "critical"

    @property
    def creates_notable(self) -> bool:
        """TTP and Correlation rules raise notables; Anomaly rules raise risk only (ESCU)."""
        return self.type in ("TTP", "Correlation")

    @property
    def risk(self) -> list[dict[str, Any]]:
        """Risk objects and threat objects (``action.risk.param._risk``)."""
        return risk_entries(self.observables, self.risk_score)

    def risk_json(self) -> str:
        """``_risk`` as ESCU writes it: threat objects first, then risk objects, compact JSON."""
        threats = [entry for entry in self.risk if "threat_object_field" in entry]
        objects = [entry for entry in self.risk if "risk_object_field" in entry]
        return json.dumps(threats + objects)

    def drilldowns(self) -> list[dict[str, str]]:
        """Drilldowns with ``%original_detection_search%`` replaced by the search (contentctl)."""
        result = []
        for drill in self.drilldown_searches:
            item = dict(drill)
            item["search"] = item["search"].replace("%original_detection_search%", self.one_line_search)
            result.append(item)
        return result


@dataclass(frozen=True)
class MacroDef:
    """One macro of rules/macros."""

    name: str
    definition: str
    description: str
    arguments: list[str]

    @property
    def stanza(self) -> str:
        """``name`` or ``name(N)`` for a macro with N arguments."""
        return f"{self.name}({len(self.arguments)})" if self.arguments else self.name


@dataclass(frozen=True)
class LookupDef:
    """One CSV lookup definition of rules/lookups."""

    name: str
    filename: str
    description: str
    case_sensitive_match: str = "true"


def one_line(text: str) -> str:
    """Join a multi-line SPL string into one line (newlines are whitespace in SPL)."""
    return " ".join(part.strip() for part in text.strip().splitlines() if part.strip())


def risk_entries(observables: list[dict[str, Any]], risk_score: int) -> list[dict[str, Any]]:
    """Map era-B observables to risk and threat objects the way contentctl 4.4 does."""
    entries: list[dict[str, Any]] = []
    for item in observables:
        roles = item.get("role") or []
        kind = str(item.get("type", "")).lower()
        name = item["name"]
        if "Victim" in roles and kind in _USER_TYPES:
            entries.append({"risk_object_field": name, "risk_object_type": "user", "risk_score": risk_score})
        elif "Victim" in roles and kind in _SYSTEM_TYPES:
            entries.append({"risk_object_field": name, "risk_object_type": "system", "risk_score": risk_score})
        elif "Attacker" in roles:
            entries.append({"threat_object_field": name, "threat_object_type": _THREAT_TYPES.get(kind, kind)})
        else:
            entries.append({"risk_object_field": name, "risk_object_type": "other", "risk_score": risk_score})
    return entries


def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RuleFileError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise RuleFileError(f"{path}: expected a mapping at the top level")
    return data


def _require(data: dict[str, Any], key: str, path: Path) -> Any:
    if key not in data or data[key] in (None, ""):
        raise RuleFileError(f"{path}: missing required key {key!r}")
    return data[key]


def _rule_from(path: Path, data: dict[str, Any]) -> Rule:
    tags = data.get("tags") or {}
    rule_type = str(_require(data, "type", path))
    is_baseline = rule_type == "Baseline"
    scheduling = dict((data.get("deployment") or {}).get("scheduling") or {})
    rule = Rule(
        path=path,
        name=str(_require(data, "name", path)),
        id=str(_require(data, "id", path)),
        version=int(_require(data, "version", path)),
        date=str(_require(data, "date", path)),
        status=str(data.get("status", "production")),
        type=rule_type,
        description=one_line(str(_require(data, "description", path))),
        search=str(_require(data, "search", path)).strip(),
        how_to_implement=one_line(str(data.get("how_to_implement", ""))),
        known_false_positives=one_line(str(data.get("known_false_positives", ""))),
        mitre_attack_id=list(tags.get("mitre_attack_id") or []),
        analytic_story=list(tags.get("analytic_story") or []),
        confidence=int(tags.get("confidence", 0) or 0),
        impact=int(tags.get("impact", 0) or 0),
        risk_score=int(tags.get("risk_score", 0) or 0),
        message=str(tags.get("message", "")),
        security_domain=str(tags.get("security_domain", "network")),
        observables=list(tags.get("observable") or []),
        drilldown_searches=list(data.get("drilldown_searches") or []),
        scheduling={key: str(value) for key, value in scheduling.items()},
    )
    if not is_baseline:
        if not rule.one_line_search.rstrip().endswith(f"`{rule.filter_macro}`"):
            raise RuleFileError(f"{path}: the search must end with the `{rule.filter_macro}` macro")
        if not rule.mitre_attack_id or not rule.message:
            raise RuleFileError(f"{path}: tags.mitre_attack_id and tags.message are required")
        if not any("risk_object_field" in e for e in rule.risk) or not any(
            "threat_object_field" in e for e in rule.risk
        ):
            raise RuleFileError(f"{path}: observables must give at least one risk object and one threat object")
    return rule


def load_rules(root: Path = RULES_DIR) -> tuple[list[Rule], list[Rule]]:
    """Return (detections, baselines) of ``root``, sorted by file name.

    Raises:
        RuleFileError: a file is invalid, or the app's reader rejects it or reads it differently.
    """
    detections = [_rule_from(p, _load_yaml(p)) for p in sorted((root / "detections").glob("*.yml"))]
    baselines = [_rule_from(p, _load_yaml(p)) for p in sorted((root / "baselines").glob("*.yml"))]
    for rule in detections:
        _cross_check_with_reader(rule)
    return detections, baselines


def load_macros(root: Path = RULES_DIR) -> list[MacroDef]:
    """Return the macros of ``root/macros`` sorted by name."""
    macros = []
    for path in sorted((root / "macros").glob("*.yml")):
        data = _load_yaml(path)
        macros.append(
            MacroDef(
                name=str(_require(data, "name", path)),
                definition=str(_require(data, "definition", path)).strip(),
                description=one_line(str(data.get("description", ""))),
                arguments=[str(a) for a in data.get("arguments") or []],
            )
        )
    return sorted(macros, key=lambda m: m.name)


def load_lookups(root: Path = RULES_DIR) -> list[LookupDef]:
    """Return the lookup definitions of ``root/lookups`` sorted by name."""
    lookups = []
    for path in sorted((root / "lookups").glob("*.yml")):
        data = _load_yaml(path)
        lookups.append(
            LookupDef(
                name=str(_require(data, "name", path)),
                filename=str(_require(data, "filename", path)),
                description=one_line(str(data.get("description", ""))),
                case_sensitive_match=str(data.get("case_sensitive_match", "true")),
            )
        )
    return lookups


def reader_view(rule: Rule) -> dict[str, Any]:
    """What the app's content reader must read from the rule file (the fields both sides model)."""
    objects = rule.risk
    return {
        "id": rule.id,
        "name": rule.name,
        "type": rule.type,
        "status": rule.status,
        "version": rule.version,
        "mitre_attack_id": tuple(rule.mitre_attack_id),
        "analytic_story": tuple(rule.analytic_story),
        "risk_message": rule.message,
        "risk_objects": sorted(
            (e["risk_object_field"], e["risk_object_type"], e["risk_score"]) for e in objects if "risk_score" in e
        ),
        "threat_objects": sorted(
            (e["threat_object_field"], e["threat_object_type"]) for e in objects if "threat_object_field" in e
        ),
    }


def _record_view(record: Any) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "type": record.type,
        "status": record.status,
        "version": int(record.version),
        "mitre_attack_id": tuple(record.mitre_attack_id),
        "analytic_story": tuple(record.analytic_story),
        "risk_message": record.risk_message,
        "risk_objects": sorted((o.field, o.type, o.score) for o in record.risk_objects),
        "threat_objects": sorted((o.field, o.type) for o in record.threat_objects),
    }


def _cross_check_with_reader(rule: Rule) -> None:
    """Run the app's reader over the rule file when it exists; fail on rejection or disagreement."""
    try:
        from malicious_image.content import reader  # type: ignore[import-not-found]
    except ImportError:
        return
    member = f"detections/cloud/{rule.path.name}"
    result = reader.read_member(member, rule.path.read_bytes())
    if getattr(result, "rejection", None) is not None:
        raise RuleFileError(f"{rule.path}: the app's content reader rejects it: {result.rejection.reason}")
    if getattr(result, "record", None) is None:
        raise RuleFileError(f"{rule.path}: the app's content reader returned no record")
    mine, theirs = reader_view(rule), _record_view(result.record)
    for key in mine:
        if mine[key] != theirs[key]:
            raise RuleFileError(
                f"{rule.path}: the content reader reads {key}={theirs[key]!r}, the renderer {mine[key]!r}"
            )
