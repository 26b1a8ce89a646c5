"""The rules on real-size events, under the strict evaluator (issue 12, items 1 and 2).

Automatic JSON extraction stops at 5000 bytes, mvexpand truncates past max_mem_usage_mb, so the
rules must read late fields with spath path=... and cut rows before expanding. Each test here
would fail on the rules as they were (auto-extracted fields, whole events expanded).
"""

from __future__ import annotations

import json

from devtools.cloudtrail import fields as ct_fields
from devtools.cloudtrail import large
from devtools.cloudtrail import records as r
from devtools.spl import SearchContext, SearchLimits, run_search
from tests.rules_support import HIGH, LOW, MEDIUM, UNKNOWN, at, example_log, fresh_app, ids, run_rule

SCANNING = (HIGH, MEDIUM, LOW)


def scanning_rows(records):
    return {name: run_rule(name, records).rows for name in SCANNING}


def test_the_real_69_kb_response_loses_no_finding_and_reads_the_late_account_id():
    record = example_log("aws_cloudtrail_describeimagescanfindings")
    raw = json.dumps(record)
    assert len(raw) > 60_000 and raw.index('"recipientAccountId"') > 5000
    event = ct_fields.to_splunk_event(record)
    assert "recipientAccountId" not in event  # the cutoff applies: the rule cannot rely on auto-KV
    findings = record["responseElements"]["imageScanFindings"]["findings"]
    expected = {f["name"] if not f.get("description") else f"{f['name']}, {f['description']}" for f in findings}
    rows = scanning_rows([record])
    got = [row["finding"] for name in SCANNING for row in rows[name]]
    assert sorted(got) == sorted(expected)  # every distinct finding, in exactly one rule
    registries = {row["registryId"] for name in SCANNING for row in rows[name]}
    expected_registry = record["responseElements"].get("registryId") or record["recipientAccountId"]
    assert registries == {expected_registry}


def test_a_1000_finding_response_keeps_every_finding():
    i = ids(11)
    who = r.iam_user(i, "scanner")
    record = large.large_scan_response(i, at("2026-11-21T02:20:00"), who, "payments/api", i.digest())
    assert len(json.dumps(record)) > 400_000
    rows = scanning_rows([record])
    names = sorted(row["finding"].split(",")[0] for name in SCANNING for row in rows[name])
    assert names == sorted(f"CVE-2026-{10000 + n}" for n in range(1000))
    assert {len(rows[HIGH]), len(rows[MEDIUM]), len(rows[LOW])} == {334, 167, 499}


def test_expanding_whole_events_would_truncate_with_splunks_message():
    """The control: the same findings expanded without cutting the rows first pass 500 MB."""
    i = ids(11)
    who = r.iam_user(i, "scanner")
    record = large.large_scan_response(i, at("2026-11-21T02:20:00"), who, "payments/api", i.digest())
    event = ct_fields.to_splunk_event(record)
    context = SearchContext(now=event["_time"] + 60)
    rows = run_search(
        "search eventName=DescribeImageScanFindings"
        " | spath path=responseElements.imageScanFindings.findings{} output=f | mvexpand f",
        [event],
        context,
    )
    assert 0 < len(rows) < 1000
    assert context.messages and "max_mem_usage_mb" in context.messages[0]
    assert f"truncated at {len(rows)} results" in context.messages[0]


def test_mvexpand_limit_is_a_setting():
    """About 1 KB a row, 0.05 MB (52 KB) allowed: about 50 of the 100 rows, and one message."""
    context = SearchContext(limits=SearchLimits(mvexpand_max_mem_mb=0.05))
    search = '| makeresults | eval v=mvrange(0, 100), pad=printf("%1000s", "x") | mvexpand v'
    out = run_search(search, [], context)
    assert 40 <= len(out) < 100 and len(context.messages) == 1
    assert [row["v"] for row in out] == [str(n) for n in range(len(out))]  # the first rows, in order


def test_a_multiarch_push_over_5000_bytes_keeps_its_tag_and_registry():
    i = ids(12)
    who = r.iam_user(i, "mallory")
    record = large.multiarch_put_image(i, at("2026-11-21T02:30:00"), who, "payments/api", tag="v2.4.1")
    raw = json.dumps(record)
    assert raw.index('"imageTag"') > 5000
    event = ct_fields.to_splunk_event(record)
    assert "requestParameters.imageTag" not in event and "recipientAccountId" not in event
    rows = run_rule(UNKNOWN, [record]).rows
    assert [(row["repository"], row["imageTag"], row["registryId"]) for row in rows] == [
        ("payments/api", "v2.4.1", r.ACCOUNT)
    ]


def test_the_scanning_macro_cuts_rows_before_mvexpand():
    definition = fresh_app().macros["malicious_image_aws_ecr_scan_findings"].definition
    before = definition[: definition.index("mvexpand")]
    assert "fields - _raw" in before and "| fields _time user" in before


def test_the_large_sample_replays_with_every_rule_firing():
    """samples/cloudtrail_ecr_large.json (keys in CloudTrail's order): all 1,000 findings, the
    multi-arch push's tag, both correlations."""
    from devtools import replay

    outcome = replay.replay_file(large.LARGE_SAMPLE, now=large.LARGE_NOW)
    rows = {result.stanza: result.rows for result in outcome.results}
    assert sum(len(rows[name]) for name in SCANNING) == 1000
    assert {row["user"] for name in SCANNING for row in rows[name]} == {"ci-scanner"}
    assert [(row["user"], row["imageTag"]) for row in rows[UNKNOWN]] == [("night-owl", "v3.0.0-rc1")]
    assert all(rows[name] for name in rows) and len(rows) == 7
