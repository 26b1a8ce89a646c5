"""The upstream (security_content 2024) T1204.003 searches, unchanged, over the two real sample
events: a check that evaluator and field emulation together reproduce what Splunk returns."""

from __future__ import annotations

import pytest

from devtools.cloudtrail.fields import to_splunk_event
from devtools.spl import Macro, SearchContext, run_search
from tests.unit.cloudtrail_samples import example_record, snapshot_yaml

RULES = "detections/cloud/aws_ecr_container_"


def upstream_macros():
    macros = {}
    for name in ("cloudtrail", "security_content_ctime", "aws_ecr_users"):
        spec = snapshot_yaml(f"macros/{name}.yml")
        args = tuple(spec.get("arguments") or ())
        macros[f"{name}({len(args)})" if args else name] = Macro(spec["definition"], args)
    return macros


def replay(rule):
    search = snapshot_yaml(f"{RULES}{rule}.yml")["search"]
    macros = upstream_macros()
    macros[f"aws_ecr_container_{rule}_filter"] = Macro("search *")
    events = [
        to_splunk_event(example_record(name))
        for name in ("aws_cloudtrail_putimage", "aws_cloudtrail_describeimagescanfindings")
    ]
    return run_search(search, events, SearchContext(macros=macros))


def test_high_findings_rule_returns_the_two_high_cves():
    rows = replay("scanning_findings_high")
    assert [r["finding"].split(",")[0] for r in rows] == ["CVE-2019-25013", "CVE-2021-33574"]
    assert {k: v for k, v in rows[0].items() if k != "finding"} == {
        "awsRegion": "eu-central-1",
        "eventName": "DescribeImageScanFindings",
        "eventSource": "ecr.amazonaws.com",
        "imageDigest": "sha256:a27d73188718a511a1ec1ec788826674b21e097f29873dde734a4dedfbfab1c6",
        "repository": "devsecops/cat_dog_client",
        "user": "AAAAAAAAAAAAAAAAAAAAA:test@test.com",
        "src_ip": "154.16.165.133",
        "phase": "release",
        "severity": "high",
        "firstTime": "2021-08-11T11:52:27",
        "lastTime": "2021-08-11T11:52:27",
    }


@pytest.mark.parametrize(
    ("rule", "count"),
    [
        ("scanning_findings_medium", 14),
        # LOW + INFORMATIONAL (22 + 63); upstream never looks at the 3 UNDEFINED findings
        ("scanning_findings_low_informational_unknown", 85),
    ],
)
def test_other_severity_rules_count_distinct_findings(rule, count):
    assert len(replay(rule)) == count


def test_business_hours_rule_fires_on_the_2317_utc_push():
    rows = replay("upload_outside_business_hours")
    assert rows == [
        {
            "awsRegion": "eu-central-1",
            "eventName": "PutImage",
            "eventSource": "ecr.amazonaws.com",
            "user": "test",
            "userName": "test",
            "src_ip": "AWS Internal",
            "imageTag": "latest",
            "registryId": "111111111112",
            "repository": "devsecops/cat_dog_server",
            "phase": "release",
            "severity": "medium",
            "firstTime": "2021-08-18T23:17:30",
            "lastTime": "2021-08-18T23:17:30",
        }
    ]


def test_finding_without_description_is_dropped_by_stats():
    # CVE-2021-3618 (UNDEFINED) has no description: finding = name.", ".description is null and
    # `stats ... by finding` drops the row, the upstream flaw REFERENCE.md section 1 names.
    search = (
        "`cloudtrail` eventName=DescribeImageScanFindings "
        "| spath path=responseElements.imageScanFindings.findings{} output=findings "
        "| mvexpand findings | spath input=findings | search severity=UNDEFINED "
        '| eval finding = name.", ".description | stats count by finding'
    )
    events = [to_splunk_event(example_record("aws_cloudtrail_describeimagescanfindings"))]
    rows = run_search(search, events, SearchContext(macros=upstream_macros()))
    assert [r["finding"].split(",")[0] for r in rows] == ["CVE-2021-22924", "CVE-2021-38115"]


def test_unknown_user_rule_fires_because_the_macro_matches_only_the_literal_user():
    rows = replay("upload_unknown_user")
    assert [(r["userName"], r["image"]) for r in rows] == [("test", "devsecops/cat_dog_server")]
