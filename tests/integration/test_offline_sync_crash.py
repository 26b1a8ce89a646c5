"""kill -9 the offline sync (``build.py sync``) at random points: every CSV table is always the
complete old or the complete new generation, and the next run recovers with no manual step.

CRASH_TRIALS (environment, default 100) sets the number of kills; CRASH_SEED the random seed.

Each run is a process forked from a small launcher that has already imported the sync (so a trial
costs the sync, not Python's start-up): ``devtools.commands.sync.main`` exactly as ``build.py
sync`` calls it, reading a synthetic tarball (50 detections; two generations that differ in
content). Half the kills come at a random time of the run, measured beforehand; the other half at
an exact file-system write point, counted by the launcher in the child (the Nth call of
``os.replace``, ``os.rename``, ``os.symlink``, ``os.unlink``, ``os.rmdir``, ``os.mkdir`` or
``os.fsync``; each table file's fsync, the generation rename, the ``current`` switch, the state,
summary and cache saves, the clean-up of the previous run's leftovers), before or after the call.
The app code has no test hook: the launcher wraps those ``os`` functions in the child only.

After every kill the tables are read as a user reads them (``DIR/current/<table>.csv`` and the
stable ``DIR/<table>.csv`` names) and compared, as multisets of whole rows, with what an
uninterrupted sync of each generation wrote. Every fifth trial, and at the end, an unkilled run
must succeed and leave the upstream's generation with no leftovers; a last run that writes must
leave exactly the current and the previous generation.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from malicious_image.sync.csv_writer import read_csv
from tests import secrets_audit
from tests.integration.crash_support import TABLES, assert_generations_differ, generations, row_set, which_generation
from tests.support.paths import ROOT

pytestmark = pytest.mark.slow

TRIALS = int(os.environ.get("CRASH_TRIALS", "100"))

LAUNCHER = textwrap.dedent(
    """
    import json, os, shutil, signal, sys
    sys.path[:0] = [{bin!r}, {root!r}]
    sys.path.append({lib!r})
    sys.dont_write_bytecode = True
    from devtools.commands import sync as command
    import malicious_image.content.reader, malicious_image.sync.tables  # warm: imported before the fork

    POINTS = ("replace", "rename", "symlink", "unlink", "rmdir", "mkdir", "fsync")

    def arm(kill_at, stage):
        count = [0]
        def wrap(func):
            def point(*args, **kwargs):
                count[0] += 1
                mine = count[0] == kill_at
                if mine and stage == "before":
                    os.kill(os.getpid(), signal.SIGKILL)
                result = func(*args, **kwargs)
                if mine and stage == "after":
                    os.kill(os.getpid(), signal.SIGKILL)
                return result
            return point
        for name in POINTS:
            setattr(os, name, wrap(getattr(os, name)))
        return count

    print("ready", flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            out = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(out, 1)
            os.dup2(out, 2)
            count = arm(request.get("kill_at", 0), request.get("stage", ""))
            code = command.main(request["argv"])
            sys.stdout.flush()
            sys.stderr.flush()
            with open(request["output"] + ".points", "w") as points:
                points.write(str(count[0]))
            os._exit(code)
        print(pid, flush=True)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({{"pid": pid, "status": status}}), flush=True)
    """
).format(bin=str(ROOT / "app" / "bin"), root=str(ROOT), lib=str(ROOT / "app" / "lib"))


class Launcher:
    """The fork server: ``start(argv, ...)`` forks one sync run and returns its pid."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.process = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=str(ROOT)
        )
        assert self.process.stdout.readline().strip() == "ready"
        self.runs = 0

    def start(self, argv: list[str], kill_at: int = 0, stage: str = "") -> tuple[int, Path]:
        self.runs += 1
        output = self.workdir / f"run-{self.runs}.txt"
        request = {"argv": argv, "output": str(output), "kill_at": kill_at, "stage": stage}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return int(self.process.stdout.readline()), output

    def wait(self) -> int:
        """The status of the run started last, as ``os.waitpid`` gives it."""
        return json.loads(self.process.stdout.readline())["status"]

    def run(self, argv: list[str]) -> tuple[int, str, int]:
        """One whole run: (exit code, its output, how many write points it passed)."""
        _, output = self.start(argv)
        status = self.wait()
        points = Path(str(output) + ".points")
        return os.waitstatus_to_exitcode(status), output.read_text(), int(points.read_text() or 0)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


def tables_as_read(out: Path) -> tuple[dict, dict]:
    """Row sets through ``current`` (one resolution, as a consistent reader does) and by stable name."""
    current = (out / "current").resolve()
    through_current = {t: row_set(read_csv(current / f"{t}.csv")) for t in TABLES}
    by_name = {t: row_set(read_csv(out / f"{t}.csv")) for t in TABLES}
    return through_current, by_name


def test_kill_9_of_the_offline_sync_never_leaves_a_partial_table(tmp_path):
    sources = generations(tmp_path / "content")
    out = tmp_path / "out"
    launcher = Launcher(tmp_path)
    argv = lambda v: ["--source", str(sources[v][0]), "--out", str(out), "--quiet"]  # noqa: E731
    rng = random.Random(int(os.environ.get("CRASH_SEED", "1204003")))
    try:
        expected, wall, points = {}, {}, {}
        for variant in ("b", "a", "b", "a"):  # reference runs; the last pair is warm, as the trials are
            started = time.monotonic()
            code, text, points[variant] = launcher.run(argv(variant))
            wall[variant] = time.monotonic() - started
            assert code == 0, text
            expected[variant] = tables_as_read(out)[0]
        assert_generations_differ(expected)
        seen = []
        for trial in range(1, TRIALS + 1):
            now = which_generation(tables_as_read(out)[0], expected)["detections"]
            target = "b" if now == "a" else "a"
            if trial % 2:
                where = f"{rng.uniform(0.0, wall[target]):.3f}s"
                pid, _ = launcher.start(argv(target))
                time.sleep(float(where[:-1]))
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass  # it finished first: a whole run, checked all the same
            else:
                kill_at, stage = rng.randint(1, points[target]), rng.choice(("before", "after"))
                where = f"write point {kill_at}/{points[target]} {stage}"
                launcher.start(argv(target), kill_at, stage)
            status = launcher.wait()
            through_current, by_name = tables_as_read(out)
            matched = which_generation(through_current, expected)
            assert len(set(matched.values())) == 1, f"{where}: tables from both generations {matched}"
            assert which_generation(by_name, expected) == matched, f"{where}: a stable name disagrees with current"
            killed = os.WIFSIGNALED(status)
            seen.append(f"{where}: {'killed' if killed else 'finished'}, tables {matched['detections']}")
            if trial % 5 == 0 or trial == TRIALS:  # recovery: the next run needs no manual step
                code, text, _ = launcher.run(argv(target))
                assert code == 0, f"after {where}: {text}"
                summary = json.loads((out / "summary.json").read_text())
                recovered = set(which_generation(tables_as_read(out)[0], expected).values())
                assert recovered == {target}, f"after {where}: {recovered}; {seen}; {summary}"
                assert summary["outcome"] in ("updated", "unchanged") and summary["commit"] == sources[target][1]
                leftovers = [p.name for p in out.rglob(".tmp-*")]
                assert leftovers == [], leftovers  # removed when the run took the lock
        # older generations are pruned by the next run that writes (an unchanged run keeps them)
        other = "b" if target == "a" else "a"
        code, text, _ = launcher.run(argv(other))
        assert code == 0 and json.loads((out / "summary.json").read_text())["outcome"] == "updated", text
        assert len(list((out / "generations").iterdir())) == 2
        kills = sum("killed" in line for line in seen)
        print(f"\n{TRIALS} trials, {kills} killed mid-run:\n  " + "\n  ".join(seen))
        assert kills >= TRIALS * 3 // 4  # the kills landed inside runs, not after them
    finally:
        launcher.close()


def test_two_offline_syncs_at_once_one_proceeds_and_the_other_says_why(tmp_path):
    """Two real ``build.py sync`` processes on one folder: the second exits 3 and names the reason."""
    from tests.emulators.github_server import GitHubEmulator

    sources = generations(tmp_path / "content")
    out = tmp_path / "out"
    code = "import sys; from devtools.commands.sync import main; sys.exit(main(sys.argv[1:]))"
    with GitHubEmulator(chunk_size=4096) as github:
        github.set_ref("develop", sources["a"][0])
        github.fault("slow", endpoint="tarball", delay=0.1)  # the first run holds the folder ~1 s
        argv = [sys.executable, "-c", code, "--source", "https://github.com/splunk/security_content",
                "--api-url", github.url, "--out", str(out), "--quiet"]  # fmt: skip
        first = subprocess.Popen(argv, cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while github.count("tarball") == 0:  # the first run is downloading: it holds the lock
            assert time.monotonic() < deadline and first.poll() is None, first.communicate()
            time.sleep(0.02)
        second = subprocess.run(argv, cwd=str(ROOT), capture_output=True, text=True, timeout=60)
        first_out, first_err = first.communicate(timeout=60)
    for name, text in (("first", first_out + first_err), ("second", second.stdout + second.stderr)):
        secrets_audit.record(f"build.py sync ({name} of two at once) output", text)
    assert second.returncode == 3, second.stderr
    assert f"another sync is writing to {out}; wait for it to finish" in second.stderr
    assert first.returncode == 0, first_err
    assert json.loads((out / "summary.json").read_text())["commit"] == sources["a"][1]
