"""The three scanning-findings rules, replayed as shipped over DescribeImageScanFindings records."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devtools.cloudtrail import sample as s
from tests.rules_support import HIGH, LOW, MEDIUM, at, example_log, ids, rows_without, run_rule

DIGEST = "sha256:" + "ab" * 32


def scan(findings=None, enhanced=None, *, when="2026-11-18T10:00:00", who=None, **kwargs):
    i = ids()
    identity = who or s.assumed_role(i, "security-audit", "inspector-sync")
    return s.describe_scan_findings(
        i, at(when), identity, "payments/api", DIGEST, findings=findings, enhanced=enhanced, **kwargs
    )


def row(
    finding,
    severity,
    finding_severity,
    source="basic",
    *,
    user="security-audit",
    first="2026-11-18T10:00:00",
    last=None,
):
    return {
        "awsRegion": "eu-central-1",
        "eventName": "DescribeImageScanFindings",
        "eventSource": "ecr.amazonaws.com",
        "registryId": "111111111111",
        "repository": "payments/api",
        "imageDigest": DIGEST,
        "finding": finding,
        "phase": "release",
        "severity": severity,
        "firstTime": first,
        "lastTime": last or first,
        "user": user,
        "src_ip": "198.51.100.7",
        "imageTag": "unknown",
        "finding_severity": finding_severity,
        "finding_source": source,
    }


EVERY_SEVERITY = [
    s.basic_finding("CVE-1", "CRITICAL", "crit"),
    s.basic_finding("CVE-2", "HIGH", "high"),
    s.basic_finding("CVE-3", "MEDIUM", "med"),
    s.basic_finding("CVE-4", "LOW", "low"),
    s.basic_finding("CVE-5", "INFORMATIONAL", "info"),
    s.basic_finding("CVE-6", "UNDEFINED", "undef"),
    s.basic_finding("CVE-7", "UNKNOWN", "unknown"),
    s.basic_finding("CVE-8", None, "no severity"),
]


def test_every_severity_lands_in_exactly_one_rule():
    records = [scan(EVERY_SEVERITY)]
    assert run_rule(HIGH, records).rows == [
        row("CVE-1, crit", "critical", "CRITICAL"),
        row("CVE-2, high", "high", "HIGH"),
    ]
    assert run_rule(MEDIUM, records).rows == [row("CVE-3, med", "medium", "MEDIUM")]
    assert run_rule(LOW, records).rows == [
        row("CVE-4, low", "low", "LOW"),
        row("CVE-5, info", "informational", "INFORMATIONAL"),
        row("CVE-6, undef", "unknown", "UNDEFINED"),
        row("CVE-7, unknown", "unknown", "UNKNOWN"),
        row("CVE-8, no severity", "unknown", "UNDEFINED"),
    ]


def test_enhanced_findings_are_read_with_untriaged_in_low():
    i = ids()
    enhanced = [
        s.enhanced_finding("CVE-2026-9", "CRITICAL", "glibc", "Overflow.", ids=i),
        s.enhanced_finding("CVE-2026-8", "UNTRIAGED", "busybox", "Not triaged.", ids=i),
        s.enhanced_finding("CVE-2026-7", "MEDIUM", "zlib", "DoS.", ids=i),
    ]
    records = [scan(enhanced=enhanced)]
    assert run_rule(HIGH, records).rows == [row("CVE-2026-9, Overflow.", "critical", "CRITICAL", "enhanced")]
    assert run_rule(MEDIUM, records).rows == [row("CVE-2026-7, DoS.", "medium", "MEDIUM", "enhanced")]
    assert run_rule(LOW, records).rows == [
        row("CVE-2026-8, Not triaged.", "unknown", "UNTRIAGED", "enhanced")
    ]


def test_basic_and_enhanced_in_one_response_both_count():
    records = [
        scan(
            [s.basic_finding("CVE-1", "HIGH", "basic one")],
            [s.enhanced_finding("CVE-2", "HIGH", "pkg", "enhanced one", ids=ids())],
        )
    ]
    rows = run_rule(HIGH, records).rows
    assert [(r["finding"], r["finding_source"]) for r in rows] == [
        ("CVE-1, basic one", "basic"),
        ("CVE-2, enhanced one", "enhanced"),
    ]


def test_finding_without_description_is_kept_with_its_name():
    rows = run_rule(LOW, [scan([s.basic_finding("CVE-2021-3618", "UNDEFINED", None)])]).rows
    assert rows == [row("CVE-2021-3618", "unknown", "UNDEFINED")]


def test_duplicate_findings_give_one_row_per_finding_per_image():
    finding = s.basic_finding("CVE-1", "HIGH", "dup")
    i = ids(3)
    records = [
        scan([finding, finding]),
        scan([finding], when="2026-11-18T10:30:00", who=s.iam_user(i, "alice")),
    ]
    assert run_rule(HIGH, records).rows == [
        row("CVE-1, dup", "high", "HIGH", user=["alice", "security-audit"], last="2026-11-18T10:30:00")
    ]


def test_the_same_finding_in_two_images_gives_two_rows():
    i = ids()
    other = s.describe_scan_findings(
        i,
        at("2026-11-18T10:05:00"),
        s.iam_user(i, "alice"),
        "payments/api",
        "sha256:" + "cd" * 32,
        findings=[s.basic_finding("CVE-1", "HIGH", "x")],
    )
    rows = run_rule(HIGH, [scan([s.basic_finding("CVE-1", "HIGH", "x")]), other]).rows
    assert sorted(r["imageDigest"] for r in rows) == sorted([DIGEST, "sha256:" + "cd" * 32])


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(scan([]), id="empty findings"),
        pytest.param(scan(status="IN_PROGRESS"), id="scan in progress"),
        pytest.param(scan(error="ScanNotFoundException"), id="errorCode"),
        pytest.param(scan(None, None), id="no findings key"),
    ],
)
@pytest.mark.parametrize("rule", [HIGH, MEDIUM, LOW])
def test_no_findings_no_rows(record, rule):
    assert run_rule(rule, [record]).rows == []


def test_image_requested_by_tag_takes_the_digest_of_the_response():
    record = scan([s.basic_finding("CVE-1", "HIGH", "x")], by_tag="v1.2")
    rows = run_rule(HIGH, [record]).rows
    assert (rows[0]["imageDigest"], rows[0]["imageTag"]) == (DIGEST, "v1.2")


def test_iam_user_caller_is_the_user_name():
    i = ids()
    record = s.describe_scan_findings(
        i,
        at("2026-11-18T10:00:00"),
        s.iam_user(i, "bob"),
        "payments/api",
        DIGEST,
        findings=[s.basic_finding("CVE-1", "MEDIUM", "x")],
    )
    assert run_rule(MEDIUM, [record]).rows[0]["user"] == "bob"


def test_real_describe_image_scan_findings_sample():
    record = example_log("aws_cloudtrail_describeimagescanfindings")
    high = run_rule(HIGH, [record]).rows
    assert [r["finding"].split(",")[0] for r in high] == ["CVE-2019-25013", "CVE-2021-33574"]
    assert rows_without(high[:1], "finding") == [
        {
            "awsRegion": "eu-central-1",
            "eventName": "DescribeImageScanFindings",
            "eventSource": "ecr.amazonaws.com",
            "registryId": "111111111111",
            "repository": "devsecops/cat_dog_client",
            "imageDigest": "sha256:a27d73188718a511a1ec1ec788826674b21e097f29873dde734a4dedfbfab1c6",
            "phase": "release",
            "severity": "high",
            "firstTime": "2021-08-11T11:52:27",
            "lastTime": "2021-08-11T11:52:27",
            "user": "test",
            "src_ip": "154.16.165.133",
            "imageTag": "unknown",
            "finding_severity": "HIGH",
            "finding_source": "basic",
        }
    ]
    medium = run_rule(MEDIUM, [record]).rows
    low = run_rule(LOW, [record]).rows
    findings = record["responseElements"]["imageScanFindings"]["findings"]
    assert len(high) + len(medium) + len(low) == len(findings) == 104
    assert len(medium) == 14
    assert sorted({r["finding_severity"] for r in low}) == ["INFORMATIONAL", "LOW", "UNDEFINED"]
    assert {"CVE-2021-3618"} <= {r["finding"] for r in low}  # the finding without a description


def test_dispatch_window_is_honoured():
    records = [scan([s.basic_finding("CVE-1", "HIGH", "x")], when="2026-11-18T10:00:00")]
    assert len(run_rule(HIGH, records, now="2026-11-18T11:05:00Z").rows) == 1  # window 09:55-10:55
    assert run_rule(HIGH, records, now="2026-11-18T10:05:00Z").rows == []  # window 08:55-09:55
    assert len(run_rule(HIGH, records, now="2026-11-18T11:10:59Z").rows) == 1  # 10:00:00 is the earliest
    assert run_rule(HIGH, records, now="2026-11-18T11:11:00Z").rows == []  # window 10:01-11:01


SEVERITIES = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED", "UNTRIAGED", "UNKNOWN"]


@settings(max_examples=25, deadline=None)
@given(
    severity=st.one_of(
        st.sampled_from(SEVERITIES),
        st.sampled_from(SEVERITIES).map(str.lower),
        st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ_", min_size=1, max_size=12),
        st.none(),
    ),
    enhanced=st.booleans(),
)
def test_property_any_severity_lands_in_exactly_one_rule(severity, enhanced):
    if enhanced:
        finding = s.enhanced_finding("CVE-9", severity or "", "pkg", "desc", ids=ids())
        if severity is None:
            del finding["severity"]
        record = scan(enhanced=[finding])
    else:
        record = scan([s.basic_finding("CVE-9", severity, "desc")])
    counts = [len(run_rule(rule, [record]).rows) for rule in (HIGH, MEDIUM, LOW)]
    assert sorted(counts) == [0, 0, 1]
