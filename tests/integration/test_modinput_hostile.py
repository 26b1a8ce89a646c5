"""Hostile archives through the modular input as splunkd runs it (pure-Python YAML, vendored
libraries), against the GitHub emulator serving bytes built by the test and the splunkd emulator.

One search head for the module, runs in file order: the first run fills the lookups with the base
content; hostile archives then fail with their reason and leave every lookup as it was; hostile
members are rejected by name while the rest syncs, and dangerous SPL stays lookup data.
"""

from __future__ import annotations

import json
import time

import pytest

from malicious_image.sync.tables import TABLE_NAMES
from tests import hostile_archives as H
from tests.emulators.github_server import GitHubEmulator
from tests.emulators.splunkd_server import SplunkdEmulator
from tests.integration.modinput_harness import fixture, run_modinput
from tests.support.paths import APP

pytestmark = pytest.mark.runtime

TABLES = TABLE_NAMES  # the one list (malicious_image.sync.tables)
BASE_SHA, HOSTILE_SHA = "1" * 40, H.COMMIT
_EVIL = "detections/cloud/evil.yml"


class World:
    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.home = tmp_path_factory.mktemp("splunk_home_hostile")
        (self.home / "var" / "log" / "splunk").mkdir(parents=True)
        self.splunkd = SplunkdEmulator(app_dir=APP, splunk_home=self.home).start()
        self.github = GitHubEmulator().start()

    def run(self, archive: bytes, sha: str) -> tuple[dict, float]:
        self.github.set_ref_bytes("develop", archive, sha)
        self.splunkd.requests.clear()
        xml = fixture(
            "run_github.xml",
            server_host="sh1",
            server_uri=self.splunkd.url,
            session_key=self.splunkd.session_key,
            api_url=self.github.url,
            checkpoint_dir=str(self.home / "modinputs" / "security_content"),
        )
        started = time.monotonic()
        done = run_modinput([], xml, self.home)
        seconds = time.monotonic() - started
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stdout + done.stderr
        return done.status, seconds

    def lookup(self, table: str) -> list[dict]:
        live = self.splunkd.conf_value("transforms", f"malicious_image_{table}", "collection")
        return [{k: v for k, v in d.items() if k != "_user"} for d in self.splunkd.collections[live]]

    def lookups(self) -> dict[str, list[dict]]:
        return {table: self.lookup(table) for table in TABLES}

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.splunkd.requests if m in ("POST", "DELETE")]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory)
    status, _ = w.run(H.tarball([], commit=BASE_SHA), BASE_SHA)
    assert status["outcome"] == "updated", status["message"]
    assert len(w.lookup("detections")) == 3
    yield w
    w.splunkd.stop()
    w.github.stop()


@pytest.mark.parametrize(
    ("case", "build", "reason"),
    [
        ("gzip_bomb", H.gzip_bomb, "more than 512 MB"),
        ("truncated_gzip", lambda: H.truncated(H.tarball([H.regular(_EVIL, b"x: 1\n" * 5000)])), "cut short"),
        ("not_gzip", lambda: b"<html><body>Please sign in to the proxy</body></html>", "not gzip-compressed"),
        ("gzip_of_not_tar", lambda: __import__("gzip").compress(b"not a tarball\n" * 100), "damaged"),
    ],
)
def test_hostile_archive_fails_and_leaves_every_lookup_whole(world, case, build, reason):
    before = world.lookups()
    status, seconds = world.run(build(), "3" * 40)
    assert status["outcome"] == "failed"
    assert reason in status["message"] and "previous tables were left in place" in status["message"]
    assert world.lookups() == before
    assert not [w for w in world.writes() if "/storage/collections/data/" in w[1] and "sync_state" not in w[1]]
    assert seconds < 30


def test_hostile_members_are_rejected_by_name_and_the_rest_synced_as_data(world):
    dangerous = "`cloudtrail` | sendemail to=attacker@example.com | script evil | collect index=main | delete"
    evil_yaml = b"a: &a [1,2]\nb: [*a,*a]\n"
    entries = [case_entry for case in H.MEMBER_CASES for case_entry in case.entries()]
    entries = [e for e in entries if not (isinstance(e, tuple) and isinstance(e[1], int))]  # 10 MB case below
    entries += [
        (H.regular("detections/cloud/big.yml", b"")[0], 11 * H.MB),
        H.regular("detections/cloud/alias_bomb.yml", evil_yaml),
        H.regular("detections/cloud/latin1.yml", b"name: caf\xe9\n"),
        H.regular("detections/cloud/dangerous.yml",
                  H.detection_yaml("Dangerous", ident="99999999-2222-4333-8444-000000000101", search=dangerous)),
    ]  # fmt: skip
    status, seconds = world.run(H.tarball(entries), HOSTILE_SHA)
    assert status["outcome"] == "updated", status["message"]
    rejected = [(r["path"], r["reason"]) for r in status["rejected"]]
    reasons = dict(rejected)
    for case in H.MEMBER_CASES:  # several cases share a path: look for each (path, reason) pair
        if case.name != "member_over_10mb":
            assert any(p == case.path and case.reason in r for p, r in rejected), (case.name, rejected)
    assert status["rejected_total"] == len(rejected) == len(H.MEMBER_CASES) + 2
    assert "over the 10 MB limit" in reasons["detections/cloud/big.yml"]
    assert "anchors and aliases are not allowed" in reasons["detections/cloud/alias_bomb.yml"]
    assert "not UTF-8" in reasons["detections/cloud/latin1.yml"]
    rows = {row["name"]: row for row in world.lookup("detections")}
    assert set(rows) == {"Hostile Base 1", "Hostile Base 2", "Hostile Base 3", "Dangerous"}
    assert rows["Dangerous"]["search"] == dangerous  # a KV store field value, nothing more
    # the run wrote KV store documents and switched lookup definitions, and nothing else:
    # no saved search, no macro, no conf file other than the transforms lookup definitions
    for _method, path in world.writes():
        assert "/storage/collections/" in path or "/configs/conf-transforms/malicious_image_" in path, path
    assert not any("saved/searches" in p or "conf-macros" in p or "conf-savedsearches" in p
                   for _, p in world.splunkd.requests)  # fmt: skip
    assert "sendemail" not in json.dumps(world.splunkd.confs)
    assert seconds < 60


def test_proxy_authentication_failure_is_clear_and_the_password_never_shows(world):
    """The proxy password lives in storage/passwords; a proxy answering 407 gives a status that
    says proxy authentication failed, and the password appears nowhere the input writes."""
    from tests.emulators.fault_servers import Proxy407
    from tests.integration.modinput_harness import log_text

    password = "Pr0xy-Hostile-S3cret-9f2c"
    world.splunkd.store_password("malicious_image", "proxy_password", password)
    before = world.lookups()
    with Proxy407() as proxy:
        xml = fixture(
            "run_github_proxy.xml",
            server_host="sh1",
            server_uri=world.splunkd.url,
            session_key=world.splunkd.session_key,
            api_url=world.github.url,
            proxy=f"http://sync-user@127.0.0.1:{proxy.port}",
            checkpoint_dir=str(world.home / "modinputs" / "security_content"),
        )
        world.github.clear_log()
        done = run_modinput([], xml, world.home)
        assert [s.method for s in proxy.seen] == ["GET"]  # through the proxy, once (407 is not retried)
        assert proxy.seen[0].headers["proxy-authorization"].startswith("Basic ")
    assert done.returncode == 0 and "Traceback" not in done.stdout + done.stderr
    status = done.status
    assert status["outcome"] == "failed"
    assert "proxy authentication failed" in status["message"] and "HTTP 407" in status["message"]
    assert world.github.count() == 0 and world.lookups() == before
    everything = done.stdout + done.stderr + log_text(world.home) + json.dumps(world.splunkd.confs)
    assert password not in everything
