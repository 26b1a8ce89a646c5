"""Syncs through the modular input as splunkd runs it, against the GitHub emulator serving the real
snapshots and the splunkd emulator: first run, unchanged upstream, upstream change, faults.

The tests of this module share one "search head" (splunkd emulator, checkpoint dir, SPLUNK_HOME)
and run in file order, as successive runs of one input would: the first fills the lookups, later
ones start from what the earlier ones left.
"""

from __future__ import annotations

import json
import shutil

import pytest

from malicious_image.sync.tables import TABLE_NAMES
from tests.conftest import APP, SNAPSHOTS
from tests.emulators.github_server import GitHubEmulator
from tests.emulators.splunkd_server import SplunkdEmulator
from tests.integration.modinput_harness import finish, fixture, log_text, run_modinput, start_modinput
from tests.secrets_audit import GITHUB_TOKEN, PROXY_PASSWORD

pytestmark = pytest.mark.runtime

pytest.importorskip("malicious_image.sync.engine", reason="the sync engine (branch sync) has not landed")

OLD = SNAPSHOTS / "splunk-security_content-ba8de57.tar.gz"  # 2022, era A
NEW = SNAPSHOTS / "splunk-security_content-fe159f0.tar.gz"  # 2023, era B
TOKEN = GITHUB_TOKEN
TABLES = TABLE_NAMES


class World:
    """One search head and one GitHub, for the whole module."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.home = tmp_path_factory.mktemp("splunk_home")
        (self.home / "var" / "log" / "splunk").mkdir(parents=True)
        self.splunkd = SplunkdEmulator(app_dir=APP).start()
        self.splunkd.store_password("malicious_image", "github_token", TOKEN)
        self.splunkd.store_password("malicious_image", "proxy_password", PROXY_PASSWORD)  # read, unused
        self.github = GitHubEmulator().start()
        self.outputs: list[str] = []

    def xml(self) -> str:
        return fixture(
            "run_github.xml",
            server_host="sh1",
            server_uri=self.splunkd.url,
            session_key=self.splunkd.session_key,
            api_url=self.github.url,
            checkpoint_dir=str(self.home / "modinputs" / "security_content"),
        )

    def run(self):
        self.splunkd.requests.clear()
        self.github.clear_log()
        done = run_modinput([], self.xml(), self.home)
        self.outputs += [done.stdout, done.stderr]
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stdout
        return done.status

    def lookup(self, table: str) -> list[dict]:
        live = self.splunkd.conf_value("transforms", f"malicious_image_{table}", "collection")
        return [{k: v for k, v in d.items() if k not in ("_key", "_user")} for d in self.splunkd.collections[live]]

    def lookups(self) -> dict[str, list[dict]]:
        return {table: self.lookup(table) for table in TABLES}

    def kv_writes(self) -> list[tuple[str, str]]:
        return [
            (m, p)
            for m, p in self.splunkd.requests
            if m in ("POST", "DELETE") and ("/storage/collections/" in p or "/configs/" in p)
        ]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory)
    yield w
    w.splunkd.stop()
    w.github.stop()


def offline_counts(world: World, tarball) -> dict[str, int]:
    """Counts of the same content synced offline (the core with an in-memory writer).

    It starts from a copy of the input's parse cache (pure-Python YAML parses a snapshot in ~10 s):
    the rows are still read, built and counted independently of the modular input's run.
    """
    from malicious_image.content.sources import TarballSource
    from malicious_image.sync.engine import run_sync
    from malicious_image.sync.state import ParseCache

    class Memory:
        def __init__(self):
            self.tables = {}

        def replace_tables(self, tables, generation):
            self.tables = {k: list(v) for k, v in tables.items()}

        def load(self):
            return None

        def save(self, state):
            pass

    cache_dir = world.home / "offline_cache"
    shutil.rmtree(cache_dir, ignore_errors=True)
    shutil.copytree(world.home / "modinputs" / "security_content" / "parse_cache", cache_dir)
    memory = Memory()
    report = run_sync(TarballSource(tarball), memory, memory, cache=ParseCache(cache_dir))
    assert report.outcome == "updated", report.message
    return {name: len(rows) for name, rows in memory.tables.items()}


def test_first_run_fills_every_lookup_with_the_offline_sync_counts(world):
    sha = world.github.set_ref("develop", OLD)
    status = world.run()
    assert status["outcome"] == "updated", status["message"]
    assert status["commit"] == sha
    counts = {table: len(world.lookup(table)) for table in TABLES}
    assert counts == status["counts"] == offline_counts(world, OLD)
    assert counts["detections"] > 900
    assert {row["source_commit"] for row in world.lookup("detections")} == {sha}
    assert max(world.splunkd.batch_sizes) <= 1000
    assert status["kvstore"]["largest_batch"] <= 1000
    # the token was used (GitHub saw it), and nothing else saw it
    assert any(TOKEN in r.headers.get("authorization", "") for r in world.github.requests)
    world.first_status = status


def test_an_unchanged_upstream_costs_one_request_and_no_kv_write(world):
    status = world.run()
    assert status["outcome"] == "unchanged"
    assert world.github.count() == 1
    assert world.kv_writes() == []


@pytest.mark.parametrize(
    ("kind", "params", "reason"),
    [
        # a persistent drop or 500 is retried 4 times with backoff (2+4+8 s) before the run fails
        pytest.param("drop", {"endpoint": "tarball"}, "", marks=pytest.mark.slow),
        ("corrupt_gzip", {"endpoint": "tarball"}, ""),
        pytest.param("status", {"endpoint": "commits", "code": 500}, "500", marks=pytest.mark.slow),
        ("rate_limit", {"endpoint": "commits", "code": 403, "reset_in": 3600}, "rate limit"),
    ],
)
def test_a_fault_upstream_leaves_the_previous_lookups_whole(world, kind, params, reason):
    before = world.lookups()
    world.github.set_ref("develop", NEW)
    world.github.fault(kind, **params)
    try:
        status = world.run()
    finally:
        world.github.clear_faults()
    assert status["outcome"] == "failed"
    assert "previous tables were left in place" in status["message"]
    assert reason.lower() in status["message"].lower()
    assert world.lookups() == before


def test_an_upstream_change_is_reflected_in_every_lookup(world):
    sha = world.github.set_ref("develop", NEW)
    status = world.run()
    assert status["outcome"] == "updated", status["message"]
    counts = {table: len(world.lookup(table)) for table in TABLES}
    assert counts == status["counts"] == offline_counts(world, NEW)
    for table in TABLES:
        assert {row["source_commit"] for row in world.lookup(table)} <= {sha}
        assert {row["generation"] for row in world.lookup(table)} <= {status["generation"]}
    assert counts["detections"] != world.first_status["counts"]["detections"]
    assert max(world.splunkd.batch_sizes) <= 1000


def test_a_kv_store_failure_mid_write_leaves_the_previous_lookups_whole(world):
    before = world.lookups()
    world.splunkd.collections["malicious_image_sync_state"].clear()  # a lost state: the run rewrites all
    for nth in (2, 3, 4):  # the second batch fails, and both of its retries
        world.splunkd.fail_request(nth, status=500, match="batch_save")
    try:
        status = world.run()
    finally:
        world.splunkd.clear_faults()
    assert status["outcome"] == "failed"
    assert "batch_save" in status["message"] and "HTTP 500" in status["message"]
    assert world.lookups() == before  # same rows, same generation: nothing switched
    assert world.run()["outcome"] == "updated"  # the next run recovers
    assert {table: len(world.lookup(table)) for table in TABLES} == {t: len(before[t]) for t in TABLES}


def test_two_runs_at_once_one_syncs_and_the_other_says_why(world):
    world.splunkd.collections["malicious_image_sync_state"].clear()  # make the run write something
    xml = world.xml()
    world.splunkd.delay = 0.02  # a longer write phase: the two runs surely overlap
    try:
        first, second = start_modinput([], xml, world.home), start_modinput([], xml, world.home)
        runs = [finish(first), finish(second)]
    finally:
        world.splunkd.delay = 0.0
    world.outputs += [text for done in runs for text in (done.stdout, done.stderr)]
    statuses = [done.status for done in runs]
    assert sorted(s["outcome"] for s in statuses) == ["skipped", "updated"]
    skipped = next(s for s in statuses if s["outcome"] == "skipped")
    assert "another run of the security_content input is in progress" in skipped["message"]


def test_the_token_never_appears_in_output_logs_events_or_conf(world):
    everything = "\n".join(world.outputs) + log_text(world.home)
    everything += json.dumps(world.splunkd.confs) + json.dumps(world.splunkd.events)
    everything += json.dumps(world.splunkd.collections)
    assert TOKEN not in everything
    assert "level=INFO" in log_text(world.home)
