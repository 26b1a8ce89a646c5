#!/usr/bin/env python3
"""Scale benchmark: sync time, peak RSS and KV store batches at 1x, 2x, 5x and 10x the October 2024
snapshot, figures printed (never asserted: tests/integration/test_scale.py checks correctness).

Usage::

    python3 benchmarks/bench_scale.py [--factors 1,2,5,10] [--loaders libyaml,pure]
                                      [--targets csv,modinput] [--json FILE]

Content: the October 2024 snapshot (``../shared/security_content/splunk-security_content-b13b314``)
with every detection cloned ``k`` times under a new id, name and path
(``tests/synthetic_content.py``; 10x is 17,110 detections), every other file once, written to a
temporary tarball and served by the GitHub emulator on 127.0.0.1. Nothing is copied into the
repository.

Targets, each run cold (empty output folder, state and parse cache) in its own child process;
wall time around it, CPU from ``os.wait4``, peak RSS from the child's ``VmHWM`` (``/proc/PID/status``,
polled every 20 ms until it exits). Not ``ru_maxrss``: Linux carries the parent's high-water mark
over into a child at ``exec``, and this parent holds the synthetic content while it builds the
tarball and the emulated KV store, so ``ru_maxrss`` reported the parent's size for small runs.

- ``csv``: ``run_sync`` with the CSV writer, as ``build.py sync`` runs it;
- ``modinput``: ``bin/security_content.py`` fed its input XML on stdin, against the splunkd
  emulator (KV store batch_save, lookup switches; the emulator runs in this parent process, so its
  memory is not the child's). The ``pure`` run is the script exactly as splunkd starts it
  (``python -I -S``, vendored ``app/lib``: pure-Python PyYAML, what runs inside Splunk); the
  ``libyaml`` run imports the same package with the dev environment's compiled PyYAML.

Reported per run: wall, ``run_sync`` seconds, CPU, peak RSS, detections synced, and for the
modular input the number of batch_save requests and the largest batch (limit: 1,000 documents).
``ratio`` is ``time(kx) / (k * time(1x))`` on ``run_sync`` seconds (wall) and on the child's CPU
seconds (steadier on a shared machine): 1.0 is linear.
Targets (issue 6): time linear, peak RSS under 300 MB at 10x, every batch within 1,000 documents.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from devtools.paths import use_app_package  # noqa: E402 - the dev tools' one path set-up

use_app_package()

import io  # noqa: E402
import subprocess  # noqa: E402
import threading  # noqa: E402

from tests.conftest import APP  # noqa: E402
from tests.emulators.github_server import GitHubEmulator  # noqa: E402
from tests.emulators.splunkd_server import SplunkdEmulator  # noqa: E402
from tests.integration.modinput_harness import SCRIPT, environment, fixture  # noqa: E402
from tests.synthetic_content import scaled_members, write_tarball  # noqa: E402

RSS_LIMIT_MB = 300


def measure_child(argv: list[str], **kwargs) -> dict:
    """Run ``argv``; wall time, CPU (``os.wait4``), peak RSS (VmHWM), the last stdout line as JSON."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)
    out, err, peak = io.BytesIO(), io.BytesIO(), [0]
    pumps = [threading.Thread(target=lambda s=s, b=b: b.write(s.read())) for s, b in
             ((proc.stdout, out), (proc.stderr, err))]  # fmt: skip
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            try:
                with open(f"/proc/{proc.pid}/status") as status:
                    for line in status:
                        if line.startswith("VmHWM:"):
                            peak[0] = max(peak[0], int(line.split()[1]))
            except (OSError, ValueError):
                pass
            done.wait(0.02)

    threads = [*pumps, threading.Thread(target=watch)]
    for thread in threads:
        thread.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    done.set()
    for thread in threads:
        thread.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    result = {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mb": peak[0] / 1024,
              "returncode": proc.returncode}  # fmt: skip
    try:
        result.update(json.loads(out.getvalue().decode(errors="replace").strip().splitlines()[-1]))
    except (ValueError, IndexError):
        pass
    if proc.returncode != 0:
        result["stderr_tail"] = err.getvalue().decode(errors="replace")[-800:]
    return result
BATCH_LIMIT = 1000


def child_csv(spec: dict) -> dict:
    """The child of a ``csv`` run: one cold sync into CSV files; prints its figures as JSON."""
    from malicious_image.content.github import GitHubSource
    from malicious_image.sync.csv_writer import CsvTableWriter, JsonStateStore
    from malicious_image.sync.engine import run_sync
    from malicious_image.sync.state import ParseCache

    out = Path(spec["out"])
    writer = CsvTableWriter(out)
    start = time.perf_counter()
    report = run_sync(GitHubSource(api_url=spec["api_url"]), writer, JsonStateStore(out / "sync_state.json", writer),
                      cache=ParseCache(out / ".cache"))  # fmt: skip
    event = report.to_event()
    return {"sync_seconds": time.perf_counter() - start, "outcome": event["outcome"],
            "message": event["message"], "counts": event["counts"], "durations": event["durations"]}  # fmt: skip


def build_tarball(factor: int, folder: Path) -> tuple[Path, str]:
    members = scaled_members(factor, wanted_only=False)
    return write_tarball(folder / f"scale-{factor}x.tar.gz", members, f"scale-{factor}")


def run_csv(github: GitHubEmulator, loader: str, work: Path) -> dict:
    out = Path(tempfile.mkdtemp(prefix="csv-", dir=work))
    spec = json.dumps({"out": str(out), "api_url": github.url})
    code = f"import json, sys; from benchmarks.bench_scale import child_csv; print(json.dumps(child_csv({spec})))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if loader == "pure":
        env["MALICIOUS_IMAGE_YAML"] = "pure"
    return measure_child([sys.executable, "-c", code], env=env, cwd=str(ROOT))


def run_modinput(github: GitHubEmulator, loader: str, work: Path) -> dict:
    home = Path(tempfile.mkdtemp(prefix="splunk-", dir=work))
    (home / "var" / "log" / "splunk").mkdir(parents=True)
    splunkd = SplunkdEmulator(app_dir=APP, splunk_home=home).start()
    try:
        xml = fixture("run_github.xml", server_host="sh1", server_uri=splunkd.url, session_key=splunkd.session_key,
                      api_url=github.url, checkpoint_dir=str(home / "modinputs" / "security_content"))  # fmt: skip
        env = environment(home)
        if loader == "pure":  # as splunkd starts it: vendored libraries only
            argv = [sys.executable, "-I", "-S", str(SCRIPT)]
        else:  # the same package with the dev environment's compiled PyYAML (libyaml)
            code = ("import sys; sys.path[:0] = [sys.argv[1]]; sys.path.append(sys.argv[2]); "
                    "from malicious_image.splunkd.modinput import main; "
                    "sys.exit(main(['security_content.py']))")  # fmt: skip
            argv = [sys.executable, "-c", code, str(ROOT / "app" / "bin"), str(ROOT / "app" / "lib")]
        stdin = tempfile.TemporaryFile()
        stdin.write(xml.encode())
        stdin.seek(0)
        result = measure_child(argv, env=env, cwd=str(home), stdin=stdin)
        batch_saves = [p for m, p in splunkd.requests if p.endswith("/batch_save") and "sync_state" not in p]
        result["batch_saves"] = len(batch_saves)
        table_batches = splunkd.batch_sizes[: len(batch_saves)]
        result["largest_batch"] = max(table_batches, default=0)
        result["kv_requests"] = len(splunkd.requests)
        result.update(_status(home, splunkd))
        return result
    finally:
        splunkd.stop()


def _status(home: Path, splunkd: SplunkdEmulator) -> dict:
    """Outcome and run_sync seconds from the log line; counts from the live lookups."""
    log = (home / "var" / "log" / "splunk" / "malicious_image.log").read_text(encoding="utf-8")
    outcome = "updated" if "outcome=updated" in log else "failed"
    seconds = [float(x.split("=")[1]) for x in log.split() if x.startswith("seconds=")]
    live = splunkd.conf_value("transforms", "malicious_image_detections", "collection")
    return {"outcome": outcome, "sync_seconds": seconds[-1] if seconds else float("nan"),
            "counts": {"detections": len(splunkd.collections[live])}}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--factors", default="1,2,5,10")
    parser.add_argument("--loaders", default="libyaml,pure")
    parser.add_argument("--targets", default="csv,modinput")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    factors = [int(f) for f in args.factors.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp, GitHubEmulator() as github:
        work = Path(tmp)
        for factor in factors:
            tarball, _ = build_tarball(factor, work)
            github.set_ref("develop", tarball)
            size = tarball.stat().st_size
            for target in args.targets.split(","):
                for loader in args.loaders.split(","):
                    run = (run_csv if target == "csv" else run_modinput)(github, loader, work)
                    run.update(factor=factor, target=target, loader=loader, tarball_mb=size / 1e6)
                    rows.append(run)
                    print(_line(run, rows), flush=True)
            tarball.unlink()
    print()
    print(_table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=str))
    bad = [r for r in rows if r.get("outcome") != "updated" or r["rss_mb"] > RSS_LIMIT_MB
           or r.get("largest_batch", 0) > BATCH_LIMIT]  # fmt: skip
    return 1 if bad else 0


def _ratio(run: dict, rows: list[dict], key: str = "sync_seconds") -> float:
    """time(kx) / (k * time(1x)) for the same target and loader (``key``: sync_seconds or cpu)."""
    base = next((r for r in rows if r["factor"] == 1 and r["target"] == run["target"] and r["loader"] == run["loader"]),
                None)  # fmt: skip
    return run[key] / (run["factor"] * base[key]) if base else float("nan")


def _line(run: dict, rows: list[dict]) -> str:
    batches = f" batch_save {run['batch_saves']} (largest {run['largest_batch']})" if "batch_saves" in run else ""
    return (f"{run['factor']:>3}x {run['target']:<8} {run['loader']:<7} {run.get('outcome', '?'):<8} "
            f"detections {run.get('counts', {}).get('detections', 0):>6} wall {run['wall']:7.2f} s "
            f"sync {run.get('sync_seconds', float('nan')):7.2f} s ratio {_ratio(run, rows):4.2f} "
            f"cpu {run['cpu']:7.2f} s (ratio {_ratio(run, rows, 'cpu'):4.2f}) rss {run['rss_mb']:6.1f} MB{batches}"
            + (f"\n    {run['stderr_tail']}" if "stderr_tail" in run else ""))  # fmt: skip


def _table(rows: list[dict]) -> str:
    head = ("| target | loader | k | detections | wall s | run_sync s | ratio | CPU s | CPU ratio | peak RSS MB | "
            "batch_save | largest |")
    lines = [head, "|" + "---|" * 12]
    for r in rows:
        lines.append(
            f"| {r['target']} | {r['loader']} | {r['factor']}x | {r.get('counts', {}).get('detections', 0)} | "
            f"{r['wall']:.2f} | {r.get('sync_seconds', float('nan')):.2f} | {_ratio(r, rows):.2f} | {r['cpu']:.2f} | "
            f"{_ratio(r, rows, 'cpu'):.2f} | "
            f"{r['rss_mb']:.0f} | {r.get('batch_saves', '')} | {r.get('largest_batch', '')} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
