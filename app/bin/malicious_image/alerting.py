"""Notable and risk events from one result row of a rule: the app's one builder.

Used by the custom alert action ``malicious_image_notable`` (Splunk without Enterprise Security)
and by ``build.py replay``, so what the replay prints is what the action writes.

The risk events carry the fields Enterprise Security's risk index carries: ``risk_object``,
``risk_object_type``, ``risk_score``, ``risk_message``, ``threat_object`` and
``threat_object_type`` (aligned multivalues), ``search_name`` and ``source`` (the saved search),
``annotations.mitre_attack``, plus every field of the result (as ES's risk action copies them), so
the correlation rules can sum ``risk_score`` by ``user`` or ``repository`` in either mode.

Settings come from the saved search's ``action.malicious_image_notable.param.*`` keys (rendered
from rules/ next to ES's ``action.notable.param.*`` and ``action.risk.param.*``; see
README/savedsearches.conf.spec). Pure Python, Python 3.9+, no splunklib.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Sequence, Tuple, Union

from malicious_image.settings import is_true

FieldValue = Union[str, List[str]]
Row = Mapping[str, FieldValue]
ACTION_NAME = "malicious_image_notable"
PARAM_PREFIX = f"action.{ACTION_NAME}.param."
ES_SEVERITIES = ("informational", "low", "medium", "high", "critical", "unknown")
_TOKEN = re.compile(r"\$([A-Za-z0-9_.:{}\-]+)(\|s)?\$")
_INDEX_TERM = re.compile(r"(?<![\w.])index\s*=\s*(\"[^\"]*\"|[^\s()\"]+)", re.IGNORECASE)
NOTABLE_SOURCETYPE = "malicious_image:notable"
RISK_SOURCETYPE = "malicious_image:risk"
NOTABLE_INDEX_MACRO = "malicious_image_notable_index"
RISK_INDEX_MACRO = "malicious_image_risk_index"
# Fields the action writes as JSON arrays when multivalue: Splunk extracts them as ``<name>{}``;
# props.conf [malicious_image:notable] and [malicious_image:risk] turn them back into ``<name>``
# (EVAL-<name> = coalesce('<name>{}', '<name>')), so they read as ES's do. Keep the two in step
# (tests/unit/test_alert_content.py checks it).
MULTIVALUE_FIELDS = (
    "threat_object",
    "threat_object_type",
    "annotations.mitre_attack",
    "annotations.analytic_story",
    "user",
    "src_ip",
    "repository",
    "imageTag",
    "imageDigest",
    "signals",
    "finding_severity",
    "finding_source",
)
_RESERVED = frozenset(
    {
        "_time",
        "rule_name",
        "rule_title",
        "rule_description",
        "search_name",
        "source",
        "severity",
        "security_domain",
        "risk_object",
        "risk_object_type",
        "risk_object_field",
        "risk_score",
        "risk_message",
        "threat_object",
        "threat_object_type",
        "annotations.mitre_attack",
        "annotations.analytic_story",
        "drilldown_searches",
        "detection_id",
        "orig_sid",
        "event_id",
        "status",
        "owner",
        "mitre_attack_technique",
        "info_search_time",
    }
)


class AlertSettingsError(ValueError):
    """The alert settings of a saved search are incomplete or malformed."""


@dataclass(frozen=True)
class RiskEntry:
    """One element of ``_risk``: a risk object (field, type, score) or a threat object (field, type)."""

    field: str
    object_type: str
    score: int | None  # None for a threat object

    @property
    def is_threat(self) -> bool:
        """True for a threat object, False for a risk object."""
        return self.score is None


@dataclass(frozen=True)
class AlertSettings:
    """What one saved search says about its notables and risk events."""

    search_name: str
    rule_name: str
    detection_id: str
    detection_type: str
    notable: bool
    rule_title: str
    rule_description: str
    severity: str
    security_domain: str
    mitre_attack: Tuple[str, ...]
    analytic_story: Tuple[str, ...]
    risk_message: str
    risk: Tuple[RiskEntry, ...]
    drilldown_searches: Tuple[Dict[str, str], ...]


def _split_list(value: str) -> Tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def parse_risk(text: str) -> Tuple[RiskEntry, ...]:
    """Parse a ``_risk`` JSON list into risk entries.

    Raises:
        AlertSettingsError: the text is not a JSON list of risk or threat objects.
    """
    try:
        items = json.loads(text or "[]")
    except json.JSONDecodeError as exc:
        raise AlertSettingsError(f"param.risk is not valid JSON: {exc.msg} at position {exc.pos}") from exc
    if not isinstance(items, list):
        raise AlertSettingsError("param.risk must be a JSON list")
    entries = []
    for item in items:
        if not isinstance(item, dict):
            raise AlertSettingsError("param.risk elements must be JSON objects")
        if "risk_object_field" in item:
            try:
                score = int(item.get("risk_score", 0))
            except (TypeError, ValueError) as exc:
                raise AlertSettingsError(f"param.risk: risk_score {item.get('risk_score')!r} is not a number") from exc
            entries.append(RiskEntry(str(item["risk_object_field"]), str(item.get("risk_object_type", "other")), score))
        elif "threat_object_field" in item:
            entries.append(
                RiskEntry(str(item["threat_object_field"]), str(item.get("threat_object_type", "other")), None)
            )
        else:
            raise AlertSettingsError("param.risk elements need risk_object_field or threat_object_field")
    return tuple(entries)


def settings_from_params(search_name: str, params: Mapping[str, str]) -> AlertSettings:
    """Build settings from the action's parameters (``param.*`` without the prefix).

    This is the ``configuration`` object splunkd sends the alert action.

    Raises:
        AlertSettingsError: a required parameter is missing or malformed.
    """
    if not search_name:
        raise AlertSettingsError("the saved search name is empty")
    try:
        drilldowns = json.loads(params.get("drilldown_searches") or "[]")
    except json.JSONDecodeError as exc:
        raise AlertSettingsError(f"param.drilldown_searches is not valid JSON: {exc.msg}") from exc
    if not isinstance(drilldowns, list):
        raise AlertSettingsError("param.drilldown_searches must be a JSON list")
    severity = str(params.get("severity") or "medium").lower()
    return AlertSettings(
        search_name=search_name,
        rule_name=str(params.get("rule_name") or search_name),
        detection_id=str(params.get("detection_id") or ""),
        detection_type=str(params.get("detection_type") or ""),
        notable=is_true(params.get("notable", "1")),
        rule_title=str(params.get("rule_title") or params.get("rule_name") or search_name),
        rule_description=str(params.get("rule_description") or ""),
        severity=severity if severity in ES_SEVERITIES else "unknown",
        security_domain=str(params.get("security_domain") or "network"),
        mitre_attack=_split_list(str(params.get("mitre_attack") or "")),
        analytic_story=_split_list(str(params.get("analytic_story") or "")),
        risk_message=str(params.get("risk_message") or ""),
        risk=parse_risk(str(params.get("risk") or "[]")),
        drilldown_searches=tuple(dict(d) for d in drilldowns if isinstance(d, dict)),
    )


def settings_from_savedsearch(search_name: str, stanza: Mapping[str, str]) -> AlertSettings:
    """Build settings from a savedsearches.conf stanza (its ``action.malicious_image_notable.param.*``)."""
    params = {key[len(PARAM_PREFIX) :]: value for key, value in stanza.items() if key.startswith(PARAM_PREFIX)}
    return settings_from_params(search_name, params)


def values_of(row: Row, field: str) -> List[str]:
    """Return the non-empty values of ``field`` in ``row`` as a list (multivalue aware)."""
    value = row.get(field)
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple)) else [value]
    return [str(item) for item in items if str(item) != ""]


def quote_spl(text: str) -> str:
    """``text`` as an SPL quoted string (the ``|s`` token filter): backslashes and quotes escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def substitute_tokens(template: str, row: Row) -> str:
    """Replace ``$field$`` with the row's value (multivalues joined by ", ", missing fields by "");
    ``$field|s$`` gives the value as a quoted SPL string, safe in a drilldown search."""

    def value(match: re.Match[str]) -> str:
        text = ", ".join(values_of(row, match.group(1)))
        return quote_spl(text) if match.group(2) else text

    return _TOKEN.sub(value, template)


def _copy_result_fields(row: Row) -> Dict[str, Any]:
    """The result's fields, shortest values first: Splunk's automatic JSON extraction reads only
    the first 5000 bytes of an event (limits.conf [spath] extraction_cutoff), so the short
    identifying fields (user, repository, ...) must not come after a long finding text."""
    copied: Dict[str, Any] = {}
    for key, value in row.items():
        name = f"orig_{key}" if key in _RESERVED else key
        copied[name] = list(value) if isinstance(value, (list, tuple)) else value
    order = sorted(copied, key=lambda k: len(json.dumps(copied[k], default=str)))
    return {key: copied[key] for key in order}


def index_from_macro(definition: str, macro: str = "") -> str:
    """The index an index macro names (``index=risk``, ``index="main" sourcetype=x``).

    The alert action writes where the dashboard and the correlations read: one setting.

    Raises:
        AlertSettingsError: the definition names no index or more than one.
    """
    found = [m.group(1).strip('"') for m in _INDEX_TERM.finditer(definition or "")]
    if len(found) != 1 or not found[0] or "*" in found[0]:
        raise AlertSettingsError(
            f"macro {macro or 'definition'} must name exactly one index (index=<name>) for the alert action "
            f"to write to, not {definition!r}; or set the action's notable_index / risk_index"
        )
    return found[0]


def macro_definition(conf_texts: Sequence[str], macro: str) -> str | None:
    """The ``definition`` of ``[macro]`` in macros.conf texts, the first text winning (local before
    default, as Splunk layers an app's conf files); lines ending in ``\\`` continue."""
    for text in conf_texts:
        stanza = None
        lines = text.replace("\\\n", " ").splitlines()
        for line in lines:
            stripped = line.strip()
            if stripped.startswith("[") and stripped.endswith("]"):
                stanza = stripped[1:-1].strip()
            elif stanza == macro and "=" in stripped and not stripped.startswith("#"):
                key, _, value = stripped.partition("=")
                if key.strip() == "definition":
                    return value.strip()
    return None


def _event_id(settings: AlertSettings, sid: str, index: int, row: Row) -> str:
    digest = hashlib.sha256()
    digest.update(f"{settings.search_name}\x00{sid}\x00{index}\x00".encode())
    digest.update(json.dumps(row, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:32]


def build_notable(row: Row, settings: AlertSettings, *, time: float, sid: str = "", index: int = 0) -> Dict[str, Any]:
    """Return the notable event of one result row.

    Severity is the row's ``severity`` when it is one ES knows (as ES does), else the rule's.
    """
    row_severity = (values_of(row, "severity") or [""])[0].lower()
    risk_objects = [entry for entry in settings.risk if not entry.is_threat]
    first = risk_objects[0] if risk_objects else None
    event: Dict[str, Any] = {
        "_time": time,
        "rule_name": settings.rule_name,
        "rule_title": substitute_tokens(settings.rule_title, row),
        "rule_description": substitute_tokens(settings.rule_description, row),
        "search_name": settings.search_name,
        "source": settings.search_name,
        "detection_id": settings.detection_id,
        "severity": row_severity if row_severity in ES_SEVERITIES else settings.severity,
        "security_domain": settings.security_domain,
        "risk_object": ", ".join(values_of(row, first.field)) if first else "",
        "risk_object_type": first.object_type if first else "",
        "risk_score": first.score if first else 0,
        "annotations.mitre_attack": list(settings.mitre_attack),
        "mitre_attack_technique": settings.mitre_attack[0] if settings.mitre_attack else "",
        "annotations.analytic_story": list(settings.analytic_story),
        "drilldown_searches": [
            {
                key: substitute_tokens(str(value), row) if key in ("name", "search") else str(value)
                for key, value in drill.items()
            }
            for drill in settings.drilldown_searches
        ],
        "status": "new",
        "owner": "unassigned",
        "orig_sid": sid,
        "event_id": _event_id(settings, sid, index, row),
    }
    event.update(_copy_result_fields(row))
    event["drilldown_searches"] = event.pop("drilldown_searches")  # long: after the short fields
    return event


def build_risk_events(row: Row, settings: AlertSettings, *, time: float) -> List[Dict[str, Any]]:
    """Return the risk events of one result row: one per value of every risk object field.

    Threat objects (all values of all threat object fields) ride on every risk event as aligned
    multivalues ``threat_object`` / ``threat_object_type``. A risk object field with no value in
    the row creates no risk event.
    """
    threats: List[str] = []
    threat_types: List[str] = []
    for entry in settings.risk:
        if entry.is_threat:
            for value in values_of(row, entry.field):
                threats.append(value)
                threat_types.append(entry.object_type)
    message = substitute_tokens(settings.risk_message, row)
    events: List[Dict[str, Any]] = []
    for entry in settings.risk:
        if entry.is_threat:
            continue
        for value in values_of(row, entry.field):
            event: Dict[str, Any] = {
                "_time": time,
                "risk_object": value,
                "risk_object_type": entry.object_type,
                "risk_object_field": entry.field,
                "risk_score": entry.score,
                "risk_message": message,
                "threat_object": list(threats),
                "threat_object_type": list(threat_types),
                "search_name": settings.search_name,
                "source": settings.search_name,
                "detection_id": settings.detection_id,
                "annotations.mitre_attack": list(settings.mitre_attack),
                "annotations.analytic_story": list(settings.analytic_story),
            }
            event.update(_copy_result_fields(row))
            events.append(event)
    return events


def triggering_rows(
    per_result: bool, result: Mapping[str, Any] | None, read_all: Callable[[], List[Dict[str, Any]]]
) -> List[Dict[str, Any]]:
    """The result rows one run of the action must write.

    In per-result alerting (``alert.digest_mode = 0``, the throttled correlations: rendered with
    ``param.per_result = 1``) splunkd runs the action once per result that is not throttled, with
    that result in the payload's ``result``: writing the whole results file there would write every
    row once per row, throttled rows included. Otherwise (digest mode) every row of the results file.
    """
    if per_result and isinstance(result, Mapping) and result:
        row: Dict[str, Any] = {}
        for key, value in result.items():
            if str(key).startswith("__mv_"):
                continue
            row[str(key)] = [str(v) for v in value] if isinstance(value, (list, tuple)) else str(value)
        return [row]
    return read_all()


def build_events(
    rows: Sequence[Row], settings: AlertSettings, *, time: float, sid: str = ""
) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """Return (notables, risk events) of all result rows of one run."""
    notables: List[Dict[str, Any]] = []
    risks: List[Dict[str, Any]] = []
    for index, row in enumerate(rows):
        if settings.notable:
            notables.append(build_notable(row, settings, time=time, sid=sid, index=index))
        risks.extend(build_risk_events(row, settings, time=time))
    return notables, risks
