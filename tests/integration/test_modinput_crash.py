"""kill -9 the modular input at random points of a sync: every lookup stays the complete old or the
complete new table, and the next run recovers with no manual step.

CRASH_TRIALS (environment, default 100) sets the number of kills; CRASH_SEED the random seed.
The content is synthetic and small (``tests/synthetic_content.py``: 50 detections, two generations
that differ in content), so a run takes about a second, most of it the interpreter's start-up.
A quarter of the kills come at a random time of a (measured) run, mostly in download and parse;
the rest at a random splunkd request of the run (state read, collection emptying, each
batch_save, the counts, each lookup switch, the state save), either before splunkd applies it or
after it applied it but before the answer: the points where a partial table could appear.
After every kill each lookup's live collection must hold exactly the rows (as a multiset of whole
documents, ``_key``/``_user``/``generation`` aside) that an uninterrupted run of one generation
wrote; every tenth trial and at the end an unkilled run must recover with no manual step.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time

import pytest

from tests.emulators.github_server import GitHubEmulator
from tests.emulators.splunkd_server import SplunkdEmulator
from tests.integration.crash_support import TABLES, assert_generations_differ, generations, row_set, which_generation
from tests.integration.modinput_harness import fixture, run_modinput, start_modinput
from tests.support.paths import APP

# Not marked runtime: it checks the write protocol, not the interpreter; the subprocess still
# runs the vendored libraries when app/lib exists.
pytestmark = pytest.mark.slow

pytest.importorskip("malicious_image.sync.engine", reason="the sync engine (branch sync) has not landed")

TRIALS = int(os.environ.get("CRASH_TRIALS", "100"))
STORED_ONLY = ("_key", "_user", "generation")


def live_rows(splunkd: SplunkdEmulator) -> dict:
    """The row set of each lookup's live collection (what ``| inputlookup`` returns)."""
    found = {}
    for table in TABLES:
        live = splunkd.conf_value("transforms", f"malicious_image_{table}", "collection")
        found[table] = row_set(splunkd.collections[live], drop=STORED_ONLY)
    return found


def assert_whole(splunkd: SplunkdEmulator, expected: dict) -> str:
    """Every lookup holds exactly one generation's complete rows; returns which, by table."""
    for table in TABLES:
        live = splunkd.conf_value("transforms", f"malicious_image_{table}", "collection")
        labels = {d.get("generation") for d in splunkd.collections[live]}
        assert len(labels) <= 1, f"{table} mixes generations {labels}"
    matched = which_generation(live_rows(splunkd), expected)
    return "".join(matched[t] for t in TABLES)


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
    sources = generations(tmp_path / "content")
    splunkd = SplunkdEmulator(app_dir=APP, splunk_home=home).start()
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
        expected, timing = {}, {}
        for variant in ("b", "a", "b", "a"):  # whole runs: reference rows, timings, request counts
            github.set_ref("develop", sources[variant][0])
            splunkd.requests.clear()
            started = time.monotonic()
            status = run_modinput([], xml, home).status
            timing[variant] = (time.monotonic() - started, len(splunkd.requests))
            assert status["outcome"] == "updated", status["message"]
            assert status["commit"] == sources[variant][1]
            expected[variant] = live_rows(splunkd)
        assert_generations_differ(expected)
        seen = []
        for trial in range(1, TRIALS + 1):
            target = "b" if synced_commit(splunkd) == sources["a"][1] else "a"
            github.set_ref("develop", sources[target][0])  # always away from the synced commit: a real sync
            wall, requests = timing[target]
            process = start_modinput([], xml, home)
            if rng.random() < 0.25:  # at a random time: mostly start-up, download and parse
                where = f"{rng.uniform(0.0, wall * 0.9):.2f}s"
                time.sleep(float(where[:-1]))
                process.send_signal(signal.SIGKILL)
            else:  # at a random splunkd request, before or after splunkd applied it
                request, stage = rng.randint(1, requests), rng.choice(("before", "after"))
                where = f"request {request} {stage}"
                splunkd.on_request = killer(process, request, stage)
            process.wait(timeout=120)
            splunkd.on_request = None
            for stream in (process.stdout, process.stderr):
                stream.close()
            seen.append(f"{where}: {'killed' if process.returncode == -signal.SIGKILL else 'finished'}, "
                        f"lookups {assert_whole(splunkd, expected)}")  # fmt: skip
            if trial % 10 == 0 or trial == TRIALS:  # recovery: no manual step
                final = run_modinput([], xml, home).status
                assert final["outcome"] in ("updated", "unchanged"), final["message"]
                assert final["commit"] == sources[target][1] == synced_commit(splunkd)
                assert assert_whole(splunkd, expected) == target * len(TABLES), f"after {where}"
        kills = sum("killed" in line for line in seen)
        print(f"\n{TRIALS} kills, {kills} mid-run (where: lookups left, by table):\n  " + "\n  ".join(seen))
        assert kills >= TRIALS * 3 // 4
    finally:
        splunkd.stop()
        github.stop()
