"""Fuzzing the CloudTrail field emulation (devtools/cloudtrail/fields.py ``to_splunk_event``) on
arbitrary JSON-ish records, real-shaped ones with hostile values, and arbitrary eventTime text.

Property: a ``CloudTrailRecordError`` for a record that cannot be an event, otherwise an event
whose fields are consistent: ``_raw`` is the record as JSON, ``_time`` and the ``date_*`` fields
agree with ``eventTime`` as written, the add-on's aliases equal their sources, every extracted
field is text or a list of text. Bounded time per record (tests/fuzzing.py).
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone

from hypothesis import example, given
from hypothesis import strategies as st

from devtools.cloudtrail.fields import SOURCETYPE, CloudTrailRecordError, to_splunk_event
from tests.fuzzing import fuzz_settings

KEYS = ["eventTime", "eventName", "eventSource", "sourceIPAddress", "awsRegion", "recipientAccountId",
        "userIdentity", "type", "arn", "userName", "sessionContext", "sessionIssuer", "requestParameters",
        "sourceIdentity", "responseElements", "findings", "severity", "", "a.b", "x{}", "{", "é", "_raw", "_time",
        "index", "src", "user"]  # fmt: skip
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20), st.sampled_from(["", "arn:aws:iam::1:user/x/", "/", "Put", "PutImage", "\x00", "\ud7ff"]),
)  # fmt: skip
VALUES = st.recursive(
    SCALARS,
    lambda kids: st.one_of(
        st.lists(kids, max_size=4), st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), kids, max_size=5)
    ),
    max_leaves=25,
)  # fmt: skip
TIMES = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).map(
        lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")
    ),
    st.from_regex(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?\Z"),
    st.text(max_size=30),
)  # fmt: skip


@st.composite
def records(draw):
    record = draw(st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), VALUES, max_size=8))
    if draw(st.booleans()):
        record["eventTime"] = draw(TIMES)
    if draw(st.booleans()):
        issuer = st.fixed_dictionaries({"sessionIssuer": st.fixed_dictionaries({"userName": SCALARS})})
        record["userIdentity"] = draw(st.fixed_dictionaries(
            {}, optional={"type": SCALARS, "arn": SCALARS, "userName": SCALARS, "sessionContext": issuer},
        ))  # fmt: skip
    return record


def _consistent(record: dict, event: dict) -> None:
    assert event["_raw"] == json.dumps(record)
    assert event["sourcetype"] == SOURCETYPE
    assert isinstance(event["_time"], float) and math.isfinite(event["_time"])
    text = record["eventTime"].strip()
    assert event["date_year"] == str(int(text[0:4]))
    assert event["date_month"] == datetime(2000, int(text[5:7]), 1).strftime("%B").lower()
    assert event["date_mday"] == str(int(text[8:10]))
    assert event["date_hour"] == str(int(text[11:13]))
    zone = timezone(timedelta(minutes=int(event["date_zone"])))
    written = datetime.fromtimestamp(math.floor(event["_time"] + 1e-7), zone)
    assert (written.hour, written.minute, written.second) == (int(text[11:13]), int(text[14:16]), int(text[17:19]))
    aliases = (("src", "sourceIPAddress"), ("region", "awsRegion"), ("aws_account_id", "recipientAccountId"))
    for alias, source in aliases:
        value = record.get(source)
        if isinstance(value, str) and value:
            assert event[alias] == value
    # the pairs agree whenever their source is present; without it a JSON field of the same name
    # (a record with its own "src") is left as extracted (found by the long fuzz run)
    if isinstance(record.get("sourceIPAddress"), str) and record["sourceIPAddress"]:
        assert event["src"] == event["src_ip"]
    if isinstance(record.get("awsRegion"), str) and record["awsRegion"]:
        assert event["region"] == event["vendor_region"]
    for name, value in event.items():
        if name not in ("_time",):
            assert isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value)), name


@fuzz_settings()
@given(records())
@example({"eventTime": "2021-13-45T25:61:61Z"})  # found by fuzzing: ValueError, not CloudTrailRecordError
@example({"eventTime": "0000-01-01T00:00:00Z"})  # year 0: ValueError
@example({"eventTime": "2021-01-01T00:00:00+99:99"})  # offset over a day: ValueError
@example({"eventTime": "2021-01-01T00:00:00Z", "sourceIPAddress": float("nan"), "x": [float("inf")]})
@example({"eventTime": "2021-01-01T00:00:00Z", "userIdentity": {"arn": 5}})
@example({"eventTime": "2000-01-01T00:00:00Z", "src": None})
def test_any_record_is_an_event_with_consistent_fields_or_a_record_error(record):
    try:
        event = to_splunk_event(record)
    except CloudTrailRecordError as exc:
        assert str(exc)
        return
    _consistent(record, event)


@fuzz_settings()
@given(st.one_of(st.none(), st.integers(), st.text(), st.lists(st.integers())))
def test_a_record_that_is_not_an_object_is_a_record_error(record):
    try:
        to_splunk_event(record)  # type: ignore[arg-type]
    except CloudTrailRecordError:
        return
    raise AssertionError("accepted a record that is not a JSON object")
