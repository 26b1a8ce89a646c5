"""Peak memory and time of the STIX bundle reader on a generated 50 MB enterprise-like bundle
(figures printed, never asserted). Issue 10: peak RSS at most 100 MB for a 50 MB bundle.

Each measurement runs in a fresh child process (``--child``) and reports the child's VmHWM (peak
resident set, /proc/self/status) and wall time: the streaming ``content/stix.py`` reader against
a ``json.load`` peer (the whole bundle as Python objects, then the same catalogue built from the
parsed list). The bundle is written once to a temporary folder (or ``--bundle PATH``), the
real Mobile/ICS bundles are measured too when ``../shared/attack-stix`` is present.

    python benchmarks/bench_stix.py [--mb 50] [--bundle PATH] [--repeat 1]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "app" / "bin"), str(ROOT)]
STIX = ROOT.parent / "shared" / "attack-stix"


def _vmhwm_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child(mode: str, path: str) -> None:
    """Run one reader in this (fresh) process and print a JSON line of figures."""
    from malicious_image.content.stix import read_bundle

    baseline = _vmhwm_mb()
    started = time.perf_counter()
    if mode == "stream":
        with open(path, "rb") as handle:
            catalogue = read_bundle(handle)
    else:  # json.load peer: the whole document in memory, then the same catalogue from it
        with open(path, "rb") as handle:
            document = json.load(handle)
        again = json.dumps({"type": "bundle", "id": document["id"], "objects": document["objects"]}).encode()
        seconds_load = time.perf_counter() - started
        catalogue = read_bundle(io.BytesIO(again))
        del again
    wall = time.perf_counter() - started
    figures = {"mode": mode, "wall_s": round(wall, 2), "peak_rss_mb": round(_vmhwm_mb(), 1),
               "baseline_rss_mb": round(baseline, 1), **catalogue.figures(), "version": catalogue.version}  # fmt: skip
    if mode != "stream":
        figures["json_load_s"] = round(seconds_load, 2)
    print(json.dumps(figures))


def measure(mode: str, path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(path)], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=50.0, help="size of the generated bundle (default 50)")
    parser.add_argument("--bundle", type=Path, help="measure this bundle instead of a generated one")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0
    from tests.attack_bundles import write_bundle

    with tempfile.TemporaryDirectory() as folder:
        bundles = []
        if args.bundle:
            bundles.append(args.bundle)
        else:
            path = Path(folder) / "enterprise-attack-19.0.json"
            with open(path, "wb") as handle:
                write_bundle(handle, int(args.mb * 1e6))
            bundles.append(path)
        bundles += [p for p in (STIX / "mobile-attack-17.1.json", STIX / "ics-attack-18.1.json") if p.is_file()]
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; each figure from a fresh child process")
        print(f"{'bundle':32} {'MB':>6} {'reader':8} {'wall s':>7} {'peak RSS MB':>11}  catalogue")
        for path in bundles:
            size = path.stat().st_size / 1e6
            for mode in ("stream", "json.load"):
                for _ in range(args.repeat):
                    f = measure(mode, path)
                    cat = (f"ATT&CK {f['version']}: {f['techniques']} techniques, {f['subtechniques']} sub, "
                           f"{f['revoked']} revoked, {f['deprecated']} deprecated, {f['groups']} groups")  # fmt: skip
                    print(f"{path.name:32} {size:6.1f} {mode:8} {f['wall_s']:7.2f} {f['peak_rss_mb']:11.1f}  {cat}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
