"""Replay CloudTrail records through the app's searches as Splunk's scheduler would run them.

``build.py replay --schedule HOURS`` (and the property tests) use this: every scheduled stanza of
savedsearches.conf (the seven rules and the known-pushers baseline) runs at each of its cron
times plus its own skew (:mod:`devtools.scheduler`), over its own dispatch window, in the order
the runs happen. Producers read the CloudTrail events; the correlation rules read the risk events
the producers wrote so far (each stamped with the time its rule ran, read back as Splunk would:
:func:`devtools.replay.risk_events_as_splunk`); the baseline keeps the known-pushers lookup in
memory. Throttling (``alert.suppress.*``) is applied per result before the alert action runs, so a
suppressed result writes neither a notable nor a risk event.

Before the first dispatch the baseline is seeded over the 30 days before ``start``, as
docs/rules.md tells an admin to do once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Sequence, Tuple

from devtools import scheduler
from devtools.replay import BASELINE_HISTORY, App, Replayer, Row, RuleResult, risk_events_as_splunk
from devtools.spl import run_search
from devtools.spl.timefmt import get_zone, relative_time
from malicious_image import alerting  # app/bin is on sys.path once devtools.replay is imported


@dataclass
class ScheduledRun:
    """One dispatch and what it produced (``result`` is None for a baseline run)."""

    dispatch: scheduler.Dispatch
    result: RuleResult | None
    suppressed: List[Row] = field(default_factory=list)
    baseline_rows: List[Row] = field(default_factory=list)


@dataclass
class ScheduleOutcome:
    """Every run of a scheduled replay, in the order they happened."""

    start: float
    hours: float
    seed: int
    runs: List[ScheduledRun]

    def notables(self, rule_stanza: str | None = None) -> List[Row]:
        """Notables written (by one rule when ``rule_stanza`` is given)."""
        return [
            n
            for run in self.runs
            if run.result is not None and (rule_stanza is None or run.dispatch.name == rule_stanza)
            for n in run.result.notables
        ]

    def risks(self) -> List[Row]:
        """Risk events written, in time order."""
        return [r for run in self.runs if run.result is not None for r in run.result.risks]


def replay_schedule(
    events: Sequence[Row],
    *,
    start: float,
    hours: float,
    seed: int = 0,
    tz: str = "UTC",
    app: App | None = None,
    busy: Sequence[Tuple[float, float]] = (),
) -> ScheduleOutcome:
    """Run every scheduled search over ``events`` for ``hours`` from ``start`` (see the module docstring)."""
    app = app or App.load()
    replayer = Replayer(app, tz=tz)
    zone = get_zone(tz)
    baselines = set(app.baselines())
    for name in baselines:
        earliest = relative_time(start, BASELINE_HISTORY, zone)
        run_search(app.savedsearches[name]["search"], events, replayer.context(start, earliest, start))
    correlations = {n for n in app.rules() if app._is_correlation(n)}
    risk_events: List[Row] = []
    until: Dict[tuple, float] = {}
    runs: List[ScheduledRun] = []
    # the rules and the baselines that feed them; the dashboard's own scheduled searches (data
    # inventory, rule activity) feed no rule and read lookups a replay does not hold
    replayed = {n: app.savedsearches[n] for n in [*app.rules(), *sorted(baselines)]}
    for dispatch in scheduler.simulate(replayed, start, hours, seed=seed, busy=busy, tz=tz):
        stanza = app.savedsearches[dispatch.name]
        context = replayer.context(dispatch.now, dispatch.earliest, dispatch.latest)
        if dispatch.name in baselines:
            rows = run_search(stanza["search"], events, context)
            runs.append(ScheduledRun(dispatch, None, baseline_rows=rows))
            continue
        source = risk_events if dispatch.name in correlations else events
        rows = run_search(stanza["search"], source, context)
        firing, silenced = scheduler.suppressed_rows(stanza, rows, dispatch.now, until)
        settings = alerting.settings_from_savedsearch(dispatch.name, stanza)
        notables, risks = alerting.build_events(
            firing, settings, time=dispatch.now, sid=f"scheduler_{int(dispatch.now)}"
        )
        risk_events.extend(risk_events_as_splunk(risks))
        result = RuleResult(dispatch.name, settings.rule_name, rows, risks, notables)
        runs.append(ScheduledRun(dispatch, result, suppressed=silenced))
    return ScheduleOutcome(start, hours, seed, runs)


def summary(outcome: ScheduleOutcome) -> str:
    """One line per run that returned rows, then totals."""
    from datetime import datetime, timezone

    lines = []
    for run in outcome.runs:
        if run.result is None or not run.result.rows:
            continue
        when = datetime.fromtimestamp(run.dispatch.now, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        lines.append(
            f"{when}  {run.result.rule}: {len(run.result.rows)} rows, {len(run.suppressed)} throttled, "
            f"{len(run.result.risks)} risk events, {len(run.result.notables)} notables"
        )
    lines.append(
        f"{len(outcome.runs)} runs over {outcome.hours:g} h (seed {outcome.seed}); "
        f"{len(outcome.risks())} risk events, {len(outcome.notables())} notables"
    )
    return "\n".join(lines) + "\n"
