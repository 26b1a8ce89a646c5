"""``build.py sync --jobs N``: parsing on forked workers gives exactly the serial run's result,
surfaces a worker's error as the serial run would raise it, and leaves no process behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_engine import CLASSES, COMMIT_A, COMMIT_B, CONTENT, FakeContent, MemoryStateStore, MemoryWriter

from devtools.parallel_parse import ForkedParseCache, forked_parse_many
from malicious_image.content.github import GitHubSource
from malicious_image.content.source_base import RetryPolicy
from malicious_image.content.sources import TarballSource
from malicious_image.sync.engine import run_sync
from malicious_image.sync.state import ParseCache
from tests.emulators.github_server import GitHubEmulator, make_tarball
from tests.support.paths import SNAPSHOTS

MANY = {
    **CONTENT,
    **{f"detections/cloud/d{i:02d}.yml": (b"BAD\n" if i % 7 == 3 else b"Detection %d\n" % i) for i in range(40)},
    **{f"macros/m{i:02d}.yml": b"Macro %d\n" % i for i in range(10)},
}


def _children() -> set[int]:
    """Processes forked by this thread (the one running the sync)."""
    pid = os.getpid()
    return {int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


@pytest.fixture(autouse=True)
def no_process_left():
    before = _children()
    yield
    assert _children() <= before, "a parse worker outlived the sync"


LOCAL_SHARE = 4  # a fixed split: this process parses members 0, 4, 8... (2 jobs)


def _sync(tmp_path: Path, name: str, content: dict, commit: str, jobs: int, fake: FakeContent, cache_dir: Path,
          local_share: int | None = None):  # fmt: skip
    source = TarballSource(make_tarball(tmp_path / f"{name}.tar.gz", content, commit=commit))
    writer, cache = MemoryWriter(), ParseCache(cache_dir, classes=CLASSES)
    parse_many = forked_parse_many(fake.read_member, jobs, local_share) if jobs > 1 else None
    report = run_sync(source, writer, MemoryStateStore(), reader=fake.reader(), cache=cache, parse_many=parse_many)
    return report, writer, (cache_dir / "parse-cache.json").read_bytes()


def _same(a, b):
    (report_a, writer_a, cache_a), (report_b, writer_b, cache_b) = a, b
    event_a, event_b = report_a.to_event(), report_b.to_event()
    for event in (event_a, event_b):
        for key in ("durations", "generation", "message", "repository"):
            event.pop(key)
    assert event_a == event_b
    assert [tables for tables, _ in writer_a.calls] == [tables for tables, _ in writer_b.calls]
    assert cache_a == cache_b


@pytest.mark.parametrize("local_share", [None, LOCAL_SHARE], ids=["balanced", "fixed split"])
@pytest.mark.parametrize("jobs", [2, 3])
def test_forked_parse_gives_the_serial_tables_rejections_and_cache(tmp_path, jobs, local_share):
    serial = _sync(tmp_path, "s", MANY, COMMIT_A, 1, FakeContent(), tmp_path / "cache-s")
    forked = _sync(tmp_path, "f", MANY, COMMIT_A, jobs, FakeContent(), tmp_path / "cache-f", local_share)
    _same(serial, forked)
    assert serial[0].outcome == "updated" and serial[0].files_parsed == len(MANY) - 3
    assert len(serial[0].rejected) == 1 + 6  # bad.yml and every 7th dNN.yml
    # A re-sync mixing cache hits and parses keeps the cache file's order too.
    changed = {**MANY, "detections/cloud/d05.yml": b"Detection 5 changed\n", "macros/m09.yml": b"BAD\n"}
    serial = _sync(tmp_path, "s2", changed, COMMIT_B, 1, FakeContent(), tmp_path / "cache-s")
    forked = _sync(tmp_path, "f2", changed, COMMIT_B, jobs, FakeContent(), tmp_path / "cache-f", local_share)
    _same(serial, forked)
    assert serial[0].files_parsed == 2 and forked[0].files_parsed == 2


class Failing(FakeContent):
    def __init__(self, failing: str, error: BaseException):
        super().__init__()
        self.failing, self.error = failing, error

    def read_member(self, path, data, *, commit=""):
        if path == self.failing:
            raise self.error
        return super().read_member(path, data, commit=commit)


@pytest.mark.parametrize("local", [True, False], ids=["in this process", "in a worker"])
def test_an_error_in_a_parse_fails_the_sync_as_the_serial_run_does(tmp_path, local):
    paths = FakeContent()
    _sync(tmp_path, "order", MANY, COMMIT_A, 1, paths, tmp_path / "cache-order")
    index = 2 * LOCAL_SHARE if local else 2 * LOCAL_SHARE + 1  # the cycle sends turn 0 here
    failing = paths.parsed[index]
    reports = []
    for jobs in (1, 2):
        fake = Failing(failing, ValueError(f"cannot read {failing}"))
        cache = ParseCache(tmp_path / f"cache-{jobs}", classes=CLASSES)
        parse_many = forked_parse_many(fake.read_member, jobs, LOCAL_SHARE) if jobs > 1 else None
        source = TarballSource(make_tarball(tmp_path / f"e{jobs}.tar.gz", MANY, commit=COMMIT_A))
        writer = MemoryWriter()
        reports.append(run_sync(source, writer, MemoryStateStore(), reader=fake.reader(), cache=cache,
                                parse_many=parse_many))  # fmt: skip
        assert writer.calls == [] and not cache.path.exists()
    assert reports[0].outcome == reports[1].outcome == "failed"
    assert reports[0].message == reports[1].message == f"ValueError: cannot read {failing}; no tables were written"


@pytest.mark.parametrize("local", [True, False], ids=["in this process", "in a worker"])
def test_keyboard_interrupt_ends_the_workers(tmp_path, local):
    paths = FakeContent()
    _sync(tmp_path, "order", MANY, COMMIT_A, 1, paths, tmp_path / "cache-order")
    failing = paths.parsed[2 * LOCAL_SHARE if local else 2 * LOCAL_SHARE + 1]
    fake = Failing(failing, KeyboardInterrupt())
    source = TarballSource(make_tarball(tmp_path / "k.tar.gz", MANY, commit=COMMIT_A))
    with pytest.raises(KeyboardInterrupt):
        run_sync(source, MemoryWriter(), MemoryStateStore(), reader=fake.reader(),
                 parse_many=forked_parse_many(fake.read_member, 2, LOCAL_SHARE))  # fmt: skip


def test_archive_cut_short_fails_as_in_a_serial_run(tmp_path):
    path = make_tarball(tmp_path / "c.tar.gz", MANY, commit=COMMIT_A)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    messages = []
    for jobs in (1, 2):
        fake = FakeContent()
        parse_many = forked_parse_many(fake.read_member, jobs) if jobs > 1 else None
        report = run_sync(TarballSource(path), MemoryWriter(), MemoryStateStore(), reader=fake.reader(),
                          parse_many=parse_many)  # fmt: skip
        messages.append((report.outcome, report.message))
    assert messages[0] == messages[1] and messages[0][0] == "failed" and "cut short" in messages[0][1]


def test_download_cut_short_is_retried_whole_with_workers():
    fake = FakeContent()
    with GitHubEmulator() as gh:
        gh.set_ref("develop", SNAPSHOTS / "splunk-security_content-b13b314.tar.gz")
        gh.fault("drop", times=1)
        source = GitHubSource(api_url=gh.url, retry_policy=RetryPolicy(sleep=lambda s: None))
        writer = MemoryWriter()
        report = run_sync(source, writer, MemoryStateStore(), reader=fake.reader(),
                          parse_many=forked_parse_many(fake.read_member, 2))  # fmt: skip
        assert report.outcome == "updated", report.message
        assert report.requests == 5 and report.counts["detections"] > 1500
    serial = MemoryWriter()
    with GitHubEmulator() as gh:
        gh.set_ref("develop", SNAPSHOTS / "splunk-security_content-b13b314.tar.gz")
        run_sync(GitHubSource(api_url=gh.url), serial, MemoryStateStore(), reader=FakeContent().reader())
    assert [t for t, _ in writer.calls] == [t for t, _ in serial.calls]


def test_forked_cache_save_writes_the_same_file_only_after_a_successful_run(tmp_path):
    source = TarballSource(make_tarball(tmp_path / "c.tar.gz", MANY, commit=COMMIT_A))
    plain = ParseCache(tmp_path / "plain", classes=CLASSES)
    run_sync(source, MemoryWriter(), MemoryStateStore(), reader=FakeContent().reader(), cache=plain)
    forked = ForkedParseCache(tmp_path / "forked", classes=CLASSES)
    report = run_sync(source, MemoryWriter(), MemoryStateStore(), reader=FakeContent().reader(), cache=forked)
    assert report.outcome == "updated"
    assert forked.path.read_bytes() == plain.path.read_bytes()
    assert sorted(p.name for p in forked.folder.iterdir()) == ["parse-cache.json"]
    assert oct(forked.path.stat().st_mode & 0o777) == oct(plain.path.stat().st_mode & 0o777)


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()], ids=["write fails", "Ctrl-C"])
def test_forked_cache_save_leaves_nothing_when_the_run_does_not_finish(tmp_path, error):
    source = TarballSource(make_tarball(tmp_path / "c.tar.gz", MANY, commit=COMMIT_A))
    cache = ForkedParseCache(tmp_path / "cache", classes=CLASSES)
    writer = MemoryWriter(fail=error)
    if isinstance(error, KeyboardInterrupt):
        with pytest.raises(KeyboardInterrupt):
            run_sync(source, writer, MemoryStateStore(), reader=FakeContent().reader(), cache=cache)
    else:
        report = run_sync(source, writer, MemoryStateStore(), reader=FakeContent().reader(), cache=cache)
        assert report.outcome == "failed"
    assert list(cache.folder.iterdir()) == []  # no cache file, no temporary file


def test_forked_cache_save_falls_back_to_writing_here(tmp_path, monkeypatch):
    source = TarballSource(make_tarball(tmp_path / "c.tar.gz", MANY, commit=COMMIT_A))
    cache = ForkedParseCache(tmp_path / "cache", classes=CLASSES)
    monkeypatch.setattr(ForkedParseCache, "_chunks", lambda self: iter([b"x"]) if os.getpid() != parent else
                        ParseCache._chunks(self))  # fmt: skip
    parent = os.getpid()
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError("I/O error")) if os.getpid() != parent
                        else None)  # fmt: skip
    report = run_sync(source, MemoryWriter(), MemoryStateStore(), reader=FakeContent().reader(), cache=cache)
    assert report.outcome == "updated"
    assert len(ParseCache(tmp_path / "cache", classes=CLASSES)) == len(MANY) - 3
    assert sorted(p.name for p in cache.folder.iterdir()) == ["parse-cache.json"]


def test_jobs_1_saves_the_cache_in_this_process(tmp_path, monkeypatch):
    forks = []
    real_fork = os.fork
    monkeypatch.setattr(os, "fork", lambda: forks.append(1) or real_fork())
    source = TarballSource(make_tarball(tmp_path / "c.tar.gz", MANY, commit=COMMIT_A))
    cache = ForkedParseCache(tmp_path / "cache", classes=CLASSES, fork=lambda: False)
    report = run_sync(source, MemoryWriter(), MemoryStateStore(), reader=FakeContent().reader(), cache=cache)
    assert report.outcome == "updated" and cache.path.exists() and forks == []
