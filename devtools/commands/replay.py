"""``python3 build.py replay``: run the app's rules, as shipped, over CloudTrail records.

    python3 build.py replay --events FILE [--format table|jsonl] [--now ISO] [--tz ZONE]
    python3 build.py replay --events FILE --schedule HOURS [--start ISO] [--seed N] [--tz ZONE]

FILE holds CloudTrail records as JSON lines or CloudTrail's ``{"Records": [...]}`` documents.
With --now, every rule sees only its dispatch window (-70m@m to -10m@m) relative to that time,
the known-pushers baseline is first built from the 30 days before the window, and the correlation
rules run an hour later over the risk events. Without --now every rule sees every record.
--tz is the time zone of the (emulated) search owner: it changes how firstTime/lastTime print,
never which events match (the business-hours zone is the malicious_image_aws_ecr_business_hours macro).
--format jsonl prints one JSON object per line with kind (result, risk, notable), rule and fields.

--schedule HOURS simulates Splunk's scheduler instead: every scheduled search (the seven rules and
the baseline) runs at each cron time plus its own skew (allow_skew, drawn from --seed), over its
own window, for HOURS hours from --start (default: the hour of the earliest record); throttling
applies; one line per run that returned rows (see devtools/replay_schedule.py).
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
    parser.add_argument("--events", required=True, help='CloudTrail records (JSON lines or {"Records": [...]})')
    parser.add_argument("--format", choices=("table", "jsonl"), default="table")
    parser.add_argument("--now", help="the time of the scheduled run, ISO 8601 (default: windows off)")
    parser.add_argument("--tz", default="UTC", help="time zone of the search owner (default UTC)")
    parser.add_argument("--schedule", type=float, metavar="HOURS", help="simulate the scheduler for HOURS hours")
    parser.add_argument("--start", help="with --schedule: first scheduled hour, ISO 8601")
    parser.add_argument("--seed", type=int, default=0, help="with --schedule: the skew draw (an install)")
    args = parser.parse_args(argv)
    if args.schedule is not None:
        return _scheduled(args)
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


def _scheduled(args: argparse.Namespace) -> int:
    from devtools import replay_schedule, scheduler

    if args.schedule <= 0 or args.schedule > 24 * 31:
        print("replay: --schedule takes a number of hours between 0 and 744", file=sys.stderr)
        return exit_codes.USAGE
    try:
        events = replay.load_events(args.events)
        start = replay.parse_now(args.start)
        if start is None:
            stamps = [float(e["_time"]) for e in events]
            start = (min(stamps) // 3600) * 3600 if stamps else 0.0
        outcome = replay_schedule.replay_schedule(events, start=start, hours=args.schedule, seed=args.seed, tz=args.tz)
    except (replay.ReplayError, scheduler.ScheduleError) as exc:
        print(f"replay: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    except SPLError as exc:
        print(f"replay: a shipped search failed on the SPL evaluator: {exc}", file=sys.stderr)
        return exit_codes.UNSUPPORTED_SPL
    sys.stdout.write(replay_schedule.summary(outcome))
    return exit_codes.OK
