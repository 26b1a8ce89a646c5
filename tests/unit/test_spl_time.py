"""strftime, strptime and relative_time with Splunk's variables, in the searching user's zone."""

from __future__ import annotations

import pytest

from devtools.spl.timefmt import get_zone, relative_time, strftime, strptime

UTC = get_zone("UTC")
PARIS = get_zone("Europe/Paris")
T = 1629328650.123456  # 2021-08-18T23:17:30.123456Z, a Wednesday, day 230


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("%Y-%m-%d %H:%M:%S", "2021-08-18 23:17:30"),
        ("%a %A %b %B", "Wed Wednesday Aug August"),
        ("%e|%j|%u|%w", "18|230|3|3"),
        ("%3N %6N %Q", "123 123456 123"),
        ("%s", "1629328650"),
        ("%z %:z %Z", "+0000 +00:00 UTC"),
        ("%I %p %y", "11 PM 21"),
        ("%%", "%"),
    ],
)
def test_strftime_variables(fmt, expected):
    assert strftime(T, fmt, UTC) == expected


def test_strftime_in_another_zone_moves_the_date():
    assert strftime(T, "%Y-%m-%d %H:%M %z %Z %A", PARIS) == "2021-08-19 01:17 +0200 CEST Thursday"


@pytest.mark.parametrize(
    ("text", "fmt", "expected"),
    [
        ("2021-08-18 23:17:30", "%Y-%m-%d %H:%M:%S", 1629328650),
        ("2021-08-18T23:17:30.250Z", "%Y-%m-%dT%H:%M:%S.%3N%z", 1629328650.25),
        ("18/Aug/2021:23:17:30 +0200", "%d/%b/%Y:%H:%M:%S %z", 1629328650 - 7200),
        ("Wed August 18 2021 11:17:30 PM", "%a %B %d %Y %I:%M:%S %p", 1629328650),
        ("2021 230", "%Y %j", 1629244800),
        ("1629328650", "%s", 1629328650),
        ("2021-08-18 23:17:30 UTC", "%Y-%m-%d %H:%M:%S %Z", 1629328650),
    ],
)
def test_strptime_variables(text, fmt, expected):
    assert strptime(text, fmt, UTC) == expected


def test_strptime_without_zone_reads_in_the_user_zone():
    assert strptime("2021-08-19 01:17:30", "%Y-%m-%d %H:%M:%S", PARIS) == 1629328650


def test_strptime_mismatch_is_null():
    assert strptime("not a date", "%Y-%m-%d", UTC) is None
    assert strptime("2021-13-01", "%Y-%m-%d", UTC) is None


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("now", T),
        ("-1h", T - 3600),
        ("+30m", T + 1800),
        ("-7d@d", 1628640000),  # 2021-08-11T00:00Z
        ("@d", 1629244800),
        ("@h", 1629327600),
        ("@w0", 1629590400 - 7 * 86400),  # Sunday 2021-08-15
        ("@w1", 1629072000),  # Monday 2021-08-16
        ("@mon", 1627776000),  # 2021-08-01
        ("-1mon@mon", 1625097600),  # 2021-07-01
        ("@y", 1609459200),
        ("@q", 1625097600),  # 2021-07-01
        ("-1d@d+8h", 1629158400 + 8 * 3600),
        ("1629328650", 1629328650),
    ],
)
def test_relative_time_in_utc(spec, expected):
    assert relative_time(T, spec, UTC) == pytest.approx(expected)


def test_relative_time_snaps_in_the_user_zone():
    # 2021-08-18T23:17Z is 2021-08-19T01:17 in Paris: @d snaps to Paris midnight (22:00Z on the 18th)
    assert relative_time(T, "@d", PARIS) == 1629324000


def test_relative_time_rejects_unknown_units():
    assert relative_time(T, "-1fortnight", UTC) is None
