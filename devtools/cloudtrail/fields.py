"""The search-time fields of an ``aws:cloudtrail`` event in Splunk, emulated for replay.

One CloudTrail record becomes one event (the Splunk Add-on for AWS splits S3 delivery files
``{"Records": [...]}`` into records). Its fields come from three layers, applied in Splunk's
search-time order (Knowledge Manager Manual, "The sequence of search-time operations":
auto KV extraction, then field aliases, then calculated fields):

1. **Default fields**: ``_raw`` (the record as JSON), ``_time`` from ``eventTime`` (TIME_PREFIX
   ``"eventTime"``, UTC), ``index``, ``sourcetype = aws:cloudtrail``, ``source``, ``host``, and
   the ``date_*`` fields. Splunk derives ``date_hour``, ``date_minute``, ``date_second``,
   ``date_mday``, ``date_month`` (lower-case month name), ``date_year``, ``date_wday``
   (lower-case day name) and ``date_zone`` from the timestamp *as written in the raw event*,
   not converted to any time zone (Knowledge Manager Manual, "Use default fields"). CloudTrail
   writes UTC with a ``Z``, so they are UTC values and ``date_zone`` is 0.
2. **KV_MODE = json** auto-extraction (props.conf of the TA): every leaf, named by its key path
   joined with ``.``, arrays adding ``{}`` and giving multivalue fields
   (``responseElements.imageScanFindings.findings{}.severity``), booleans ``true``/``false``,
   JSON null ``null`` (see devtools.spl.jsonpath). Cap: like the ``spath`` command's extract-all
   mode, automatic JSON extraction reads only the first ``[spath] extraction_cutoff`` bytes
   (limits.conf, default 5000; REFERENCE.md section 8): a leaf that ends later is not extracted.
   CloudTrail writes ``recipientAccountId`` after ``responseElements``, and PutImage's
   ``imageTag`` after the escaped manifest, so a search must read such fields with ``spath
   path=...`` (which reads the whole event) or ``rex`` on ``_raw``. ``max_chars=None`` extracts
   every leaf (what an earlier version of this module did, following security_content's field
   list for its 50 KB sample; the strict cut is what a search must survive).
3. **Splunk Add-on for AWS 7.7.1** (the version security_content names in ``supported_TA`` of
   both data sources) field aliases and calculated fields for ``aws:cloudtrail``, as summarised
   in the project's REFERENCE.md section 4 for the 7.x line. The TA's props.conf is not public
   (splunk/splunk-add-on-for-amazon-web-services is private); its CIM change reports
   (splunk.github.io/splunk-add-on-for-amazon-web-services/CIMChanges/7.7.1/) confirm that
   ``user``, ``user_type`` and ``user_name`` changed in 7.7.x but not how. We emulate:
   ``src`` and ``src_ip`` = sourceIPAddress; ``region`` and ``vendor_region`` = awsRegion;
   ``userName`` = coalesce(userIdentity.userName, requestParameters.sourceIdentity,
   userIdentity.sessionContext.sessionIssuer.userName, last path segment of userIdentity.arn);
   ``user`` = coalesce(userIdentity.userName, sessionIssuer.userName) for events whose
   eventName starts with ``Put``, and ``userName`` for the others; ``user_type`` =
   userIdentity.type; ``user_arn`` = userIdentity.arn; ``aws_account_id`` = recipientAccountId.
   These are calculated fields (EVAL-): they overwrite a JSON field of the same name.
"""

from __future__ import annotations

import gzip
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, List, Union

from devtools.spl.jsonpath import flatten_text

SOURCETYPE = "aws:cloudtrail"
DEFAULT_SOURCE = "s3://aws-cloudtrail-logs/AWSLogs/CloudTrail"
DEFAULT_HOST = "aws-cloudtrail"
TA_VERSION = "7.7.1"

_DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_EVENT_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$")


class CloudTrailRecordError(ValueError):
    """A record cannot become an event (no parsable eventTime, not a JSON object...)."""


def parse_event_time(text: str) -> Dict[str, Any]:
    """Epoch seconds and the ``date_*`` fields of a CloudTrail ``eventTime``, as written."""
    match = _EVENT_TIME.match(text.strip())
    if not match:
        raise CloudTrailRecordError(f"eventTime {text!r} is not an ISO 8601 timestamp")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction = float(match.group(7)) if match.group(7) else 0.0
    zone_text = match.group(8) or "Z"
    if zone_text == "Z":
        offset_minutes = 0
    else:
        digits = zone_text[1:].replace(":", "")
        offset_minutes = (int(digits[:2]) * 60 + int(digits[2:])) * (-1 if zone_text[0] == "-" else 1)
    try:  # the pattern admits month 13, hour 25, offset +99:99, year 0: not a time
        zone = timezone(timedelta(minutes=offset_minutes))
        written = datetime(year, month, day, hour, minute, second, tzinfo=zone)
        epoch = written.timestamp()
    except (ValueError, OverflowError) as exc:
        raise CloudTrailRecordError(f"eventTime {text!r} is not a valid time ({exc})") from None
    return {
        "_time": epoch + fraction,
        "date_hour": str(hour),
        "date_minute": str(minute),
        "date_second": str(second),
        "date_mday": str(day),
        "date_month": _MONTHS[month - 1],
        "date_year": str(year),
        "date_wday": _DAYS[written.weekday()],
        "date_zone": str(offset_minutes),
    }


def _first(fields: Dict[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    return value if value not in (None, "") else None


def _coalesce(*values: str | None) -> str | None:
    for value in values:
        if value is not None:
            return value
    return None


def ta_fields(fields: Dict[str, Any]) -> Dict[str, str]:
    """The Splunk Add-on for AWS (7.7.1) aliases and calculated fields, from the extracted fields.

    They read the JSON fields, as Splunk applies aliases and EVAL- after auto-extraction: a
    field that extraction did not produce cannot feed them.
    """
    arn = _first(fields, "userIdentity.arn")
    arn_tail = arn.rsplit("/", 1)[-1] if arn and "/" in arn else None
    issuer = _first(fields, "userIdentity.sessionContext.sessionIssuer.userName")
    identity_user = _first(fields, "userIdentity.userName")
    user_name = _coalesce(identity_user, _first(fields, "requestParameters.sourceIdentity"), issuer, arn_tail)
    event_name = _first(fields, "eventName") or ""
    user = _coalesce(identity_user, issuer) if event_name.startswith("Put") else user_name
    derived = {
        "src": _first(fields, "sourceIPAddress"),
        "src_ip": _first(fields, "sourceIPAddress"),
        "region": _first(fields, "awsRegion"),
        "vendor_region": _first(fields, "awsRegion"),
        "userName": user_name,
        "user": user,
        "user_type": _first(fields, "userIdentity.type"),
        "user_arn": arn,
        "aws_account_id": _first(fields, "recipientAccountId"),
    }
    return {k: v for k, v in derived.items() if v is not None}


AUTO_EXTRACTION_CUTOFF = 5000  # limits.conf [spath] extraction_cutoff, bytes (CloudTrail JSON is ASCII)


def to_splunk_event(
    record: Dict[str, Any],
    *,
    index: str = "main",
    source: str = DEFAULT_SOURCE,
    host: str = DEFAULT_HOST,
    max_chars: int | None = AUTO_EXTRACTION_CUTOFF,
) -> Dict[str, Any]:
    """One CloudTrail record as a Splunk event with its search-time fields.

    Arguments:
        record: one CloudTrail record (a dict parsed from JSON).
        index, source, host: Splunk's default fields for the event.
        max_chars: the auto-extraction cutoff (leaves ending after this many characters of
            ``_raw`` are not extracted): 5000 as Splunk; None extracts every leaf.

    Raises:
        CloudTrailRecordError: the record is not an object or has no valid ``eventTime``.

    Examples:
        >>> event = to_splunk_event({"eventTime": "2021-08-18T23:17:30Z", "eventName": "PutImage"})
        >>> event["date_hour"], event["date_wday"], event["sourcetype"]
        ('23', 'wednesday', 'aws:cloudtrail')
    """
    if not isinstance(record, dict):
        raise CloudTrailRecordError("a CloudTrail record must be a JSON object")
    event_time = record.get("eventTime")
    if not isinstance(event_time, str):
        raise CloudTrailRecordError("the record has no eventTime")
    raw = json.dumps(record)  # the layout of security_content's captured events (Python's json.dumps)
    event: Dict[str, Any] = {}
    for name, values in flatten_text(raw, max_chars).items():
        event[name] = values[0] if len(values) == 1 else values
    event.update(ta_fields(event))
    times = parse_event_time(event_time)
    event.update({k: v for k, v in times.items() if k != "_time"})
    event.update(
        {
            "_time": times["_time"],  # epoch float, as the replay contract says; run_search renders it
            "_raw": raw,
            "index": index,
            "sourcetype": SOURCETYPE,
            "source": source,
            "host": host,
        }
    )
    return event


def read_records(path: Union[str, Path]) -> List[Dict[str, Any]]:
    """CloudTrail records from a file of JSON lines or a CloudTrail ``{"Records": [...]}`` document.

    A ``.gz`` file (as CloudTrail delivers to S3) is decompressed first.

    Raises:
        CloudTrailRecordError: the file is neither (the message names the line that failed).
    """
    path = Path(path)
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    text = data.decode("utf-8-sig").strip()
    if not text:
        return []
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if isinstance(document, dict):
        records = document.get("Records", [document]) if "Records" in document else [document]
        return _objects(records, str(path))
    if isinstance(document, list):
        return _objects(document, str(path))
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise CloudTrailRecordError(f"{path}:{number}: not JSON ({exc.msg})") from exc
        if isinstance(item, dict) and isinstance(item.get("Records"), list):
            records.extend(_objects(item["Records"], f"{path}:{number}"))
        else:
            records.extend(_objects([item], f"{path}:{number}"))
    return records


def _objects(items: List[Any], where: str) -> List[Dict[str, Any]]:
    for item in items:
        if not isinstance(item, dict):
            raise CloudTrailRecordError(f"{where}: a CloudTrail record must be a JSON object")
    return list(items)
