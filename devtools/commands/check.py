"""``build.py check``: run every gate on the built package and fail if any fails."""

from __future__ import annotations

import argparse
from pathlib import Path

from devtools import checks, environments, packaging, vendor


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="build.py check", description=__doc__)
    parser.add_argument("--package", type=Path, help="package to inspect (default: build one now)")
    parser.add_argument("--skip-appinspect", action="store_true", help="only the fast checks")
    args = parser.parse_args(argv)
    environments.dev_python()  # AppInspect and ksconf live in .venv (made on first use)
    if not (packaging.APP / "lib").exists():
        vendor.vendor()
    package = args.package or packaging.build().path
    results = [*checks.python_checks(), checks.ksconf_check()]
    if not args.skip_appinspect:
        results += [checks.appinspect_gate(package, cloud=False), checks.appinspect_gate(package, cloud=True)]
    for result in results:
        print(f"{'PASS' if result.ok else 'FAIL'}  {result.name}")
        for line in result.details:
            print(f"      {line}")
    failed = [r.name for r in results if not r.ok]
    print(f"\n{len(results) - len(failed)} of {len(results)} checks passed" + (f"; failed: {failed}" if failed else ""))
    return 1 if failed else 0
