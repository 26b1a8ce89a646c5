"""kill -9 the modular input at random points of a sync: every lookup stays the complete old or the
complete new table, and the next run recovers with no manual step.

CRASH_TRIALS (environment, default 6) sets the number of kills; issue 6 runs it with 100+.
A quarter of the kills come at a random time of a (measured) run, mostly in download and parse;
the rest at a random splunkd request of the run (state read, collection emptying, each
batch_save, the counts, each lookup switch, the state save), either before splunkd applies it or
after it applied it but before the answer: the points where a partial table could appear.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time

import pytest

from tests.conftest import APP, SNAPSHOTS
from tests.emulators.github_server import GitHubEmulator
from tests.emulators.splunkd_server import SplunkdEmulator
from tests.integration.modinput_harness import fixture, run_modinput, start_modinput

# Not marked runtime: it checks the write protocol, not the interpreter, and costs ~40 s; the
# subprocess still runs the vendored libraries when app/lib exists.
pytestmark = pytest.mark.slow

pytest.importorskip("malicious_image.sync.engine", reason="the sync engine (branch sync) has not landed")

SNAPSHOT_A = SNAPSHOTS / "splunk-security_content-ba8de57.tar.gz"
SNAPSHOT_B = SNAPSHOTS / "splunk-security_content-fe159f0.tar.gz"
TABLES = ("detections", "techniques", "tactics", "stories", "macros")
TRIALS = int(os.environ.get("CRASH_TRIALS", "6"))


def table_state(splunkd: SplunkdEmulator, table: str) -> tuple[set, set, int]:
    live = splunkd.conf_value("transforms", f"malicious_image_{table}", "collection")
    docs = splunkd.collections[live]
    return {d.get("source_commit") for d in docs}, {d.get("generation") for d in docs}, len(docs)


def assert_whole(splunkd: SplunkdEmulator, expected: dict[str, dict[str, int]]) -> str:
    """Every lookup holds exactly one commit's complete table, and all lookups agree or are each whole."""
    commits = set()
    for table in TABLES:
        shas, generations, count = table_state(splunkd, table)
        assert len(shas) == 1 and len(generations) == 1, f"{table} mixes {shas} / {generations}"
        sha = next(iter(shas))
        assert count == expected[sha][table], f"{table} holds {count} rows of {sha[:7]}, not {expected[sha][table]}"
        commits.add(sha)
    return "/".join(sorted(c[:7] for c in commits))


def synced_commit(splunkd: SplunkdEmulator) -> str:
    """The commit of the sync state saved last ("" when none)."""
    docs = splunkd.collections["malicious_image_sync_state"]
    return json.loads(docs[0]["state_json"]).get("commit", "") if docs else ""


def killer(process, target: int, stage: str):
    """An on_request hook that kills ``process`` at its ``target``-th splunkd request."""
    seen = {"count": 0}

    def hook(when: str, method: str, path: str) -> None:
        if when == "before":
            seen["count"] += 1
        if seen["count"] == target and when == stage and process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)  # dead before splunkd answers (or applies, for "before")

    return hook


def test_kill_9_at_random_points_never_leaves_a_partial_lookup(tmp_path):
    home = tmp_path / "splunk"
    (home / "var" / "log" / "splunk").mkdir(parents=True)
    splunkd = SplunkdEmulator(app_dir=APP).start()
    github = GitHubEmulator().start()
    xml = fixture(
        "run_github.xml",
        server_host="sh1",
        server_uri=splunkd.url,
        session_key=splunkd.session_key,
        api_url=github.url,
        checkpoint_dir=str(home / "modinputs" / "security_content"),
    )
    rng = random.Random(int(os.environ.get("CRASH_SEED", "1204003")))
    try:
        expected, timing, sha_of = {}, {}, {}
        for snapshot in (SNAPSHOT_A, SNAPSHOT_B):  # whole runs: expected counts, timings, request counts
            sha = github.set_ref("develop", snapshot)
            splunkd.requests.clear()
            started = time.monotonic()
            status = run_modinput([], xml, home).status
            # the parse cache holds one snapshot, so these runs are cold, as every trial below is
            timing[snapshot] = (time.monotonic() - started, len(splunkd.requests) * 4 // 3 + 10)
            assert status["outcome"] == "updated", status["message"]
            expected[sha], sha_of[snapshot] = status["counts"], sha
        seen = []
        for _ in range(TRIALS):
            snapshot = SNAPSHOT_B if synced_commit(splunkd) == sha_of[SNAPSHOT_A] else SNAPSHOT_A
            github.set_ref("develop", snapshot)  # always away from the synced commit: a real sync
            wall, requests = timing[snapshot]
            process = start_modinput([], xml, home)
            if rng.random() < 0.25:  # at a random time: mostly download and parse
                where = f"{rng.uniform(0.0, wall * 1.1):.2f}s"
                time.sleep(float(where[:-1]))
                process.send_signal(signal.SIGKILL)
            else:  # at a random splunkd request, before or after splunkd applied it
                target, stage = rng.randint(1, requests), rng.choice(("before", "after"))
                where = f"request {target} {stage}"
                splunkd.on_request = killer(process, target, stage)
            process.wait(timeout=120)
            splunkd.on_request = None
            seen.append(f"{where}: {assert_whole(splunkd, expected)}")
        final = run_modinput([], xml, home).status  # recovery: no manual step
        assert final["outcome"] in ("updated", "unchanged"), final["message"]
        assert assert_whole(splunkd, expected) == final["commit"][:7] == synced_commit(splunkd)[:7]
        assert final["commit"] == sha_of[snapshot]  # the upstream of the last trial
        print(f"\n{TRIALS} kills (where: lookups left):\n  " + "\n  ".join(seen))
    finally:
        splunkd.stop()
        github.stop()
