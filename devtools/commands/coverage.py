"""``build.py coverage``: write the ATT&CK Navigator layer of a site's coverage, offline.

    python3 build.py coverage --sync-output DIR --out layer.json \\
        [--savedsearches [APP=]CONF ...] [--fired EVENTS.jsonl ...] \\
        [--platform P] [--status S] [--story NAME]

DIR is the output of ``build.py sync``. Each ``--savedsearches`` file is layered over the ones
before it (give an app's default/savedsearches.conf, then its local/savedsearches.conf to mark
rules enabled as a site does). ``--fired`` reads risk or notable events as JSON lines (for example
``build.py replay --format jsonl``); a rule named in them counts as fired.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List

from devtools.coverage import build_layer, compute_coverage
from devtools.coverage.inputs import (
    CoverageInputError,
    read_detections,
    read_fired,
    read_site_searches,
    read_summary,
    read_techniques,
)
from devtools.coverage.model import Filters, summary
from devtools.render import write_atomic


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="build.py coverage", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sync-output", required=True, type=Path, help="directory written by build.py sync")
    parser.add_argument("--out", required=True, type=Path, help="layer file to write (JSON)")
    parser.add_argument("--savedsearches", nargs="*", default=[], metavar="[APP=]CONF",
                        help="savedsearches.conf files, layered in the order given")
    parser.add_argument("--fired", nargs="*", default=[], type=Path, metavar="JSONL",
                        help="risk or notable events (JSON lines) naming rules that fired")
    parser.add_argument("--platform", help="only detections of this platform (detections/<platform>/)")
    parser.add_argument("--status", choices=["production", "experimental", "deprecated"])
    parser.add_argument("--story", help="only detections of this analytic story")
    return parser


def main(argv: List[str] | None = None) -> int:
    """Write the layer; print the headline figures. Exit 2 on bad input."""
    args = _parser().parse_args(argv)
    try:
        coverages = compute_coverage(
            read_techniques(args.sync_output),
            read_detections(args.sync_output),
            read_site_searches(args.savedsearches),
            read_fired(args.fired),
            Filters(platform=args.platform, status=args.status, story=args.story),
        )
        layer = build_layer(coverages, sync_summary=read_summary(args.sync_output))
    except CoverageInputError as error:
        print(f"build.py coverage: {error}", file=sys.stderr)
        return 2
    write_atomic(args.out, json.dumps(layer, indent=1) + "\n")
    figures = summary(coverages)
    print(f"wrote {args.out}: {figures['enabled']} of {figures['total']} techniques covered by enabled "
          f"detections, {figures['available']} by available content, {figures['fired']} fired")
    return 0
