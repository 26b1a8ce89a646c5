"""A loss of ATT&CK coverage is never silent: the real 2025-2026 files through the whole sync.

* The format-drift guard, with the real reader and with a test double that reads the real files
  by the old rules (ATT&CK ids and stories only from ``tags``, so every ESCU 6 detection loses
  them, as the reader did before issue 9): the tables in place come from the 2024 snapshot; the
  old rules on today's files trip the guard; the right reader recovers.
* "Done when" of issue 9: the 2024 snapshot with every live file placed into it (the merged tree
  is built in a temporary folder, never in the repository) gives each live detection its ATT&CK
  ids and stories.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import tarfile

import pytest
import yaml

from malicious_image.content.model import Detection
from malicious_image.content.reader import read_member
from malicious_image.content.sources import DirectorySource, TarballSource
from malicious_image.sync.drift import MAX_UNMAPPED_LISTED
from malicious_image.sync.engine import ContentReader, run_sync
from malicious_image.sync.state import SyncState
from tests.support.paths import SNAPSHOTS

LIVE = SNAPSHOTS / "live-2025-2026"
SNAPSHOT_2024 = SNAPSHOTS / "splunk-security_content-b13b314.tar.gz"
TOP_LEVEL_MOVED = ("analytic_story", "asset_type", "mitre_attack_id", "product", "category",
                   "security_domain", "cve")

pytestmark = pytest.mark.skipif(
    not (LIVE / "MANIFEST.tsv").exists() or not SNAPSHOT_2024.exists(),
    reason=f"needs the real files in {LIVE} and {SNAPSHOT_2024}",
)


class MemoryWriter:
    def __init__(self):
        self.calls: list = []

    def replace_tables(self, tables, generation):
        self.calls.append((tables, generation))


class MemoryStateStore:
    def __init__(self):
        self.state: SyncState | None = None

    def load(self):
        return self.state

    def save(self, state):
        self.state = state


def old_rules_read_member(path, data, *, commit=""):
    """The reader before ESCU 6 support: top-level ATT&CK ids, stories ... are not looked at."""
    doc = yaml.safe_load(data)
    if isinstance(doc, dict) and path.startswith("detections/"):
        for key in TOP_LEVEL_MOVED:
            doc.pop(key, None)
        data = yaml.safe_dump(doc, sort_keys=False).encode("utf-8")
    return read_member(path, data, commit=commit)


def live_detections():
    out = {}
    for path in sorted(LIVE.rglob("*.yml")):
        rel = path.relative_to(LIVE).as_posix()
        record = read_member(rel, path.read_bytes()).record
        if isinstance(record, Detection):
            out[rel] = record
    return out


def test_old_rules_trip_the_guard_then_the_right_reader_recovers(caplog):
    writer, store = MemoryWriter(), MemoryStateStore()
    first = run_sync(TarballSource(SNAPSHOT_2024), writer, store)
    assert first.outcome == "updated", first.message
    in_place = store.state.coverage
    assert in_place["counted"] > 1500 and in_place["mapped"] / in_place["counted"] > 0.95
    generation = store.state.generation

    counted = [r for r in live_detections().values() if r.status in ("production", "experimental")]
    c2 = sorted(r.source_path for r in counted if r.era == "C2")
    old = dataclasses.replace(ContentReader.default(), read_member=old_rules_read_member)
    with caplog.at_level(logging.ERROR, logger="malicious_image.sync"):
        tripped = run_sync(DirectorySource(LIVE), writer, store, reader=old)
    event = tripped.to_event()
    assert (event["outcome"], event["error"]) == ("failed", "FormatDriftError")
    assert event["message"].startswith(
        f"the content format changed: {len(c2)} of {len(counted)} detections have no ATT&CK id")
    assert "previous tables kept" in event["message"]
    assert event["unmapped_detections"]["count"] == len(c2)
    assert sorted(item["path"] for item in event["unmapped_detections"]["first"]) == c2
    assert len(writer.calls) == 1 and store.state.generation == generation  # previous tables kept
    assert store.state.coverage == in_place and store.state.outcome == "failed"
    assert any("action=format_drift" in r.getMessage() and c2[0] in r.getMessage() for r in caplog.records)

    recovered = run_sync(DirectorySource(LIVE), writer, store)
    assert recovered.outcome == "updated", recovered.message
    assert recovered.to_event()["unmapped_detections"] == {"count": 0, "first": []}
    assert recovered.to_event()["unknown_keys"] == {}
    assert store.state.coverage["mapped"] == store.state.coverage["counted"] == len(counted)


def test_accept_format_change_lets_one_run_through_and_becomes_the_new_base():
    writer, store = MemoryWriter(), MemoryStateStore()
    assert run_sync(TarballSource(SNAPSHOT_2024), writer, store).outcome == "updated"
    old = dataclasses.replace(ContentReader.default(), read_member=old_rules_read_member)
    accepted = run_sync(DirectorySource(LIVE), writer, store, reader=old, accept_format_change=True)
    assert accepted.outcome == "updated", accepted.message
    assert accepted.error == "" and accepted.health.unmapped > 0
    # the low share is now the one in place: the same content again goes through
    again = run_sync(DirectorySource(LIVE), writer, store, reader=old)
    assert again.outcome in ("updated", "unchanged"), again.message


def test_2024_snapshot_with_every_live_file_placed_in_it(tmp_path):
    """Issue 9, "Done when": each live detection gets its ATT&CK ids and stories."""
    tree = tmp_path / "security_content"
    with tarfile.open(SNAPSHOT_2024) as archive:
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        archive.extractall(tmp_path / "unpacked", **safe)  # the real snapshot, into tmp
    (top,) = (tmp_path / "unpacked").iterdir()
    top.rename(tree)
    live = live_detections()
    for rel in [p.relative_to(LIVE).as_posix() for p in LIVE.rglob("*.yml")]:
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(LIVE / rel, tree / rel)

    writer, store = MemoryWriter(), MemoryStateStore()
    report = run_sync(DirectorySource(tree), writer, store)
    assert report.outcome == "updated", report.message
    ((tables, _),) = writer.calls
    rows = {row["source_path"]: row for row in tables["detections"]}
    for rel, record in live.items():
        row = rows[rel]
        assert row["mitre_attack_id"] == list(record.mitre_attack_id), rel
        assert row["analytic_story"] == list(record.analytic_story), rel
        if record.status != "removed":
            assert row["mitre_attack_id"] and row["analytic_story"], rel
    event = report.to_event()
    assert event["unknown_keys"] == {}
    unmapped = {item["path"] for item in event["unmapped_detections"]["first"]}
    assert not unmapped & set(live)
    assert event["unmapped_detections"]["count"] <= MAX_UNMAPPED_LISTED or len(unmapped) == MAX_UNMAPPED_LISTED
    print(f"\nmerged tree: {len(rows)} detections, {event['unmapped_detections']['count']} unmapped")
