"""``python3 build.py replay``: run the app's rules, as shipped, over CloudTrail records.

    python3 build.py replay --events FILE [--format table|jsonl] [--now ISO] [--tz ZONE]

FILE holds CloudTrail records as JSON lines or CloudTrail's ``{"Records": [...]}`` documents.
With --now, every rule sees only its dispatch window (-70m@m to -10m@m) relative to that time,
the known-pushers baseline is first built from the 30 days before the window, and the correlation
rules run an hour later over the risk events. Without --now every rule sees every record.
--tz is the time zone of the (emulated) search owner: it changes how firstTime/lastTime print,
never which events match (the business-hours zone is the aws_ecr_business_hours macro).
--format jsonl prints one JSON object per line with kind (result, risk, notable), rule and fields.
"""

from __future__ import annotations

import argparse
import sys

from devtools import exit_codes, replay, replay_output
from devtools.spl import SPLError


def main(argv: list[str]) -> int:
    """Run the replay subcommand; return the process exit code."""
    parser = argparse.ArgumentParser(
        prog="build.py replay", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--events", required=True, help='CloudTrail records (JSON lines or {"Records": [...]})'
    )
    parser.add_argument("--format", choices=("table", "jsonl"), default="table")
    parser.add_argument("--now", help="the time of the scheduled run, ISO 8601 (default: windows off)")
    parser.add_argument("--tz", default="UTC", help="time zone of the search owner (default UTC)")
    args = parser.parse_args(argv)
    try:
        outcome = replay.replay_file(args.events, now=args.now, tz=args.tz)
    except replay.ReplayError as exc:
        print(f"replay: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    except SPLError as exc:
        print(f"replay: a shipped search failed on the SPL evaluator: {exc}", file=sys.stderr)
        return exit_codes.UNSUPPORTED_SPL
    text = replay_output.jsonl(outcome) if args.format == "jsonl" else replay_output.table(outcome)
    sys.stdout.write(text)
    return exit_codes.OK
