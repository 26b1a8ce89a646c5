#!/usr/bin/env python3
"""Build, check and package the malicious_image Splunk app.

Usage (read top to bottom; the work lives in the modules under devtools/):

    python3 build.py                 # = package: vendor libraries, write dist/*.tar.gz, replay the sample
    python3 build.py check           # AppInspect (precert, cloud), ksconf, byte-compile and import on 3.9/3.13
    python3 build.py test            # set up the test environments, then run every check and test
    python3 build.py render          # regenerate savedsearches.conf and macros.conf from rules/
    python3 build.py sync --source URL|TARBALL|DIR --out DIR     # offline security_content sync to CSV
    python3 build.py replay --events FILE [--format table|jsonl]  # run the shipped rules over CloudTrail
    python3 build.py coverage --sync-output DIR --out layer.json  # ATT&CK Navigator layer

Every subcommand accepts --help (`build.py --help` prints this overview).

Exit codes (devtools/exit_codes.py), the same for every command:
%s
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# app/bin first; the vendored runtime libraries (app/lib, written by `package`) as a fallback, so
# every command runs with nothing but the standard library installed.
from devtools import exit_codes  # noqa: E402
from devtools.paths import use_app_package  # noqa: E402

use_app_package()

# Subcommand name -> module under devtools/commands/ that defines main(argv) -> int.
COMMANDS = {
    "package": "devtools.commands.package",
    "check": "devtools.commands.check",
    "test": "devtools.commands.test",
    "render": "devtools.commands.render",
    "sync": "devtools.commands.sync",
    "replay": "devtools.commands.replay",
    "coverage": "devtools.commands.coverage",
}


def main(argv: list[str]) -> int:
    """Run the command ``argv`` names (default ``package``); return its exit code."""
    if argv and argv[0] in ("-h", "--help", "help"):  # the overview; `build.py package --help` for package
        print(__doc__ % exit_codes.describe())
        return exit_codes.OK
    name = argv[0] if argv and not argv[0].startswith("-") else "package"
    rest = argv[1:] if argv and argv[0] == name else argv
    if name not in COMMANDS:
        print(f"build.py: unknown command {name!r}; one of: {', '.join(COMMANDS)}", file=sys.stderr)
        return exit_codes.USAGE
    module = importlib.import_module(COMMANDS[name])
    return int(module.main(rest) or exit_codes.OK)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
