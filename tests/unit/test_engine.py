"""The sync engine over a fake content reader: outcomes, state, cache, failures, the status event."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from malicious_image.content.github import GitHubSource
from malicious_image.content.source_base import RetryPolicy
from malicious_image.content.sources import DirectorySource, TarballSource
from malicious_image.sync import engine
from malicious_image.sync.engine import ContentReader, run_sync
from malicious_image.sync.state import ParseCache, StateError, SyncState
from tests.emulators.github_server import GitHubEmulator, make_tarball
from tests.support.paths import SNAPSHOTS

pytestmark = pytest.mark.runtime
COMMIT_A = "a" * 40
COMMIT_B = "b" * 40


@dataclass(frozen=True)
class FakeRecord:
    kind: str
    name: str
    source_path: str
    source_commit: str


@dataclass(frozen=True)
class FakeRejection:
    path: str
    reason: str


@dataclass(frozen=True)
class FakeResult:
    kind: str
    record: FakeRecord | None = None
    rejection: FakeRejection | None = None


CLASSES = {c.__name__: c for c in (FakeRecord, FakeRejection, FakeResult)}


class FakeContent:
    """member_kind/read_member/read_catalogue/build_tables with a call log."""

    def __init__(self):
        self.parsed: list[str] = []

    @staticmethod
    def member_kind(path: str) -> str | None:
        if path.endswith("mitre_enrichment.csv"):
            return "catalogue"
        if path.endswith(".yml") and path.split("/")[0] in ("detections", "macros"):
            return path.split("/")[0][:-1]
        return None

    def read_member(self, path: str, data: bytes, *, commit: str = "") -> FakeResult:
        self.parsed.append(path)
        kind = self.member_kind(path)
        if b"BAD" in data:
            return FakeResult(kind, rejection=FakeRejection(path, "not a detection: no name"))
        return FakeResult(kind, record=FakeRecord(kind, data.decode().strip(), path, commit))

    @staticmethod
    def read_catalogue(data: bytes, order):
        return data.decode().splitlines()[1:]

    @staticmethod
    def build_tables(records, techniques, order, commit):
        return {
            "detections": [
                {"name": r.name, "tags": ["x", "y"], "source_commit": commit}  # stamped, as tables.py does
                for r in records
                if r.kind == "detection"
            ],
            "macros": [{"name": r.name, "source_commit": commit} for r in records if r.kind == "macro"],
            "techniques": [{"technique_id": t, "source_commit": commit} for t in techniques],
        }

    def reader(self) -> ContentReader:
        return ContentReader(
            self.member_kind, self.read_member, self.read_catalogue, self.build_tables, lambda: ["Execution"]
        )


class MemoryWriter:
    def __init__(self, fail: Exception | None = None):
        self.calls: list[tuple[dict, str]] = []
        self.fail = fail

    def replace_tables(self, tables, generation):
        if self.fail:
            raise self.fail
        self.calls.append((tables, generation))


class MemoryStateStore:
    def __init__(self, state: SyncState | None = None, fail_load: bool = False):
        self.state = state
        self.saves = 0
        self.fail_load = fail_load

    def load(self):
        if self.fail_load:
            raise StateError("sync_state.json is not a valid sync state")
        return self.state

    def save(self, state):
        self.saves += 1
        self.state = state


CONTENT = {
    "detections/cloud/a.yml": b"Detection A\n",
    "detections/cloud/b.yml": b"Detection B\n",
    "detections/endpoint/bad.yml": b"BAD\n",
    "macros/m.yml": b"Macro M\n",
    "lookups/mitre_enrichment.csv": b"mitre_id\nT1204.003\nT1204\n",
    "dist/escu/lookups/mitre_enrichment.csv": b"mitre_id\nT9999\n",
    "docs/readme.md": b"not read\n",
}


@pytest.fixture
def fake():
    return FakeContent()


def _tarball(tmp_path, content=None, commit=COMMIT_A, name="c.tar.gz"):
    return TarballSource(make_tarball(tmp_path / name, content or CONTENT, commit=commit))


def _run(source, writer, store, fake, **kwargs):
    return run_sync(source, writer, store, reader=fake.reader(), **kwargs)


def test_first_sync_writes_all_tables_and_the_state(tmp_path, fake):
    writer, store = MemoryWriter(), MemoryStateStore()
    report = _run(_tarball(tmp_path), writer, store, fake)
    assert report.outcome == "updated", report.message
    ((tables, generation),) = writer.calls
    assert sorted(r["name"] for r in tables["detections"]) == ["Detection A", "Detection B"]
    assert [r["technique_id"] for r in tables["techniques"]] == ["T1204.003", "T1204"]  # shallowest catalogue
    assert {r["source_commit"] for r in tables["detections"]} == {COMMIT_A}
    assert report.counts == {"detections": 2, "macros": 1, "techniques": 2}
    assert report.rejected == [{"path": "detections/endpoint/bad.yml", "reason": "not a detection: no name"}]
    assert store.state.commit == COMMIT_A and store.state.generation == generation == report.generation
    assert generation.startswith("1-") and store.state.outcome == "updated"
    assert "docs/readme.md" not in store.state.blobs and len(store.state.blobs) == 6


def test_a_writer_that_lost_the_right_to_write_ends_the_run_and_saves_no_state(tmp_path, fake):
    lost = engine.SyncInterrupted("this search head stopped being the captain")
    writer, store = MemoryWriter(fail=lost), MemoryStateStore()
    with pytest.raises(engine.SyncInterrupted) as raised:
        _run(_tarball(tmp_path), writer, store, fake)
    assert raised.value is lost and store.saves == 0 and store.state is None


def test_status_event_has_the_documented_fields(tmp_path, fake):
    event = _run(_tarball(tmp_path), MemoryWriter(), MemoryStateStore(), fake).to_event()
    for key in ("outcome", "repository", "ref", "commit", "counts", "rejected", "bytes_downloaded",
                "durations", "message", "error"):  # fmt: skip
        assert key in event
    # the fake rows have no type: no detection is counted, and the fake reader knows no keys
    assert (event["unmapped_detections"], event["unknown_keys"]) == ({"count": 0, "first": []}, {})
    assert set(event["durations"]) >= {"resolve", "download", "parse", "tables", "write", "total"}
    assert event["bytes_downloaded"] > 0 and event["commit"] == COMMIT_A


def test_unchanged_tarball_reads_and_writes_nothing(tmp_path, fake):
    source, writer, store = _tarball(tmp_path), MemoryWriter(), MemoryStateStore()
    _run(source, writer, store, fake)
    fake.parsed.clear()
    report = _run(source, writer, store, fake)
    assert report.outcome == "unchanged" and report.commit == COMMIT_A
    assert len(writer.calls) == 1 and store.saves == 1 and fake.parsed == []
    assert report.counts == {"detections": 2, "macros": 1, "techniques": 2}


def test_unchanged_folder_is_detected_by_blob_hashes(tmp_path, fake):
    for path, data in CONTENT.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(data)
    writer, store = MemoryWriter(), MemoryStateStore()
    assert _run(DirectorySource(tmp_path), writer, store, fake).outcome == "updated"
    assert _run(DirectorySource(tmp_path), writer, store, fake).outcome == "unchanged"
    (tmp_path / "macros" / "m.yml").write_bytes(b"Macro M2\n")
    assert _run(DirectorySource(tmp_path), writer, store, fake).outcome == "updated"
    assert len(writer.calls) == 2 and writer.calls[-1][0]["macros"][0]["name"] == "Macro M2"


def test_resync_parses_only_changed_files_and_rows_carry_the_new_commit(tmp_path, fake):
    writer, store = MemoryWriter(), MemoryStateStore()
    _run(_tarball(tmp_path), writer, store, fake, cache=ParseCache(tmp_path / "cache", classes=CLASSES))
    changed = dict(CONTENT, **{"detections/cloud/b.yml": b"Detection B v2\n"})
    fake.parsed.clear()
    cache = ParseCache(tmp_path / "cache", classes=CLASSES)
    report = _run(_tarball(tmp_path, changed, COMMIT_B, "d.tar.gz"), writer, store, fake, cache=cache)
    assert report.outcome == "updated"
    assert fake.parsed == ["detections/cloud/b.yml"]
    assert report.files_parsed == 1 and report.cache_hits == 3
    rows = writer.calls[-1][0]["detections"]
    assert sorted(r["name"] for r in rows) == ["Detection A", "Detection B v2"]
    assert {r["source_commit"] for r in rows} == {COMMIT_B}
    assert report.rejected[0]["path"] == "detections/endpoint/bad.yml"  # cached rejections still reported


def test_damaged_cache_file_only_costs_a_full_parse(tmp_path, fake):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "parse-cache.json").write_bytes(b'{"format": 1, "entries": {"x": ')
    cache = ParseCache(tmp_path / "cache", classes=CLASSES)
    report = _run(_tarball(tmp_path), MemoryWriter(), MemoryStateStore(), fake, cache=cache)
    assert report.outcome == "updated" and report.files_parsed == 4 and report.cache_hits == 0
    assert len(ParseCache(tmp_path / "cache", classes=CLASSES)) == 4  # rewritten whole


def test_cache_is_dropped_when_the_code_changes(tmp_path, fake, monkeypatch):
    _run(_tarball(tmp_path), MemoryWriter(), MemoryStateStore(), fake,
         cache=ParseCache(tmp_path / "cache", classes=CLASSES))  # fmt: skip
    from malicious_image.sync import state as state_module

    monkeypatch.setattr(state_module, "code_fingerprint", lambda: "other-code")
    assert len(ParseCache(tmp_path / "cache", classes=CLASSES)) == 0


def test_new_code_resyncs_even_when_upstream_is_unchanged(tmp_path, fake, monkeypatch):
    source, writer, store = _tarball(tmp_path), MemoryWriter(), MemoryStateStore()
    _run(source, writer, store, fake)
    monkeypatch.setattr(engine, "code_fingerprint", lambda: "new-app-version")
    assert _run(source, writer, store, fake).outcome == "updated" and len(writer.calls) == 2


def test_failed_write_keeps_the_state_of_the_tables_still_in_place(tmp_path, fake):
    writer, store = MemoryWriter(), MemoryStateStore()
    _run(_tarball(tmp_path), writer, store, fake)
    good = store.state
    failing = MemoryWriter(fail=OSError("disk full"))
    newer = _tarball(tmp_path, dict(CONTENT, **{"macros/n.yml": b"Macro N\n"}), COMMIT_B, "d.tar.gz")
    report = _run(newer, failing, store, fake)
    assert report.outcome == "failed" and "disk full" in report.message
    assert "previous tables were left in place" in report.message
    assert (store.state.commit, store.state.etag, store.state.generation) == (
        good.commit,
        good.etag,
        good.generation,
    )
    assert store.state.outcome == "failed"
    assert _run(newer, writer, store, fake).outcome == "updated"  # the next run recovers by itself


def test_state_not_saved_after_the_write_says_so_and_the_next_run_syncs_again(tmp_path, fake):
    class FailingSave(MemoryStateStore):
        def save(self, state):
            if state.outcome == "updated":
                raise StateError("KV store unavailable")
            super().save(state)

    writer, store = MemoryWriter(), FailingSave()
    report = _run(_tarball(tmp_path), writer, store, fake)
    assert report.outcome == "failed" and len(writer.calls) == 1
    assert "tables were replaced" in report.message and "next run will sync again" in report.message
    assert store.state.outcome == "failed" and store.state.generation == ""


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda data: data[: len(data) // 2], "cut short"),
        (lambda data: b"<html>proxy login</html>", "not gzip"),
    ],
)
def test_broken_archive_fails_without_writing(tmp_path, fake, damage, expected):
    path = make_tarball(tmp_path / "c.tar.gz", CONTENT, commit=COMMIT_A)
    path.write_bytes(damage(path.read_bytes()))
    writer, store = MemoryWriter(), MemoryStateStore()
    report = _run(TarballSource(path), writer, store, fake)
    assert report.outcome == "failed" and expected in report.message
    assert writer.calls == []


def test_content_without_detections_never_replaces_the_tables(tmp_path, fake):
    writer = MemoryWriter()
    report = _run(_tarball(tmp_path, {"macros/m.yml": b"Macro M\n"}), writer, MemoryStateStore(), fake)
    assert report.outcome == "failed" and "no detection was read" in report.message
    assert writer.calls == []


def test_unreadable_state_means_a_full_sync(tmp_path, fake):
    report = _run(_tarball(tmp_path), MemoryWriter(), MemoryStateStore(fail_load=True), fake)
    assert report.outcome == "updated"
    assert report.rejected[0]["path"] == "(sync state)"


def test_progress_reports_each_phase(tmp_path, fake):
    phases = []
    _run(
        _tarball(tmp_path),
        MemoryWriter(),
        MemoryStateStore(),
        fake,
        progress=lambda p, d, t: phases.append(p),
    )
    assert [p for i, p in enumerate(phases) if p not in phases[:i]] == ["resolve", "read", "tables", "write"]


def test_github_download_cut_short_is_retried_whole(fake):
    with GitHubEmulator() as gh:
        gh.set_ref("develop", SNAPSHOTS / "splunk-security_content-b13b314.tar.gz")
        gh.fault("drop", times=1)
        source = GitHubSource(api_url=gh.url, retry_policy=RetryPolicy(sleep=lambda s: None))
        store = MemoryStateStore()
        report = _run(source, MemoryWriter(), store, fake)
        assert report.outcome == "updated", report.message
        assert [r.endpoint for r in gh.requests] == ["commits", "redirect", "tarball", "redirect", "tarball"]
        assert report.counts["detections"] > 1500 and report.requests == 5
        gh.clear_log()
        again = _run(source, MemoryWriter(), store, fake)
        assert again.outcome == "unchanged" and [r.status for r in gh.requests] == [304]
