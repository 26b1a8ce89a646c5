"""``build.py test``: make the test environments, build the package, then run every test.

1. ``.venv`` (dev tools), ``.venv-py39`` and ``.venv-py313`` (pytest only) from the pinned files;
2. vendor the runtime libraries and build the package (the tests inspect what ships);
3. ruff on the repository;
4. the whole suite under the dev Python, then the ``runtime`` tests (code Splunk runs) under
   Python 3.9 and 3.13 against the vendored libraries.

Extra arguments go to every pytest run (e.g. ``build.py test -k sync``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

from devtools import ROOT, environments, packaging, vendor
from devtools.pythons import SPLUNK_PYTHONS

SUMMARY = re.compile(r"(\d+) (passed|failed|error|errors|skipped)")


def _pytest(python: str, args: list[str], label: str) -> tuple[int, dict[str, int]]:
    print(f"\n=== pytest under {label} ===", flush=True)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.Popen([python, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    last = ""
    assert proc.stdout is not None
    for line in proc.stdout:
        sys.stdout.write(line)
        if line.startswith("=") and ("passed" in line or "failed" in line or "error" in line):
            last = line
    counts: dict[str, int] = {}
    for number, kind in SUMMARY.findall(last):
        kind = "error" if kind.startswith("error") else kind
        counts[kind] = counts.get(kind, 0) + int(number)
    return proc.wait(), counts


def main(argv: list[str]) -> int:
    dev = str(environments.dev_python())
    runtimes = {v: str(environments.runtime_python(v)) for v in SPLUNK_PYTHONS}
    files = vendor.vendor(dev)
    package = packaging.build()
    print(f"vendored {files} files; built {package.path.name} ({package.files} files)")
    lint = subprocess.run([dev, "-m", "ruff", "check", "."], cwd=ROOT, check=False)
    runs = [_pytest(dev, argv, f"Python {sys.version_info[0]}.{sys.version_info[1]} (dev, whole suite)")]
    for version, python in runtimes.items():
        runs.append(_pytest(python, ["-m", "runtime", *argv], f"Python {version} (runtime tests)"))
    total: dict[str, int] = {}
    for _, counts in runs:
        for kind, number in counts.items():
            total[kind] = total.get(kind, 0) + number
    failed = total.get("failed", 0) + total.get("error", 0)
    # pytest exits 5 when a marker selects no test; for the runtime runs that is not a failure.
    ok = lint.returncode == 0 and runs[0][0] == 0 and all(code in (0, 5) for code, _ in runs[1:])
    print(f"\nruff: {'clean' if lint.returncode == 0 else 'FAILED'}")
    print(f"total: {total.get('passed', 0)} passed, {failed} failed, {total.get('skipped', 0)} skipped")
    return 0 if ok else 1
