"""Replay CloudTrail records through the app's saved searches exactly as shipped.

What runs: every stanza of ``app/default/savedsearches.conf`` (read with devtools.conffile), its
``search`` with the macros of ``app/default/macros.conf`` and the lookups of
``app/default/transforms.conf`` + ``app/lookups/``, on the SPL evaluator (devtools.spl). Records
become Splunk events with the Splunk Add-on for AWS 7.7.1 search-time fields
(devtools.cloudtrail.fields). Notables and risk events come from the app's own builder
(``malicious_image.alerting``) fed with each stanza's ``action.malicious_image_notable.param.*``,
so the replay shows what the alert action writes.

Time (one scheduled run of every rule at ``now``):

- With ``now``: each search sees only the events of its dispatch window relative to ``now``
  (``-70m@m`` to ``-10m@m``). The baseline of known pushers is first run over the 30 days before
  the window (as if it had been running all month), writing the known-pushers lookup in memory
  (never into app/lookups). The correlation rules run at their next schedule, ``now`` + 1 hour,
  over the risk events the rules created at ``now``: that is when Splunk's hourly correlation
  first sees them.
- Without ``now`` (the default): windows are off, every search sees every record; ``now`` is the
  latest event time; the baseline is not run, so the known-pushers lookup is the shipped one
  (empty) and every pusher not on the allow-list counts as unknown.

The evaluator raises on any command or function it lacks: nothing is silently skipped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Sequence, Union

from devtools.cloudtrail import fields as ct_fields
from devtools.conffile import read_conf
from devtools.paths import APP, ROOT, use_app_package  # noqa: F401 - ROOT is used by callers
from devtools.spl import LookupStore, Macro, SearchContext, macros_from_conf, run_search
from devtools.spl.evalexpr import parse_expression
from devtools.spl.evalnodes import Env
from devtools.spl.jsonpath import flatten_text
from devtools.spl.timefmt import get_zone, relative_time

use_app_package()

from malicious_image import alerting  # noqa: E402

RULE_SUFFIX = " - Rule"
BASELINE_HISTORY = "-30d@d"
CORRELATION_DELAY = 3600.0
Row = Dict[str, Any]


class ReplayError(RuntimeError):
    """The replay cannot run (missing conf, bad --now, unreadable events)."""


@dataclass
class RuleResult:
    """What one saved search produced in the replay."""

    stanza: str
    rule: str
    rows: List[Row]
    risks: List[Row] = field(default_factory=list)
    notables: List[Row] = field(default_factory=list)


@dataclass
class Outcome:
    """Everything a replay produced, rules in run order (correlations last)."""

    now: float
    windowed: bool
    results: List[RuleResult]
    baseline_rows: List[Row] = field(default_factory=list)

    @property
    def risks(self) -> List[Row]:
        """All risk events, in rule order."""
        return [risk for result in self.results for risk in result.risks]

    @property
    def notables(self) -> List[Row]:
        """All notable events, in rule order."""
        return [notable for result in self.results for notable in result.notables]


@dataclass
class App:
    """The app's searches, macros and lookups as shipped."""

    savedsearches: Dict[str, Dict[str, str]]
    macros: Dict[str, Any]
    transforms: Dict[str, Dict[str, str]]
    lookup_dir: Path
    extra_lookup_dirs: List[Path] = field(default_factory=list)

    @classmethod
    def load(cls, app_dir: Path = APP) -> App:
        """Read app/default/{savedsearches,macros,transforms}.conf."""
        default = app_dir / "default"
        for name in ("savedsearches.conf", "macros.conf", "transforms.conf"):
            if not (default / name).exists():
                raise ReplayError(f"{default / name} is missing; run python3 build.py render")
        return cls(
            savedsearches=read_conf(default / "savedsearches.conf"),
            macros=macros_from_conf(read_conf(default / "macros.conf")),
            transforms=read_conf(default / "transforms.conf"),
            lookup_dir=app_dir / "lookups",
        )

    def lookups(self) -> LookupStore:
        """A fresh lookup store: outputlookup writes stay in memory, per replay.

        ``extra_lookup_dirs`` come first, so a test or an admin's copy of a lookup (allow-list,
        known pushers) shadows the shipped file of the same name.
        """
        return LookupStore(definitions=self.transforms, lookup_dirs=[*self.extra_lookup_dirs, self.lookup_dir])

    def set_macro(self, name: str, definition: str) -> None:
        """Override one macro, as an admin's local/macros.conf would."""
        self.macros[name] = Macro(definition)

    def rules(self) -> List[str]:
        """Detection stanzas in file order, correlation rules last."""
        names = [n for n in self.savedsearches if n.endswith(RULE_SUFFIX)]
        return [n for n in names if not self._is_correlation(n)] + [n for n in names if self._is_correlation(n)]

    def baselines(self) -> List[str]:
        """Baseline (support) stanzas whose output lookup a rule reads (directly or through a
        macro); the dashboard's baselines (data inventory, rule activity) feed no rule and are not
        replayed."""
        read_by_rules = " ".join(
            [self.savedsearches[n].get("search", "") for n in self.rules()]
            + [str(getattr(m, "definition", m)) for m in self.macros.values()]
        )
        found = []
        for name, stanza in self.savedsearches.items():
            if stanza.get("action.escu.search_type") != "support" or "search" not in stanza:
                continue
            outputs = re.findall(r"\|\s*outputlookup\s+(?:\w+=\S+\s+)*([\w.]+)", stanza["search"])
            if any(re.search(rf"\b{re.escape(lookup)}\b", read_by_rules) for lookup in outputs):
                found.append(name)
        return found

    def _is_correlation(self, stanza: str) -> bool:
        return self.savedsearches[stanza].get(f"{alerting.PARAM_PREFIX}detection_type") == "Correlation"


def parse_now(text: str | None) -> float | None:
    """Parse ``--now`` (ISO 8601, ``Z`` or an offset; a naive time is UTC)."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ReplayError(f"--now {text!r} is not an ISO 8601 time such as 2026-11-21T03:10:00Z") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def load_events(path: Union[str, Path]) -> List[Row]:
    """CloudTrail records of a file (JSON lines or ``{"Records": [...]}``) as Splunk events."""
    try:
        records = ct_fields.read_records(path)
        return [ct_fields.to_splunk_event(record) for record in records]
    except (OSError, ct_fields.CloudTrailRecordError) as exc:
        raise ReplayError(f"cannot read CloudTrail records from {path}: {exc}") from exc


def _window(stanza: Dict[str, str], now: float, tz: str) -> tuple[float | None, float | None]:
    zone = get_zone(tz)
    return (
        relative_time(now, stanza.get("dispatch.earliest_time", "0"), zone),
        relative_time(now, stanza.get("dispatch.latest_time", "now"), zone),
    )


def risk_events_as_splunk(
    risks: Sequence[Row], index: str = "risk", sourcetype: str | None = None
) -> List[Row]:
    """Risk events (or notables, ``index="notable"``) as a search sees them, as the alert action
    writes them: one JSON object per event, sourcetype ``malicious_image:risk`` (or ``:notable``),
    read back with Splunk's search-time steps (automatic JSON extraction of the first 5000 bytes, arrays as ``field{}``,
    then the calculated fields of ``app/default/props.conf`` that give them their flat names)."""
    if sourcetype is None:
        sourcetype = alerting.NOTABLE_SOURCETYPE if index == "notable" else alerting.RISK_SOURCETYPE
    stanza = _props().get(sourcetype, {})
    events = []
    for risk in risks:
        raw = json.dumps(risk, default=str)
        event: Row = {}
        for name, values in flatten_text(raw, ct_fields.AUTO_EXTRACTION_CUTOFF).items():
            event[name] = values[0] if len(values) == 1 else values
        event = apply_calculated_fields(event, stanza)
        event.update(
            {
                "_time": risk.get("_time"),
                "index": index,
                "sourcetype": sourcetype,
                "source": str(risk.get("source", "")),
                "host": "replay",
                "_raw": raw,
            }
        )
        events.append(event)
    return events


def _props() -> Dict[str, Dict[str, str]]:
    path = APP / "default" / "props.conf"
    return read_conf(path) if path.exists() else {}


def apply_calculated_fields(event: Row, stanza: Dict[str, str]) -> Row:
    """Apply a props.conf stanza's ``EVAL-<field> = <expression>`` calculated fields to an event
    (Knowledge Manager Manual, "About calculated fields": each expression sees the fields as
    extracted, not the other calculated fields; a null result leaves the field absent)."""
    extracted = dict(event)
    out = dict(event)
    for key, expression in stanza.items():
        if not key.startswith("EVAL-"):
            continue
        name = key[len("EVAL-") :]
        value = parse_expression(expression).eval(Env(extracted, None))
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value if isinstance(value, list) else str(value)
    return out


class Replayer:
    """Runs the app's searches over events for one replay."""

    def __init__(self, app: App, *, tz: str = "UTC") -> None:
        self.app = app
        self.tz = tz
        self.store = app.lookups()

    def context(self, now: float, earliest: float | None, latest: float | None) -> SearchContext:
        """A search context with the app's macros and this replay's lookups."""
        return SearchContext(
            macros=self.app.macros, lookups=self.store, now=now, earliest=earliest, latest=latest, tz=self.tz
        )

    def run_rule(self, stanza_name: str, events: Sequence[Row], now: float, windowed: bool) -> RuleResult:
        """Run one detection stanza and build its risk events and notables."""
        stanza = self.app.savedsearches[stanza_name]
        earliest, latest = _window(stanza, now, self.tz) if windowed else (None, None)
        rows = run_search(stanza["search"], events, self.context(now, earliest, latest))
        settings = alerting.settings_from_savedsearch(stanza_name, stanza)
        notables, risks = alerting.build_events(rows, settings, time=now, sid=f"replay_{int(now)}")
        return RuleResult(stanza_name, settings.rule_name, rows, risks, notables)

    def seed_baseline(self, stanza_name: str, events: Sequence[Row], now: float) -> List[Row]:
        """Run a baseline search over the history before the rules' window (writes its lookup)."""
        stanza = self.app.savedsearches[stanza_name]
        zone = get_zone(self.tz)
        earliest = relative_time(now, BASELINE_HISTORY, zone)
        latest = relative_time(now, stanza.get("dispatch.earliest_time", "-70m@m"), zone)
        return run_search(stanza["search"], events, self.context(now, earliest, latest))


def replay_events(
    events: Sequence[Row], *, now: float | None = None, tz: str = "UTC", app: App | None = None
) -> Outcome:
    """Replay Splunk events (see :func:`load_events`) through every rule; see the module docstring."""
    app = app or App.load()
    replayer = Replayer(app, tz=tz)
    windowed = now is not None
    if now is None:
        stamps = [float(e["_time"]) for e in events if e.get("_time") not in (None, "")]
        now = max(stamps) + 1 if stamps else datetime.now(timezone.utc).timestamp()
    baseline_rows: List[Row] = []
    if windowed:
        for name in app.baselines():
            baseline_rows += replayer.seed_baseline(name, events, now)
    results: List[RuleResult] = []
    correlations = [n for n in app.rules() if app._is_correlation(n)]
    for name in app.rules():
        if name in correlations:
            continue
        results.append(replayer.run_rule(name, events, now, windowed))
    risk_events = risk_events_as_splunk([r for res in results for r in res.risks])
    later = now + CORRELATION_DELAY if windowed else now
    for name in correlations:
        results.append(replayer.run_rule(name, risk_events, later, windowed))
    return Outcome(now=now, windowed=windowed, results=results, baseline_rows=baseline_rows)


def replay_file(path: Union[str, Path], *, now: str | None = None, tz: str = "UTC") -> Outcome:
    """Replay a CloudTrail file; ``now`` is ISO 8601 or None (see the module docstring)."""
    return replay_events(load_events(path), now=parse_now(now), tz=tz)


def summary(outcome: Outcome) -> str:
    """A few lines saying which rules fired, with row, risk and notable counts."""
    lines = []
    for result in outcome.results:
        mark = "FIRED" if result.rows else "quiet"
        lines.append(
            f"{mark:5}  {result.rule}: {len(result.rows)} rows, {len(result.risks)} risk events, "
            f"{len(result.notables)} notables"
        )
    fired = sum(1 for r in outcome.results if r.rows)
    lines.append(
        f"{fired} of {len(outcome.results)} rules fired; {len(outcome.risks)} risk events, "
        f"{len(outcome.notables)} notables"
    )
    return "\n".join(lines)
