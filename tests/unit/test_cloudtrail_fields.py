"""Search-time fields of aws:cloudtrail events (devtools/cloudtrail/fields.py)."""

from __future__ import annotations

import gzip
import json

import pytest

from devtools.cloudtrail.fields import (
    TA_VERSION,
    CloudTrailRecordError,
    parse_event_time,
    read_records,
    to_splunk_event,
)
from tests.unit.cloudtrail_samples import example_record


@pytest.fixture(scope="module")
def put_image():
    return to_splunk_event(example_record("aws_cloudtrail_putimage"))


@pytest.fixture(scope="module")
def scan_findings():
    return to_splunk_event(example_record("aws_cloudtrail_describeimagescanfindings"), max_chars=None)


@pytest.fixture(scope="module")
def put_image_uncut():
    return to_splunk_event(example_record("aws_cloudtrail_putimage"), max_chars=None)


def test_ta_version_is_the_one_security_content_names():
    assert TA_VERSION == "7.7.1"


def test_default_fields_of_the_real_putimage_event(put_image):
    assert {
        k: put_image[k]
        for k in (
            "_time",
            "index",
            "sourcetype",
            "date_hour",
            "date_minute",
            "date_second",
            "date_mday",
            "date_month",
            "date_year",
            "date_wday",
            "date_zone",
        )
    } == {
        "_time": 1629328650.0,
        "index": "main",
        "sourcetype": "aws:cloudtrail",
        "date_hour": "23",
        "date_minute": "17",
        "date_second": "30",
        "date_mday": "18",
        "date_month": "august",
        "date_year": "2021",
        "date_wday": "wednesday",
        "date_zone": "0",
    }
    assert json.loads(put_image["_raw"])["eventName"] == "PutImage"


def test_json_fields_of_the_real_putimage_event(put_image_uncut):
    put_image = put_image_uncut
    assert put_image["eventSource"] == "ecr.amazonaws.com"
    assert put_image["requestParameters.repositoryName"] == "devsecops/cat_dog_server"
    assert put_image["requestParameters.imageTag"] == "latest"
    assert put_image["readOnly"] == "false"
    assert put_image["resources{}.ARN"] == "arn:aws:ecr:eu-central-1:1111111111111:repository/devsecops/cat_dog_server"
    assert put_image["requestParameters.imageManifest"].startswith('{\n   "schemaVersion": 2')
    assert "userIdentity.sessionContext.sessionIssuer" not in put_image  # empty objects give no field


def test_iam_user_identity_fields(put_image):
    assert {k: put_image[k] for k in ("user", "userName", "user_type", "src", "src_ip", "region")} == {
        "user": "test",
        "userName": "test",
        "user_type": "IAMUser",
        "src": "AWS Internal",
        "src_ip": "AWS Internal",
        "region": "eu-central-1",
    }


def test_assumed_role_identity_fields_of_the_real_scan_event(scan_findings):
    assert "userIdentity.userName" not in scan_findings
    assert scan_findings["userName"] == "test"  # sessionIssuer.userName (the role)
    assert scan_findings["user"] == "test"
    assert scan_findings["user_type"] == "AssumedRole"
    assert scan_findings["userIdentity.principalId"] == "AAAAAAAAAAAAAAAAAAAAA:test@test.com"
    assert scan_findings["src_ip"] == "154.16.165.133"


def test_findings_arrays_become_multivalue_fields(scan_findings):
    severities = scan_findings["responseElements.imageScanFindings.findings{}.severity"]
    assert len(severities) == 104
    assert {s: severities.count(s) for s in set(severities)} == {
        "HIGH": 2,
        "MEDIUM": 14,
        "INFORMATIONAL": 63,
        "LOW": 22,
        "UNDEFINED": 3,
    }
    assert scan_findings["responseElements.imageScanFindings.findingSeverityCounts.UNDEFINED"] == "3"
    assert scan_findings["requestParameters.maxResults"] == "1000"
    assert scan_findings["date_hour"] == "11"


def test_nested_arrays_flatten_to_one_multivalue_per_path(scan_findings):
    keys = scan_findings["responseElements.imageScanFindings.findings{}.attributes{}.key"]
    assert keys[:4] == ["package_version", "package_name", "CVSS2_VECTOR", "CVSS2_SCORE"]


def record(**identity_and_more):
    base = {
        "eventTime": "2024-03-02T07:59:59Z",
        "eventSource": "ecr.amazonaws.com",
        "eventName": "PutImage",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.7",
        "recipientAccountId": "123456789012",
    }
    base.update(identity_and_more)
    return base


def test_assumed_role_put_image_uses_the_role_name():
    event = to_splunk_event(
        record(
            userIdentity={
                "type": "AssumedRole",
                "principalId": "AROAEXAMPLE:ci-session",
                "arn": "arn:aws:sts::123456789012:assumed-role/ci-pusher/ci-session",
                "sessionContext": {"sessionIssuer": {"type": "Role", "userName": "ci-pusher"}},
            }
        )
    )
    assert (event["user"], event["userName"], event["user_type"]) == ("ci-pusher", "ci-pusher", "AssumedRole")


def test_assumed_role_without_issuer_falls_back_to_the_arn_session():
    event = to_splunk_event(
        record(
            eventName="DescribeImageScanFindings",
            userIdentity={"type": "AssumedRole", "arn": "arn:aws:sts::123456789012:assumed-role/r/session-7"},
        )
    )
    assert event["userName"] == "session-7"
    assert event["user"] == "session-7"


def test_put_event_without_user_or_issuer_has_no_user():
    event = to_splunk_event(
        record(userIdentity={"type": "AssumedRole", "arn": "arn:aws:sts::123456789012:assumed-role/r/session-7"})
    )
    assert "user" not in event
    assert event["userName"] == "session-7"


def test_source_identity_wins_over_the_issuer():
    event = to_splunk_event(
        record(
            requestParameters={"sourceIdentity": "alice"},
            userIdentity={"type": "AssumedRole", "sessionContext": {"sessionIssuer": {"userName": "role"}}},
        )
    )
    assert event["userName"] == "alice"


def test_aws_service_caller_has_no_user_fields():
    event = to_splunk_event(
        record(
            userIdentity={"type": "AWSService", "invokedBy": "ecr.amazonaws.com"},
            sourceIPAddress="ecr.amazonaws.com",
        )
    )
    assert event["user_type"] == "AWSService"
    assert "user" not in event and "userName" not in event
    assert event["userIdentity.invokedBy"] == "ecr.amazonaws.com"


def test_error_events_keep_error_code():
    event = to_splunk_event(
        record(
            errorCode="ImageAlreadyExistsException",
            errorMessage="exists",
            userIdentity={"type": "IAMUser", "userName": "bob"},
        )
    )
    assert event["errorCode"] == "ImageAlreadyExistsException"


def test_date_fields_come_from_the_timestamp_as_written():
    assert parse_event_time("2024-03-02T07:59:59Z")["date_wday"] == "saturday"
    fields = parse_event_time("2024-03-02T23:30:00-05:00")
    assert (fields["date_hour"], fields["date_wday"], fields["date_zone"]) == ("23", "saturday", "-300")
    assert fields["_time"] == 1709440200.0  # 2024-03-03T04:30:00Z


def test_fractional_event_time():
    assert to_splunk_event(record(eventTime="2024-03-02T07:59:59.5Z"))["_time"] == 1709366399.5


def test_index_source_host_are_set():
    event = to_splunk_event(record(), index="aws", source="s3://bucket/key", host="collector")
    assert (event["index"], event["source"], event["host"]) == ("aws", "s3://bucket/key", "collector")


def test_max_chars_emulates_an_extraction_cap():
    event = to_splunk_event(record(padding="p" * 200, userIdentity={"type": "IAMUser"}), max_chars=150)
    assert event["eventName"] == "PutImage"
    assert "padding" not in event and "userIdentity.type" not in event
    assert "user_type" not in event  # calculated fields only see what extraction produced


def test_bad_records_are_rejected():
    with pytest.raises(CloudTrailRecordError, match="eventTime"):
        to_splunk_event({"eventName": "PutImage"})
    with pytest.raises(CloudTrailRecordError, match="ISO 8601"):
        to_splunk_event(record(eventTime="yesterday"))


def test_read_records_accepts_json_lines_and_records_files(tmp_path):
    lines = tmp_path / "events.jsonl"
    lines.write_text(json.dumps(record()) + "\n\n" + json.dumps({"Records": [record(), record()]}) + "\n")
    assert len(read_records(lines)) == 3
    delivery = tmp_path / "delivery.json"
    delivery.write_text(json.dumps({"Records": [record(), record(eventName="X")]}, indent=2))
    assert [r["eventName"] for r in read_records(delivery)] == ["PutImage", "X"]
    assert read_records(tmp_path / "events.jsonl")[0]["eventName"] == "PutImage"


def test_read_records_reads_gzipped_delivery_files(tmp_path):
    delivery = tmp_path / "111122223333_CloudTrail_us-east-1_20240302T0800Z_abc.json.gz"
    delivery.write_bytes(gzip.compress(json.dumps({"Records": [record()]}).encode()))
    assert [r["eventName"] for r in read_records(delivery)] == ["PutImage"]


def test_read_records_names_the_bad_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(record()) + "\nnot json\n")
    with pytest.raises(CloudTrailRecordError, match=r"bad.jsonl:2"):
        read_records(bad)


def test_auto_extraction_stops_at_5000_bytes_on_the_real_events(put_image):
    """limits.conf [spath] extraction_cutoff: fields written after byte 5000 are not extracted."""
    raw = put_image["_raw"]
    assert len(raw) > 5000 and raw.index('"readOnly"') > 5000
    assert "readOnly" not in put_image and "recipientAccountId" not in put_image
    assert put_image["requestParameters.repositoryName"] == "devsecops/cat_dog_server"  # early: kept
    scan = to_splunk_event(example_record("aws_cloudtrail_describeimagescanfindings"))
    assert "recipientAccountId" not in scan and "aws_account_id" not in scan
    assert len(scan.get("responseElements.imageScanFindings.findings{}.severity", [])) < 104
