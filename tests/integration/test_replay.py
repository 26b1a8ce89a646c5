"""The whole chain on the built-in sample: records -> rule rows -> risk events -> correlation rows ->
notables, through `python3 build.py replay` as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from devtools import replay
from devtools.cloudtrail import sample
from tests.rules_support import BY_REPO, BY_USER, HIGH, HOURS, LOW, MEDIUM, UNKNOWN

ROOT = replay.ROOT


@pytest.fixture(scope="module")
def outcome():
    return replay.replay_file(sample.SAMPLE_PATH, now=sample.SAMPLE_NOW)


def by_stanza(outcome):
    return {r.stanza: r for r in outcome.results}


def test_committed_sample_is_the_generated_one():
    assert sample.SAMPLE_PATH.read_text() == sample.render_sample(sample.sample_records())
    assert sample.render_sample(sample.sample_records()) == sample.render_sample(sample.sample_records())


def test_known_pushers_come_from_the_month_before(outcome):
    assert sorted(r["user"] for r in outcome.baseline_rows) == ["alice", "ci-deployer"]


def test_rule_rows(outcome):
    results = by_stanza(outcome)
    summary = {
        name: [(r.get("repository"), r.get("user"), r.get("severity")) for r in res.rows]
        for name, res in results.items()
    }
    assert summary == {
        HIGH: [
            ("payments/api", "security-audit", "critical"),
            ("payments/api", "security-audit", "high"),
            ("web/frontend", "security-audit", "high"),
        ],
        LOW: [
            ("payments/api", "security-audit", "low"),
            ("payments/api", "security-audit", "informational"),
            ("payments/api", "security-audit", "unknown"),
            ("web/frontend", "security-audit", "unknown"),
        ],
        MEDIUM: [("payments/api", "security-audit", "medium")],
        HOURS: [
            ("payments/api", "alice", "medium"),
            ("payments/api", "contractor-role", "medium"),
            ("tools/miner", "eve", "medium"),
        ],
        UNKNOWN: [("payments/api", "contractor-role", "high"), ("tools/miner", "eve", "high")],
        BY_REPO: [
            ("payments/api", ["alice", "contractor-role", "security-audit"], None),
            ("tools/miner", "eve", None),
        ],
        BY_USER: [("payments/api", "contractor-role", None), ("tools/miner", "eve", None)],
    }


def test_risk_events_feed_the_correlations(outcome):
    results = by_stanza(outcome)
    per_rule = {
        name: [(r["risk_object"], r["risk_object_type"], r["risk_score"]) for r in res.risks]
        for name, res in results.items()
    }
    assert per_rule[HIGH] == [("payments/api", "other", 70)] * 2 + [("web/frontend", "other", 70)]
    assert per_rule[MEDIUM] == [("payments/api", "other", 21)]
    assert per_rule[LOW] == [("payments/api", "other", 5)] * 3 + [("web/frontend", "other", 5)]
    assert per_rule[HOURS] == [("alice", "user", 49), ("contractor-role", "user", 49), ("eve", "user", 49)]
    assert per_rule[UNKNOWN] == [("contractor-role", "user", 49), ("eve", "user", 49)]
    repo_scores = {r["repository"]: r["total_risk_score"] for r in results[BY_REPO].rows}
    # payments/api: 2x70 + 21 + 3x5 + 49 (alice, hours) + 49 + 49 (contractor) = 323; web/frontend 75 < 80
    assert repo_scores == {"payments/api": "323", "tools/miner": "98"}
    assert {r["user"]: r["total_risk_score"] for r in results[BY_USER].rows} == {
        "contractor-role": "98",
        "eve": "98",
    }


def test_notables(outcome):
    titles = [(n["rule_name"], n["rule_title"], n["severity"]) for n in outcome.notables]
    assert titles == [
        (
            "AWS ECR Container Scanning Findings High",
            "Vulnerabilities with severity critical found in repository payments/api",
            "critical",
        ),
        (
            "AWS ECR Container Scanning Findings High",
            "Vulnerabilities with severity high found in repository payments/api",
            "high",
        ),
        (
            "AWS ECR Container Scanning Findings High",
            "Vulnerabilities with severity high found in repository web/frontend",
            "high",
        ),
        (
            "Correlation by Repository and Risk",
            "Correlation triggered for repository payments/api with risk score 323",
            "high",
        ),
        (
            "Correlation by Repository and Risk",
            "Correlation triggered for repository tools/miner with risk score 98",
            "high",
        ),
        (
            "Correlation by User and Risk",
            "Correlation triggered for user contractor-role with risk score 98",
            "high",
        ),
        ("Correlation by User and Risk", "Correlation triggered for user eve with risk score 98", "high"),
    ]
    assert all(n["annotations.mitre_attack"] == ["T1204.003", "T1204"] for n in outcome.notables)


def test_without_now_every_record_is_seen_and_every_pusher_is_unknown():
    everything = replay.replay_file(sample.SAMPLE_PATH)
    results = by_stanza(everything)
    assert not everything.windowed and everything.baseline_rows == []
    assert sorted({r["user"] for r in results[UNKNOWN].rows}) == [
        "alice",
        "ci-deployer",
        "contractor-role",
        "eve",
    ]
    assert len(results[UNKNOWN].rows) == 30  # one row per user and tag: alice 20, ci-deployer 8, 1 + 1


def test_a_window_without_events_fires_nothing():
    quiet = replay.replay_file(sample.SAMPLE_PATH, now="2026-11-25T12:00:00Z")
    assert [len(r.rows) for r in quiet.results] == [0] * 7


def test_summary_for_the_package_step():
    text = sample.replay_sample_summary()
    assert text.splitlines()[-1] == "7 of 7 rules fired; 17 risk events, 7 notables"


def _cli(*args):
    return subprocess.run(
        [sys.executable, str(ROOT / "build.py"), "replay", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def test_cli_jsonl_has_kind_rule_and_fields():
    done = _cli("--events", str(sample.SAMPLE_PATH), "--now", sample.SAMPLE_NOW, "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    kinds = {}
    for line in lines:
        kinds[line["kind"]] = kinds.get(line["kind"], 0) + 1
    assert kinds == {"result": 17, "risk": 17, "notable": 7}
    first = lines[0]
    assert (first["kind"], first["rule"], first["finding"]) == (
        "result",
        "AWS ECR Container Scanning Findings High",
        "CVE-2026-0001, Remote code execution in the HTTP parser.",
    )


def test_cli_table_and_errors(tmp_path):
    done = _cli("--events", str(sample.SAMPLE_PATH), "--now", sample.SAMPLE_NOW)
    assert done.returncode == 0 and "== Correlation by User and Risk: 2 result rows" in done.stdout
    assert "7 of 7 rules fired" in done.stdout
    bad = _cli("--events", str(sample.SAMPLE_PATH), "--now", "yesterday")
    assert bad.returncode == 2 and "ISO 8601" in bad.stderr
    (tmp_path / "x.json").write_text("{not json\n")
    assert _cli("--events", str(tmp_path / "x.json")).returncode == 2


def test_jsonl_lines_of_records_work_too(tmp_path):
    lines = "\n".join(json.dumps(r) for r in sample.sample_records())
    (tmp_path / "records.jsonl").write_text(lines + "\n")
    again = replay.replay_file(tmp_path / "records.jsonl", now=sample.SAMPLE_NOW)
    assert replay.summary(again) == sample.replay_sample_summary()


def test_owner_time_zone_changes_how_times_print_not_what_matches(outcome):
    tokyo = replay.replay_file(sample.SAMPLE_PATH, now=sample.SAMPLE_NOW, tz="Asia/Tokyo")
    assert replay.summary(tokyo) == replay.summary(outcome)
    first = by_stanza(tokyo)[HIGH].rows[0]
    assert (first["firstTime"], first["lastTime"]) == ("2026-11-21T11:30:00", "2026-11-21T11:35:00")


def test_only_baselines_that_feed_a_rule_are_replayed():
    from devtools.replay import App

    assert App.load().baselines() == ["Malicious Image - Previously Seen AWS ECR Pushers - Update"]
