"""Splunk's time functions: strftime, strptime and relative_time.

Splunk formats and snaps times in the time zone of the user who runs the search (a user
preference, the server's zone by default); here that zone is :attr:`SearchContext.tz`
(an IANA name, UTC by default), passed in as ``tz``. Format variables follow the Search
Reference page "Date and time format variables"
(docs.splunk.com/Documentation/Splunk/latest/SearchReference/Commontimeformatvariables);
relative time modifiers follow "Time modifiers" (.../SearchReference/SearchTimeModifiers).
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timedelta, timezone, tzinfo

try:
    from zoneinfo import ZoneInfo
except ImportError:  # pragma: no cover - Python < 3.9 is not supported anyway
    ZoneInfo = None  # type: ignore[assignment,misc]

from .errors import SPLRuntimeError

_DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def get_zone(name: str | None) -> tzinfo:
    """The tzinfo for an IANA name (UTC for None, "UTC" or "GMT")."""
    if not name or name.upper() in ("UTC", "GMT", "Z"):
        return timezone.utc
    try:
        return ZoneInfo(name)
    except Exception as exc:  # zoneinfo raises several types for a bad key
        raise SPLRuntimeError(f"unknown time zone {name!r}") from exc


def to_datetime(epoch: float, tz: tzinfo) -> datetime:
    """An aware datetime for epoch seconds in zone ``tz``."""
    return datetime.fromtimestamp(epoch, tz)


def _offset(dt: datetime, colons: int) -> str:
    delta = dt.utcoffset() or timedelta(0)
    total = int(delta.total_seconds())
    sign = "-" if total < 0 else "+"
    total = abs(total)
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    if colons == 0:
        return f"{sign}{hours:02d}{minutes:02d}"
    if colons == 1:
        return f"{sign}{hours:02d}:{minutes:02d}"
    return f"{sign}{hours:02d}:{minutes:02d}:{seconds:02d}"


_STRFTIME_TOKEN = re.compile(r"%(\d*)([A-Za-z%+]|:{1,2}z)")


def strftime(epoch: float, fmt: str, tz: tzinfo) -> str:
    """Format epoch seconds with Splunk's variables in zone ``tz`` (adds %N %Q %e %k %s %:z %+)."""
    dt = to_datetime(epoch, tz)

    def replace(match: re.Match) -> str:
        width, code = match.group(1), match.group(2)
        if code in ("N", "Q"):
            digits = int(width) if width else 3
            fraction = f"{epoch % 1:.9f}"[2:]
            return fraction[:digits].ljust(digits, "0")
        if code == "e":
            return f"{dt.day:2d}"
        if code == "k":
            return f"{dt.hour:2d}"
        if code == "s":
            return str(int(epoch // 1))
        if code == "z":
            return _offset(dt, 0)
        if code == ":z":
            return _offset(dt, 1)
        if code == "::z":
            return _offset(dt, 2)
        if code == "Z":
            return dt.tzname() or ""
        if code == "+":
            return (
                dt.strftime("%a %b ")
                + f"{dt.day:2d}"
                + dt.strftime(" %H:%M:%S ")
                + (dt.tzname() or "")
                + dt.strftime(" %Y")
            )
        if code == "%":
            return "%"
        return dt.strftime("%" + code)

    return _STRFTIME_TOKEN.sub(replace, fmt)


_PARSE_PIECES = {
    "Y": r"(?P<Y>\d{4})",
    "y": r"(?P<y>\d{2})",
    "m": r"(?P<m>\d{1,2})",
    "d": r"(?P<d>\d{1,2})",
    "e": r"\s?(?P<d>\d{1,2})",
    "H": r"(?P<H>\d{1,2})",
    "k": r"\s?(?P<H>\d{1,2})",
    "I": r"(?P<I>\d{1,2})",
    "M": r"(?P<M>\d{1,2})",
    "S": r"(?P<S>\d{1,2})",
    "p": r"(?P<p>AM|PM|am|pm)",
    "j": r"(?P<j>\d{1,3})",
    "a": r"(?P<a>[A-Za-z]{3})",
    "A": r"(?P<A>[A-Za-z]+)",
    "b": r"(?P<b>[A-Za-z]{3})",
    "h": r"(?P<b>[A-Za-z]{3})",
    "B": r"(?P<B>[A-Za-z]+)",
    "u": r"(?P<u>[1-7])",
    "w": r"(?P<w>[0-6])",
    "Z": r"(?P<Z>[A-Za-z][A-Za-z0-9_/+\-]*)",
    "z": r"(?P<z>Z|[+-]\d{2}:?\d{2})",
    "s": r"(?P<s>\d+)",
    "T": r"(?P<H>\d{1,2}):(?P<M>\d{1,2}):(?P<S>\d{1,2})",
    "F": r"(?P<Y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})",
    "%": "%",
}


def _parse_pattern(fmt: str) -> re.Pattern:
    out = []
    i = 0
    while i < len(fmt):
        char = fmt[i]
        if char != "%":
            out.append(r"\s+" if char.isspace() else re.escape(char))
            i += 1
            continue
        match = re.match(r"%(\d*)([A-Za-z%]|:z)", fmt[i:])
        if not match:
            raise SPLRuntimeError(f"strptime: bad format {fmt!r}")
        width, code = match.group(1), match.group(2)
        i += match.end()
        if code in ("N", "Q"):
            out.append(r"(?P<N>\d{%s})" % (width or "1,9"))
        elif code == ":z":
            out.append(_PARSE_PIECES["z"])
        elif code in _PARSE_PIECES:
            out.append(_PARSE_PIECES[code])
        else:
            raise SPLRuntimeError(f"strptime: format variable %{code} is not supported")
    return re.compile("".join(out))


_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
_MONTHS_FULL = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}


def strptime(text: str, fmt: str, tz: tzinfo) -> float | None:
    """Parse ``text`` with a Splunk format into epoch seconds; None when it does not match.

    Without %z/%Z/%s the text is read in zone ``tz``. Trailing text is ignored, as Splunk does.
    """
    match = _parse_pattern(fmt).match(text.strip())
    if not match:
        return None
    parts = {k: v for k, v in match.groupdict().items() if v is not None}
    if "s" in parts:
        return float(parts["s"])
    try:
        year = int(parts["Y"]) if "Y" in parts else (2000 + int(parts["y"]) if "y" in parts else 1970)
        if "b" in parts:
            month = _MONTHS[parts["b"].lower()]
        elif "B" in parts:
            month = _MONTHS_FULL[parts["B"].lower()]
        else:
            month = int(parts.get("m", 1))
        day = int(parts.get("d", 1))
        hour = int(parts.get("H", 0))
        if "I" in parts:
            hour = int(parts["I"]) % 12 + (12 if parts.get("p", "").upper() == "PM" else 0)
        zone = tz
        if "z" in parts:
            zone = _fixed_zone(parts["z"])
        elif "Z" in parts:
            zone = get_zone(parts["Z"])
        dt = datetime(year, month, day, hour, int(parts.get("M", 0)), int(parts.get("S", 0)), tzinfo=zone)
        if "j" in parts:
            dt = dt.replace(month=1, day=1) + timedelta(days=int(parts["j"]) - 1)
    except (KeyError, ValueError, SPLRuntimeError):
        return None
    epoch = dt.timestamp()
    if "N" in parts:
        epoch += int(parts["N"]) / (10 ** len(parts["N"]))
    return epoch


def _fixed_zone(text: str) -> tzinfo:
    if text == "Z":
        return timezone.utc
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4])))


_UNITS = {
    "s": "s",
    "sec": "s",
    "secs": "s",
    "second": "s",
    "seconds": "s",
    "m": "m",
    "min": "m",
    "mins": "m",
    "minute": "m",
    "minutes": "m",
    "h": "h",
    "hr": "h",
    "hrs": "h",
    "hour": "h",
    "hours": "h",
    "d": "d",
    "day": "d",
    "days": "d",
    "w": "w",
    "week": "w",
    "weeks": "w",
    "mon": "mon",
    "month": "mon",
    "months": "mon",
    "q": "q",
    "qtr": "q",
    "qtrs": "q",
    "quarter": "q",
    "quarters": "q",
    "y": "y",
    "yr": "y",
    "yrs": "y",
    "year": "y",
    "years": "y",
}
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_STEP = re.compile(r"([+-])(\d*)([A-Za-z]+)")
_SNAP = re.compile(r"@([A-Za-z]+)(\d?)")


def _add(dt: datetime, amount: int, unit: str) -> datetime:
    if unit in _SECONDS:
        if unit in ("d", "w"):  # calendar days: keep the wall-clock time across DST changes
            naive = dt.replace(tzinfo=None) + timedelta(days=amount * (7 if unit == "w" else 1))
            return _localize(naive, dt.tzinfo)
        return datetime.fromtimestamp(dt.timestamp() + amount * _SECONDS[unit], dt.tzinfo)
    months = amount * {"mon": 1, "q": 3, "y": 12}[unit]
    total = dt.year * 12 + dt.month - 1 + months
    year, month = divmod(total, 12)
    day = min(dt.day, calendar.monthrange(year, month + 1)[1])
    return _localize(dt.replace(tzinfo=None, year=year, month=month + 1, day=day), dt.tzinfo)


def _localize(naive: datetime, zone: tzinfo | None) -> datetime:
    return naive.replace(tzinfo=zone)


def _snap(dt: datetime, unit: str, weekday: str) -> datetime:
    naive = dt.replace(tzinfo=None)
    if unit == "s":
        naive = naive.replace(microsecond=0)
    elif unit == "m":
        naive = naive.replace(second=0, microsecond=0)
    elif unit == "h":
        naive = naive.replace(minute=0, second=0, microsecond=0)
    elif unit == "d":
        naive = naive.replace(hour=0, minute=0, second=0, microsecond=0)
    elif unit == "w":
        target = int(weekday or 0) % 7  # w0/w7 = Sunday, w1 = Monday ... w6 = Saturday
        day = naive.replace(hour=0, minute=0, second=0, microsecond=0)
        back = (day.isoweekday() % 7 - target) % 7
        naive = day - timedelta(days=back)
    elif unit == "mon":
        naive = naive.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    elif unit == "q":
        month = 3 * ((naive.month - 1) // 3) + 1
        naive = naive.replace(month=month, day=1, hour=0, minute=0, second=0, microsecond=0)
    elif unit == "y":
        naive = naive.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    return _localize(naive, dt.tzinfo)


def relative_time(epoch: float, spec: str, tz: tzinfo) -> float | None:
    """Apply a relative time modifier (``-7d@d``, ``@w1``, ``+1h``, ``now``) to epoch seconds.

    Snapping (``@unit``) happens in zone ``tz``. Returns None for a modifier that does not parse.
    """
    text = spec.strip()
    if text.lower() in ("now", ""):
        return epoch
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    dt = to_datetime(epoch, tz)
    i = 0
    while i < len(text):
        step = _STEP.match(text, i)
        if step:
            sign, amount, unit = step.groups()
            unit_key = _UNITS.get(unit.lower())
            if unit_key is None:
                return None
            dt = _add(dt, (-1 if sign == "-" else 1) * int(amount or 1), unit_key)
            i = step.end()
            continue
        snap = _SNAP.match(text, i)
        if snap:
            unit, weekday = snap.groups()
            unit_key = _UNITS.get(unit.lower())
            if unit_key is None:
                return None
            dt = _snap(dt, unit_key, weekday)
            i = snap.end()
            continue
        return None
    return dt.timestamp()


def weekday_name(dt: datetime) -> str:
    """Lower-case English day name, as Splunk's date_wday."""
    return _DAYS[dt.weekday()]
