"""``python3 build.py render``: regenerate the conf files of the rules from rules/.

    python3 build.py render              # write savedsearches.conf, macros.conf, the transforms block
    python3 build.py render --check      # exit 1 when a committed file differs from a fresh render
    python3 build.py render --tz-table   # also regenerate app/lookups/malicious_image_tz_offsets.csv
"""

from __future__ import annotations

import argparse
import sys

from devtools import render, tzoffsets
from devtools.rules_model import RuleFileError


def main(argv: list[str]) -> int:
    """Run the render subcommand; return the process exit code."""
    parser = argparse.ArgumentParser(prog="build.py render", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 when a file is stale")
    parser.add_argument("--tz-table", action="store_true",
                        help="regenerate the time-zone offset lookup from the tzdata package")
    args = parser.parse_args(argv)
    try:
        expected = render.expected_files()
        if args.tz_table or not render.TZ_TABLE.exists():
            if args.check:
                print(f"render: {render.TZ_TABLE} is missing; run python3 build.py render --tz-table",
                      file=sys.stderr)
                return 1
            expected[render.TZ_TABLE] = tzoffsets.render_csv()
    except (RuleFileError, render.RenderError, tzoffsets.TzTableError) as exc:
        print(f"render: {exc}", file=sys.stderr)
        return 2
    rel = {path: path.relative_to(render.ROOT) for path in expected}
    if args.check:
        stale = render.stale_files(expected)
        for path in stale:
            print(f"render: {rel[path]} differs from a fresh render of rules/; run python3 build.py render",
                  file=sys.stderr)
        return 1 if stale else 0
    for path, text in expected.items():
        changed = render.write_atomic(path, text)
        print(f"{'wrote' if changed else 'unchanged'} {rel[path]}")
    return 0
