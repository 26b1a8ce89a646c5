"""``build.py sync`` end to end: the real snapshots (read by path) served by the GitHub emulator
or given as local tarballs, CSV tables on disk, and faults that must leave the tables whole."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from devtools.commands import sync as sync_command
from malicious_image.sync.csv_writer import read_csv
from malicious_image.sync.tables import TABLE_NAMES
from tests.emulators.github_server import GitHubEmulator
from tests.support.paths import SNAPSHOTS

TARBALL_2022 = SNAPSHOTS / "splunk-security_content-ba8de57.tar.gz"
TARBALL_2023 = SNAPSHOTS / "splunk-security_content-fe159f0.tar.gz"
TARBALL_2024 = SNAPSHOTS / "splunk-security_content-b13b314.tar.gz"
SHA_2023 = "fe159f03aff7a3295c3766535cc00f5d04b2a7fe"
SHA_2024 = "b13b314aed0e1778335a55620474e7d27289a20a"
TABLES = TABLE_NAMES  # the one list (malicious_image.sync.tables)

# REFERENCE.md section 1: the seven T1204.003 rules and their 2024 upstream ids.
SEVEN_RULES = {
    "AWS ECR Container Scanning Findings High": "30a0e9f8-f1dd-4f9d-8fc2-c622461d781c",
    "AWS ECR Container Scanning Findings Medium": None,
    "AWS ECR Container Scanning Findings Low Informational Unknown": None,
    "AWS ECR Container Upload Outside Business Hours": "d4c4d4eb-3994-41ca-a25e-a82d64e125bb",
    "AWS ECR Container Upload Unknown User": "300688e4-365c-4486-a065-7c884462b31d",
    "Correlation by User and Risk": "610e12dc-b6fa-4541-825e-4a0b3b6f6773",
    "Correlation by Repository and Risk": "8da9fdd9-6a1b-4ae0-8a34-8c25e6be9687",
}


def _sync(gh: GitHubEmulator | None, out: Path, *extra: str, source: str | None = None) -> int:
    argv = ["--source", source or "https://github.com/splunk/security_content", "--out", str(out), "--quiet"]
    if gh is not None:
        argv += ["--api-url", gh.url, "--retries", "2", "--backoff", "0.01"]
    return sync_command.main([*argv, *extra])


def _summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def _fingerprint(out: Path) -> dict:
    """Every table's bytes, and the state file's, read through the stable names."""
    files = {name: (out / f"{name}.csv").read_bytes() for name in TABLES}
    files["state"] = (out / "sync_state.json").read_bytes()
    return files


@pytest.fixture(scope="module")
def gh():
    with GitHubEmulator() as server:
        yield server


@pytest.fixture(scope="module")
def synced_2023(gh, tmp_path_factory) -> Path:
    """An output folder holding a complete sync of the 2023 snapshot, taken from the emulator."""
    gh.set_ref("develop", TARBALL_2023)
    out = tmp_path_factory.mktemp("sync") / "out"
    assert _sync(gh, out) == 0, _summary(out)["message"]
    return out


@pytest.fixture
def out(synced_2023, gh, tmp_path) -> Path:
    """A private copy of the 2023 output (links kept), the emulator back on 2023, no faults."""
    copy = tmp_path / "out"
    shutil.copytree(synced_2023, copy, symlinks=True)
    gh.set_ref("develop", TARBALL_2023)
    gh.clear_faults()
    gh.clear_log()
    return copy


def test_first_sync_writes_every_table_and_the_summary(synced_2023):
    summary = _summary(synced_2023)
    assert summary["outcome"] == "updated" and summary["commit"] == SHA_2023
    assert set(summary["counts"]) == set(TABLES)
    detections = read_csv(synced_2023 / "detections.csv")
    assert len(detections) == summary["counts"]["detections"] > 1000
    assert {row["source_commit"] for row in detections} == {SHA_2023}
    assert summary["bytes_downloaded"] > 14_000_000 and summary["durations"]["total"] > 0


def test_second_run_on_unchanged_sha_is_one_request_and_no_writes(out, gh):
    before = _fingerprint(out)
    generations = sorted(p.name for p in (out / "generations").iterdir())
    assert _sync(gh, out) == 0
    assert [(r.endpoint, r.status) for r in gh.requests] == [("commits", 304)]
    assert _summary(out)["outcome"] == "unchanged"
    assert _fingerprint(out) == before
    assert sorted(p.name for p in (out / "generations").iterdir()) == generations


def test_upstream_change_is_reflected_in_the_tables_after_a_failed_run(out, gh):
    gh.set_ref("develop", TARBALL_2024)
    gh.fault("drop", endpoint="tarball", after_bytes=200_000, times=2)  # both attempts of one run
    assert _sync(gh, out) == 1 and _summary(out)["outcome"] == "failed"
    assert _sync(gh, out) == 0  # the next run recovers by itself
    summary = _summary(out)
    assert summary["outcome"] == "updated" and summary["commit"] == SHA_2024
    assert 0 < summary["cache_hits"] and summary["files_parsed"] < summary["files_read"]
    detections = {row["name"]: row for row in read_csv(out / "detections.csv")}
    assert len(detections) == summary["counts"]["detections"]
    assert {row["source_commit"] for row in detections.values()} == {SHA_2024}
    assert detections["Correlation by Repository and Risk"]["status"] == "deprecated"  # deprecated 2024-10
    for name, upstream_id in SEVEN_RULES.items():
        assert "T1204.003" in detections[name]["mitre_attack_id"], name
        if upstream_id:
            assert detections[name]["id"] == upstream_id, name


def test_the_2022_snapshot_syncs_from_a_local_tarball(tmp_path):
    out = tmp_path / "out"
    assert _sync(None, out, source=str(TARBALL_2022)) == 0
    summary = _summary(out)
    assert summary["commit"] == "ba8de57131a72f24c9f6258e396c11a753ae9d9f"
    names = {row["name"]: row for row in read_csv(out / "detections.csv")}
    for name in SEVEN_RULES:
        assert "T1204.003" in names[name]["mitre_attack_id"], name
    techniques = {row["technique_id"]: row for row in read_csv(out / "techniques.csv")}
    assert techniques["T1204.003"]["parent_technique_id"] == "T1204"
    assert _sync(None, out, source=str(TARBALL_2022)) == 0 and _summary(out)["outcome"] == "unchanged"


@pytest.mark.parametrize(
    ("fault", "params", "why"),
    [
        ("drop", {"endpoint": "tarball", "after_bytes": 200_000}, "bytes"),
        ("corrupt_gzip", {"endpoint": "tarball", "at": 200_000}, "damaged"),
        ("status", {"endpoint": "tarball", "code": 500}, "HTTP 500"),
        ("rate_limit", {"endpoint": "commits", "code": 403, "reset_in": 3600}, "rate limit reached"),
        ("rate_limit", {"endpoint": "redirect", "code": 429, "retry_after": 900}, "rate limit reached"),
    ],
)
def test_faults_leave_the_previous_tables_whole(out, gh, fault, params, why):
    before = _fingerprint(out)
    gh.set_ref("develop", TARBALL_2024)
    gh.fault(fault, **params)
    assert _sync(gh, out) == 1
    summary = _summary(out)
    assert summary["outcome"] == "failed" and why in summary["message"]
    assert "previous tables were left in place" in summary["message"]
    after = _fingerprint(out)
    assert {k: after[k] for k in TABLES} == {k: before[k] for k in TABLES}
    assert json.loads(after["state"])["commit"] == SHA_2023


def test_format_drift_fails_the_command_and_accept_format_change_lets_it_through(tmp_path, capsys):
    """A content whose detections lost their ATT&CK ids: exit 1, the tables stay, the summary
    says why; ``--accept-format-change`` takes it."""
    fixture = Path(__file__).resolve().parent.parent / "fixtures" / "content" / "era_c2"
    rule = "detections/endpoint/container_image_pulled_from_unlisted_registry.yml"
    content = tmp_path / "content"
    shutil.copytree(fixture, content)
    out = tmp_path / "out"
    assert _sync(None, out, source=str(content)) == 0
    tables_before = (out / "detections.csv").read_bytes()
    text = (content / rule).read_text(encoding="utf-8")
    (content / rule).write_text(text.replace("mitre_attack_id:\n- T1204.003\n- T1204\n", ""), encoding="utf-8")
    assert _sync(None, out, source=str(content)) == 1
    summary = _summary(out)
    assert (summary["outcome"], summary["error"]) == ("failed", "FormatDriftError")
    assert summary["message"].startswith("the content format changed: 1 of 1 detections have no ATT&CK id")
    assert summary["unmapped_detections"] == {"count": 1, "first": [
        {"path": rule, "id": "5b0f5c1e-7d43-4c1a-9a57-2f3b8e6d9c10"}]}
    assert (out / "detections.csv").read_bytes() == tables_before
    assert "1 detections have no ATT&CK id: " + rule in capsys.readouterr().err
    assert _sync(None, out, "--accept-format-change", source=str(content)) == 0
    assert read_csv(out / "detections.csv")[0]["mitre_attack_id"] == ""
    # an unchanged run reports the figures of the tables in place again
    assert _sync(None, out, source=str(content)) == 0
    assert _summary(out)["outcome"] == "unchanged"
    assert _summary(out)["unmapped_detections"]["count"] == 1
