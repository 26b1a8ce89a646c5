"""Scale, the CI variant of benchmarks/bench_scale.py: twice the October 2024 snapshot (every
detection cloned under a new id, name and path) synced into the splunkd emulator's KV store.

Asserts correctness and the KV store limits only, never timing: every detection file becomes one
row, the clones keep their own ids, every lookup is one complete generation, and no batch_save
carries more than 1,000 documents. The figures (time, peak RSS, 1x to 10x) are the benchmark's.
"""

from __future__ import annotations

import pytest

from malicious_image.splunkd.kvstore import MAX_BATCH_DOCUMENTS, KVStoreStateStore, KVStoreTableWriter, SplunkdClient
from malicious_image.sync.engine import run_sync
from tests.emulators.splunkd_server import SplunkdEmulator
from tests.support.paths import APP, SNAPSHOTS
from tests.synthetic_content import OCTOBER_2024, scaled_members, write_tarball

pytestmark = pytest.mark.slow

FACTOR = 2


@pytest.mark.skipif(not OCTOBER_2024.exists(), reason=f"needs {SNAPSHOTS}")
def test_twice_the_snapshot_syncs_whole_within_batch_limits(tmp_path):
    from malicious_image.content.reader import member_kind
    from malicious_image.content.source_spec import source_from_spec

    members = dict(scaled_members(FACTOR))
    detection_files = [p for p in members if member_kind(p) == "detection"]
    tarball, commit = write_tarball(tmp_path / "scale-2x.tar.gz", members, "scale-2")
    del members
    with SplunkdEmulator(app_dir=APP) as splunkd:
        client = SplunkdClient(splunkd.url, splunkd.session_key, verify=str(splunkd.ca_file))
        writer = KVStoreTableWriter(client)
        report = run_sync(source_from_spec(str(tarball)), writer, KVStoreStateStore(client))
        assert report.outcome == "updated", report.message
        rejected = {r["path"] for r in report.rejected}
        live = splunkd.conf_value("transforms", "malicious_image_detections", "collection")
        rows = splunkd.collections[live]
        assert len(rows) == len([p for p in detection_files if p not in rejected]) == report.counts["detections"]
        originals = {r["id"] for r in rows if "_copy1." not in r["source_path"]}
        clones = {r["id"] for r in rows if "_copy1." in r["source_path"]}
        assert len(clones) == len(originals) and not clones & originals  # new ids, one per original
        assert all(r["name"].endswith(" copy 1") for r in rows if "_copy1." in r["source_path"])
        for table, count in report.counts.items():
            collection = splunkd.conf_value("transforms", f"malicious_image_{table}", "collection")
            documents = splunkd.collections[collection]
            assert len(documents) == count and {d["generation"] for d in documents} == {report.generation}
            assert {d["source_commit"] for d in documents} == {commit}
        assert splunkd.batch_sizes and max(splunkd.batch_sizes) <= MAX_BATCH_DOCUMENTS
        assert max(writer.batch_sizes) == MAX_BATCH_DOCUMENTS  # the detections needed several full batches
        assert sum(writer.batch_sizes) == sum(report.counts.values())
