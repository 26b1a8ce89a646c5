"""UTC offset table of the IANA time zones, for the business-hours rule.

Splunk's ``strftime`` formats in the time zone of the user who owns a search, and SPL has no
function that converts an epoch into an arbitrary IANA zone. The business-hours rule therefore
looks the offset up in ``app/lookups/malicious_image_tz_offsets.csv``, which this module writes.

Rows are keyed by ``(tz, bucket)`` where ``bucket = floor(epoch / 31556952)`` (an average
Gregorian year, so SPL computes it with one ``floor``). Each row carries ``offset0``, the offset in
seconds at the start of the bucket, and up to four transitions inside the bucket: ``tN`` (epoch
seconds of the first second with the new offset) and ``offsetN``. Unused transition slots hold
``NO_TRANSITION`` so SPL compares numbers, never nulls. Offsets come from the ``tzdata`` package
(not the host's /usr/share/zoneinfo) so the file is the same on every machine with the pinned
tzdata version.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime, timezone
from importlib import resources
from zoneinfo import ZoneInfo

BUCKET_SECONDS = 31556952
NO_TRANSITION = 9999999999
MAX_TRANSITIONS = 4
FIRST_YEAR = 2020
LAST_YEAR = 2040
COLUMNS = ["tz", "bucket", "offset0", "t1", "offset1", "t2", "offset2", "t3", "offset3", "t4", "offset4"]
_DAY = 86400


class TzTableError(RuntimeError):
    """The tz table cannot be built (tzdata missing, or a zone with too many transitions)."""


def tzdata_version() -> str:
    """Return the IANA version of the tzdata package used (e.g. ``2026f``)."""
    try:
        import tzdata  # type: ignore[import-not-found]
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise TzTableError("the tzdata package is missing: pip install tzdata") from exc
    return str(tzdata.IANA_VERSION)


def zone_names() -> list[str]:
    """Return every zone name listed by the tzdata package, sorted."""
    tzdata_version()
    text = resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8")
    return sorted(line.strip() for line in text.splitlines() if line.strip())


def _load_zone(name: str) -> ZoneInfo:
    path = resources.files("tzdata.zoneinfo").joinpath(*name.split("/"))
    with path.open("rb") as handle:
        return ZoneInfo.from_file(handle, key=name)


def _offset(zone: ZoneInfo, epoch: int) -> int:
    moment = datetime.fromtimestamp(epoch, tz=timezone.utc).astimezone(zone)
    delta = moment.utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


def _transitions(zone: ZoneInfo, start: int, end: int) -> list[tuple[int, int]]:
    """Return (epoch, new offset) of every offset change in [start, end), scanning by day."""
    found: list[tuple[int, int]] = []
    previous = _offset(zone, start)
    low = start
    while low < end:
        high = min(low + _DAY, end)
        current = _offset(zone, high) if high < end else _offset(zone, end - 1)
        if current != previous:
            lo, hi = low, high if high < end else end - 1
            while hi - lo > 1:  # invariant: offset(lo) == previous, offset(hi) != previous
                mid = (lo + hi) // 2
                if _offset(zone, mid) == previous:
                    lo = mid
                else:
                    hi = mid
            found.append((hi, _offset(zone, hi)))
            previous = found[-1][1]
            low = hi
            continue
        low = high
    return found


def bucket_range() -> range:
    """Buckets covering 1 January FIRST_YEAR to 31 December LAST_YEAR (UTC)."""
    first = int(datetime(FIRST_YEAR, 1, 1, tzinfo=timezone.utc).timestamp()) // BUCKET_SECONDS
    last = int(datetime(LAST_YEAR, 12, 31, 23, 59, 59, tzinfo=timezone.utc).timestamp()) // BUCKET_SECONDS
    return range(first, last + 1)


def zone_rows(name: str) -> Iterator[list[str]]:
    """Yield the table rows of one zone."""
    zone = _load_zone(name)
    for bucket in bucket_range():
        start, end = bucket * BUCKET_SECONDS, (bucket + 1) * BUCKET_SECONDS
        changes = _transitions(zone, start, end)
        if len(changes) > MAX_TRANSITIONS:
            raise TzTableError(
                f"{name}: {len(changes)} offset changes in bucket {bucket}; raise MAX_TRANSITIONS"
            )
        row = [name, str(bucket), str(_offset(zone, start))]
        for index in range(MAX_TRANSITIONS):
            epoch, offset = changes[index] if index < len(changes) else (NO_TRANSITION, 0)
            row += [str(epoch), str(offset)]
        yield row


def render_csv(names: list[str] | None = None) -> str:
    """Return the CSV text of the table for ``names`` (default: every tzdata zone)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for name in names if names is not None else zone_names():
        writer.writerows(zone_rows(name))
    return out.getvalue()


def utc_offset(table: dict[tuple[str, int], list[str]], tz: str, epoch: float) -> int | None:
    """Reference implementation of the SPL lookup-and-case (used by tests)."""
    row = table.get((tz, int(epoch // BUCKET_SECONDS)))
    if row is None:
        return None
    offset = int(row[0])
    for index in range(MAX_TRANSITIONS):
        if epoch >= int(row[1 + 2 * index]):
            offset = int(row[2 + 2 * index])
    return offset
