"""When Splunk's scheduler runs each saved search: a simulation for the replay.

The evaluator (:mod:`devtools.spl`) runs one search; this module decides when. Given the stanzas
of savedsearches.conf, a start time and a number of hours, :func:`simulate` returns the list of
dispatches ``(name, now, earliest, latest)`` a real scheduler would make, following
savedsearches.conf.spec (Admin Manual) and the Reporting Manual ("Offset scheduled search start
times", "Configure the priority of scheduled reports"):

- ``cron_schedule``: standard five fields; minute and hour take ``*``, ``N``, ``a-b``, ``*/n``,
  ``a-b/n`` and lists; day of month, month and day of week must be ``*`` (hourly and daily rules
  are all this app ships; anything else raises :class:`ScheduleError`). Times are UTC (the
  scheduler's clock; the app's crons are hourly, so the server's zone changes nothing).
- ``allow_skew``: ``0`` (default), ``N%`` of the search's period, or a duration (``30s``, ``5m``,
  ``1h``); each search gets one random offset within that bound, constant for the search (Splunk
  derives it from the search's name; ``seed`` stands for the installation). The offset never
  reaches a full period.
- ``dispatch.earliest_time`` / ``dispatch.latest_time``: relative to the dispatch time ``now``
  (scheduled time plus skew), snapped in ``tz``.
- ``realtime_schedule``: ``1`` (the default) may skip a run when the scheduler is busy: a run whose
  dispatch time falls in a ``busy`` interval is skipped. ``0`` (continuous scheduling) never skips:
  the run is delayed to the end of the busy interval and keeps the time range of its scheduled
  time, so no period goes unsearched.
- Searches without ``enableSched = 1`` or a ``cron_schedule`` are not scheduled; ``disabled`` is
  ignored (the simulation shows the rules as an admin runs them once enabled).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Sequence, Tuple

from devtools.spl.timefmt import get_zone, relative_time
from malicious_image.settings import is_true  # the one conf truthiness helper

HOUR = 3600.0


class ScheduleError(ValueError):
    """A stanza's schedule cannot be simulated (unsupported cron field, bad allow_skew)."""


@dataclass(frozen=True)
class Dispatch:
    """One run of one saved search: ``now`` is when it runs, [earliest, latest) what it searches."""

    name: str
    now: float
    earliest: float | None
    latest: float | None
    scheduled: float
    delayed: bool = False


@dataclass(frozen=True)
class Cron:
    """A cron schedule restricted to minute and hour fields."""

    minutes: Tuple[int, ...]
    hours: Tuple[int, ...]

    def times(self, start: float, end: float) -> Iterable[float]:
        """Scheduled times in [start, end), ascending (UTC)."""
        day = int(start // 86400) * 86400
        while day < end:
            for hour in self.hours:
                for minute in self.minutes:
                    moment = day + hour * HOUR + minute * 60
                    if start <= moment < end:
                        yield float(moment)
            day += 86400

    @property
    def period(self) -> float:
        """Seconds between two consecutive runs (the shortest gap, wrapping over midnight)."""
        stamps = sorted(h * HOUR + m * 60 for h in self.hours for m in self.minutes)
        gaps = [b - a for a, b in zip(stamps, stamps[1:])] + [stamps[0] + 86400 - stamps[-1]]
        return float(min(gaps))


def _field(text: str, low: int, high: int, what: str) -> Tuple[int, ...]:
    values: set = set()
    for part in text.split(","):
        match = re.fullmatch(r"(\*|\d+(?:-\d+)?)(?:/(\d+))?", part.strip())
        if not match:
            raise ScheduleError(f"cron {what} field {text!r} is not supported")
        span, step = match.group(1), int(match.group(2) or 1)
        if span == "*":
            first, last = low, high
        elif "-" in span:
            first, last = (int(x) for x in span.split("-"))
        else:
            first = last = int(span)
            if match.group(2):
                last = high
        if not (low <= first <= last <= high) or step < 1:
            raise ScheduleError(f"cron {what} field {text!r} is out of range {low}-{high}")
        values.update(range(first, last + 1, step))
    return tuple(sorted(values))


def parse_cron(text: str) -> Cron:
    """Parse a five-field cron expression whose day, month and weekday fields are ``*``."""
    fields = text.split()
    if len(fields) != 5:
        raise ScheduleError(f"cron_schedule {text!r} must have five fields")
    if fields[2:] != ["*", "*", "*"]:
        raise ScheduleError(f"cron_schedule {text!r}: only minute and hour fields are simulated")
    return Cron(_field(fields[0], 0, 59, "minute"), _field(fields[1], 0, 23, "hour"))


_DURATION = re.compile(r"(\d+)\s*(s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hr|hrs|hour|hours|d|day|days)?")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def max_skew(allow_skew: str, period: float) -> float:
    """The largest offset ``allow_skew`` allows for a search with this period, in seconds."""
    text = (allow_skew or "0").strip().lower()
    if text.endswith("%"):
        try:
            share = float(text[:-1])
        except ValueError as exc:
            raise ScheduleError(f"allow_skew {allow_skew!r} is not a percentage") from exc
        if not 0 <= share <= 100:
            raise ScheduleError(f"allow_skew {allow_skew!r} must be between 0% and 100%")
        return period * share / 100
    match = _DURATION.fullmatch(text)
    if not match:
        raise ScheduleError(f"allow_skew {allow_skew!r} is neither a percentage nor a duration")
    seconds = int(match.group(1)) * _UNIT[(match.group(2) or "s")[0]]
    return float(min(seconds, period))


def skew(name: str, allow_skew: str, period: float, seed: int = 0) -> float:
    """The fixed offset of one search (whole seconds, below the bound and below a period)."""
    bound = max_skew(allow_skew, period)
    if bound <= 0:
        return 0.0
    digest = hashlib.sha256(f"{seed}\x00{name}".encode()).digest()
    fraction = int.from_bytes(digest[:8], "big") / 2.0**64
    return float(min(int(fraction * bound), int(period) - 1))


def _busy_end(moment: float, busy: Sequence[Tuple[float, float]]) -> float | None:
    for start, end in busy:
        if start <= moment < end:
            return end
    return None


def simulate(
    stanzas: Mapping[str, Mapping[str, str]],
    start: float,
    hours: float,
    *,
    seed: int = 0,
    busy: Sequence[Tuple[float, float]] = (),
    tz: str = "UTC",
) -> List[Dispatch]:
    """Every dispatch of the scheduled stanzas whose scheduled time is in [start, start + hours).

    Arguments:
        stanzas: savedsearches.conf stanzas (name -> keys).
        start: epoch seconds; hours: how long to simulate.
        seed: stands for the installation: it draws each search's skew.
        busy: (start, end) intervals when the scheduler is saturated (see the module docstring).
        tz: the zone ``@`` snapping of the time ranges follows.

    Returns:
        Dispatches in the order they run (by ``now``, then name).
    """
    zone = get_zone(tz)
    end = start + hours * HOUR
    out: List[Dispatch] = []
    for name, stanza in stanzas.items():
        if not is_true(stanza.get("enableSched", "0")) or not stanza.get("cron_schedule"):
            continue
        cron = parse_cron(stanza["cron_schedule"])
        offset = skew(name, stanza.get("allow_skew", "0"), cron.period, seed)
        continuous = str(stanza.get("realtime_schedule", "1")).strip() in ("0", "false")
        for scheduled in cron.times(start, end):
            planned = scheduled + offset
            blocked_until = _busy_end(planned, busy)
            if blocked_until is not None and not continuous:
                continue
            now = blocked_until if blocked_until is not None else planned
            anchor = planned
            earliest = relative_time(anchor, stanza.get("dispatch.earliest_time", "0"), zone)
            latest = relative_time(anchor, stanza.get("dispatch.latest_time", "now"), zone)
            out.append(Dispatch(name, now, earliest, latest, scheduled, blocked_until is not None))
    out.sort(key=lambda d: (d.now, d.name))
    return out


def render(dispatches: Sequence[Dispatch]) -> str:
    """Dispatches as text lines (the golden-file format): now, name, earliest, latest."""
    from datetime import datetime, timezone

    def iso(value: float | None) -> str:
        if value is None:
            return "-"
        return datetime.fromtimestamp(value, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    lines = [
        f"{iso(d.now)}  {d.name}  [{iso(d.earliest)}, {iso(d.latest)}){'  delayed' if d.delayed else ''}"
        for d in dispatches
    ]
    return "\n".join(lines) + "\n"


def suppression_key(stanza: Mapping[str, str], row: Mapping[str, object]) -> Tuple | None:
    """The throttling key of one result row, or None when the stanza does not throttle.

    ``alert.suppress = 1`` with ``alert.suppress.fields`` and per-result alerting
    (``alert.digest_mode = 0``) suppresses per value of the fields; in digest mode the whole alert
    is one key (savedsearches.conf.spec, alert.suppress.*).
    """
    if not is_true(stanza.get("alert.suppress", "0")):
        return None
    fields = [f.strip() for f in str(stanza.get("alert.suppress.fields", "")).split(",") if f.strip()]
    if is_true(stanza.get("alert.digest_mode", "1")) or not fields:
        return ("*",)
    key = []
    for name in fields:
        value = row.get(name)
        key.append(tuple(value) if isinstance(value, list) else value)
    return tuple(key)


def period_seconds(text: str) -> float:
    """``alert.suppress.period`` (``3h``, ``90m``, ``3600s``, ``1d``) in seconds."""
    match = _DURATION.fullmatch((text or "").strip().lower())
    if not match:
        raise ScheduleError(f"alert.suppress.period {text!r} is not a duration such as 3h")
    return float(int(match.group(1)) * _UNIT[(match.group(2) or "s")[0]])


def suppressed_rows(
    stanza: Mapping[str, str], rows: Sequence[Dict], now: float, until: Dict[Tuple, float]
) -> Tuple[List[Dict], List[Dict]]:
    """Split result rows into (alerting, suppressed) and record new suppressions in ``until``."""
    alerting: List[Dict] = []
    silenced: List[Dict] = []
    period = period_seconds(stanza.get("alert.suppress.period", "0s")) if stanza.get("alert.suppress") else 0.0
    fresh: Dict[Tuple, float] = {}
    for row in rows:
        key = suppression_key(stanza, row)
        if key is not None and until.get(key, float("-inf")) > now:
            silenced.append(row)
            continue
        alerting.append(row)
        if key is not None:
            fresh[key] = now + period
    until.update(fresh)
    return alerting, silenced
