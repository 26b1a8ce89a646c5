"""``build.py sync --attack-source``: the 2024 snapshot with a generated enterprise-like v19 bundle
(issue 10's Done-when, table side), a release change rebuilding unchanged content, the CSV default
with only local inputs, and the github provider against the emulated attack-stix-data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devtools.commands import sync as sync_command
from malicious_image.sync.csv_writer import read_csv
from tests import attack_bundles as B
from tests.emulators.attack_stix_server import AttackStixEmulator
from tests.support.paths import SNAPSHOTS

TARBALL_2024 = SNAPSHOTS / "splunk-security_content-b13b314.tar.gz"


@pytest.fixture(scope="module")
def tarball() -> Path:
    if not TARBALL_2024.is_file():
        pytest.skip(f"{TARBALL_2024} is absent")
    return TARBALL_2024


def _sync(tarball: Path, out: Path, *extra: str) -> dict:
    assert sync_command.main(["--source", str(tarball), "--out", str(out), "--quiet", "--jobs", "1", *extra]) == 0
    return json.loads((out / "summary.json").read_text())


def test_v19_bundle_with_the_2024_snapshot(tarball, tmp_path) -> None:
    bundle = tmp_path / "enterprise-attack-19.0.json"
    bundle.write_bytes(B.v19_bundle("19.0"))
    out = tmp_path / "out"
    summary = _sync(tarball, out, "--attack-source", str(bundle))
    assert summary["outcome"] == "updated" and summary["attack"]["version"] == "19.0"
    assert summary["attack"]["fallback"] is False and summary["requests"] == 0
    tactics = read_csv(out / "tactics.csv")
    assert [r["tactic"] for r in tactics] == [name for name, _, _ in B.V19_TACTICS]
    techniques = {r["technique_id"]: r for r in read_csv(out / "techniques.csv")}
    assert techniques["T1204.003"]["parent_technique_id"] == "T1204"
    detections = read_csv(out / "detections.csv")
    ecr = [d for d in detections if d["name"] == "AWS ECR Container Upload Unknown User"]
    assert ecr and "T1204.003" in ecr[0]["attack_technique_id"]
    moved = [d for d in detections if "T1562.001" in d["mitre_attack_id"]]  # revoked in the generated v19
    assert moved, "the 2024 content maps detections to T1562.001"
    for row in moved:
        assert "T1685.002" in row["attack_technique_id"] and "T1562.001" not in row["attack_technique_id"]
        assert "mapped to T1562.001, revoked in ATT&CK 19.0 by T1685.002" in row["attack_mapping_note"]
    groups = {r["group_id"]: r for r in read_csv(out / "groups.csv")}
    assert "T1204.003" in groups["G0139"]["technique_id"]

    from devtools.commands import coverage as coverage_command

    layer_file = tmp_path / "layer.json"
    assert coverage_command.main(["--sync-output", str(out), "--out", str(layer_file)]) == 0
    layer = json.loads(layer_file.read_text())
    assert layer["versions"]["attack"] == "19"
    image = [t for t in layer["techniques"] if t["techniqueID"] == "T1204.003"]
    assert len(image) == 1 and image[0]["score"] == 1  # available: the 2024 ECR detections, nothing enabled
    assert not [t for t in layer["techniques"] if t["techniqueID"] in ("T1562.001", "T1064")]  # revoked, deprecated
    successor = next(t for t in layer["techniques"] if t["techniqueID"] == "T1685.002")
    assert successor["score"] == 1  # the detections on the revoked T1562.001 count here

    again = _sync(tarball, out, "--attack-source", str(bundle))
    assert again["outcome"] == "unchanged"

    bundle.write_bytes(B.v19_bundle("19.1"))  # a new release, the same content
    rebuilt = _sync(tarball, out, "--attack-source", str(bundle))
    assert rebuilt["outcome"] == "updated" and rebuilt["attack"]["version"] == "19.1"
    assert {r["attack_version"] for r in read_csv(out / "techniques.csv")} == {"19.1"}

    csv_again = _sync(tarball, out)  # back to the default: the content's CSV
    assert csv_again["outcome"] == "updated" and csv_again["attack"]["source"] == "security_content"
    assert csv_again["counts"]["techniques"] == 637 and csv_again["requests"] == 0


def test_github_attack_source_against_the_emulator(tarball, tmp_path) -> None:
    out = tmp_path / "out"
    with AttackStixEmulator() as server:
        server.add("19.0", B.v19_bundle("19.0"))
        extra = ("--attack-source", "github", "--attack-index-url", server.index_url)
        first = _sync(tarball, out, *extra)
        assert first["attack"]["version"] == "19.0" and first["requests"] == 2
        second = _sync(tarball, out, *extra)
        assert second["outcome"] == "unchanged" and second["requests"] == 1  # one 304
        assert [code for _, code in server.requests][-1] == 304
