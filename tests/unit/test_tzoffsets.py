"""The time-zone offset lookup the business-hours rule reads: complete, current, exact to the second."""

from __future__ import annotations

import csv
from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from devtools import render, tzoffsets

with render.TZ_TABLE.open(encoding="utf-8", newline="") as handle:
    ROWS = list(csv.reader(handle))
HEADER, BODY = ROWS[0], ROWS[1:]
TABLE = {(row[0], int(row[1])): row[2:] for row in BODY}
ZONES = sorted({row[0] for row in BODY})
FIRST = int(datetime(tzoffsets.FIRST_YEAR, 1, 1, tzinfo=timezone.utc).timestamp())
LAST = int(datetime(tzoffsets.LAST_YEAR, 12, 31, 23, 59, 59, tzinfo=timezone.utc).timestamp())


def test_every_tzdata_zone_and_bucket_is_there():
    assert HEADER == tzoffsets.COLUMNS
    assert ZONES == tzoffsets.zone_names()
    assert len(TABLE) == len(BODY) == len(ZONES) * len(tzoffsets.bucket_range())


def test_committed_rows_equal_a_fresh_generation_for_sample_zones():
    names = ["Europe/Berlin", "America/New_York", "Asia/Gaza", "Australia/Lord_Howe", "UTC"]
    fresh = list(csv.reader(tzoffsets.render_csv(names).splitlines()))[1:]
    assert sorted(fresh) == sorted(row for row in BODY if row[0] in names)


@settings(max_examples=300, deadline=None)
@given(zone=st.sampled_from(ZONES), epoch=st.integers(min_value=FIRST, max_value=LAST))
def test_offset_equals_the_tz_database(zone, epoch):
    expected = tzoffsets._offset(tzoffsets._load_zone(zone), epoch)
    assert tzoffsets.utc_offset(TABLE, zone, epoch) == expected


def test_transition_seconds_in_berlin():
    spring = int(datetime(2026, 3, 29, 1, 0, 0, tzinfo=timezone.utc).timestamp())
    assert tzoffsets.utc_offset(TABLE, "Europe/Berlin", spring - 1) == 3600
    assert tzoffsets.utc_offset(TABLE, "Europe/Berlin", spring) == 7200
    assert tzoffsets.utc_offset(TABLE, "Nowhere/City", spring) is None
