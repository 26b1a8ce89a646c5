"""The built-in CloudTrail sample: a month of ordinary ECR pushes, then a Saturday night.

:func:`sample_records` builds the scenario (with the builders of :mod:`devtools.cloudtrail.records`,
re-exported here) that ``samples/cloudtrail_ecr_sample.json`` holds and the README's main job
replays; :func:`replay_sample_summary` replays it through the shipped rules::

    python3 -m devtools.cloudtrail.sample --write     # regenerate samples/cloudtrail_ecr_sample.json
    python3 -m devtools.cloudtrail.sample --check     # exit 1 when the committed file is stale

Everything is seeded: the same seed gives byte-identical records.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import List, Sequence

from devtools.cloudtrail.records import (
    ACCOUNT,
    REGION,
    Ids,
    Record,
    assumed_role,
    aws_service,
    basic_finding,
    describe_scan_findings,
    enhanced_finding,
    iam_user,
    iso,
    manifest,
    parse_iso,
    put_image,
)

__all__ = [
    "ACCOUNT",
    "REGION",
    "SAMPLE_NOW",
    "SAMPLE_PATH",
    "SAMPLE_SEED",
    "Ids",
    "Record",
    "assumed_role",
    "aws_service",
    "basic_finding",
    "describe_scan_findings",
    "enhanced_finding",
    "iam_user",
    "iso",
    "manifest",
    "parse_iso",
    "put_image",
    "render_sample",
    "replay_sample_summary",
    "sample_records",
]

ROOT = Path(__file__).resolve().parent.parent.parent
SAMPLE_PATH = ROOT / "samples" / "cloudtrail_ecr_sample.json"
SAMPLE_NOW = "2026-11-21T03:10:00Z"  # a Saturday: the rules' window is 02:00-03:00 UTC
SAMPLE_SEED = 1204


def _history(ids: Ids, now: datetime, rng: random.Random) -> List[Record]:
    """30 days of ordinary pushes, in business hours on weekdays, by the team's known pushers."""
    alice = iam_user(ids, "alice")
    records: List[Record] = []
    start = (now - timedelta(days=28)).replace(hour=0, minute=0, second=0)
    day = start
    while day < now.replace(hour=0, minute=0, second=0) - timedelta(days=1):
        if day.weekday() < 5:
            when = day + timedelta(hours=9 + rng.randrange(0, 9), minutes=rng.randrange(0, 60))
            records.append(put_image(ids, when, alice, "payments/api", tag=f"v1.{len(records)}"))
            if day.weekday() in (1, 3):
                session = f"codebuild-{rng.randrange(1000, 9999)}"
                ci = assumed_role(ids, "ci-deployer", session)
                records.append(
                    put_image(
                        ids,
                        when + timedelta(minutes=30),
                        ci,
                        "web/frontend",
                        tag=f"build-{rng.randrange(100, 999)}",
                        ip="AWS Internal",
                    )
                )
        day += timedelta(days=1)
    return records


def sample_records(seed: int = SAMPLE_SEED, now: str = SAMPLE_NOW) -> List[Record]:
    """The built-in scenario: a month of normal pushes, then a Saturday night in the window.

    In the rules' window (02:00-03:00 UTC on Saturday 2026-11-21, ``now`` 03:10):

    - alice (known IAM user) pushes payments/api: outside business hours only;
    - a contractor role never seen before (assumed role contractor-role/mallory) pushes
      payments/api by digest from an unknown IP: unknown user and outside business hours;
    - eve (new IAM user) pushes to ECR Public; her retry fails (errorCode, ignored);
    - ECR's pull-through cache pushes (AWSService caller, ignored);
    - the scans of the contractor's image: basic findings of every severity (CRITICAL, HIGH,
      MEDIUM, LOW, INFORMATIONAL, UNDEFINED without a description), described twice (duplicate),
      one scan still in progress and one that does not exist (errorCode); and the enhanced
      (Inspector) findings of web/frontend with HIGH and UNTRIAGED.
    """
    ids = Ids(seed)
    rng = random.Random(seed + 1)  # noqa: S311 - deterministic test data
    moment = parse_iso(now)
    records = _history(ids, moment, rng)
    window = moment.replace(minute=0, second=0) - timedelta(hours=1)  # 02:00 on the sample's day
    alice = iam_user(ids, "alice")
    contractor = assumed_role(ids, "contractor-role", "mallory")
    eve = iam_user(ids, "eve")
    scanner = assumed_role(ids, "security-audit", "inspector-sync")
    bad_digest = ids.digest()
    records += [
        put_image(ids, window + timedelta(minutes=5), alice, "payments/api", tag="hotfix-1"),
        put_image(
            ids,
            window + timedelta(minutes=12),
            contractor,
            "payments/api",
            digest=bad_digest,
            by_digest=True,
            ip="192.0.2.66",
        ),
        put_image(
            ids,
            window + timedelta(minutes=20),
            eve,
            "tools/miner",
            tag="latest",
            ip="192.0.2.99",
            public=True,
        ),
        put_image(
            ids,
            window + timedelta(minutes=21),
            eve,
            "tools/miner",
            tag="latest",
            ip="192.0.2.99",
            public=True,
            error="ImageTagAlreadyExistsException",
        ),
        put_image(
            ids,
            window + timedelta(minutes=25),
            aws_service("ecr.amazonaws.com"),
            "cache/nginx",
            tag="1.27",
            ip="ecr.amazonaws.com",
        ),
    ]
    basic = [
        basic_finding("CVE-2026-0001", "CRITICAL", "Remote code execution in the HTTP parser.", "libhttp"),
        basic_finding("CVE-2026-0002", "HIGH", "Heap overflow in certificate parsing.", "openssl"),
        basic_finding("CVE-2026-0003", "MEDIUM", "Denial of service with crafted input.", "zlib"),
        basic_finding("CVE-2026-0004", "LOW", "Information leak in an error message.", "curl"),
        basic_finding("CVE-2026-0005", "INFORMATIONAL", "Disputed issue in the shell.", "bash"),
        basic_finding("CVE-2026-0006", "UNDEFINED", None, "nginx"),
    ]
    records += [
        describe_scan_findings(
            ids, window + timedelta(minutes=30), scanner, "payments/api", bad_digest, findings=basic
        ),
        describe_scan_findings(
            ids, window + timedelta(minutes=35), scanner, "payments/api", bad_digest, findings=basic
        ),
        describe_scan_findings(
            ids, window + timedelta(minutes=36), scanner, "payments/api", ids.digest(), status="IN_PROGRESS"
        ),
        describe_scan_findings(
            ids,
            window + timedelta(minutes=37),
            scanner,
            "payments/api",
            ids.digest(),
            error="ScanNotFoundException",
        ),
        describe_scan_findings(
            ids,
            window + timedelta(minutes=40),
            scanner,
            "web/frontend",
            ids.digest(),
            enhanced=[
                enhanced_finding("CVE-2026-1001", "HIGH", "glibc", "Buffer overflow in glibc.", ids=ids),
                enhanced_finding("CVE-2026-1002", "UNTRIAGED", "busybox", "Not yet triaged by the vendor.", ids=ids),
            ],
        ),
    ]
    records.sort(key=lambda r: r["eventTime"])
    return records


def render_sample(records: Sequence[Record]) -> str:
    """CloudTrail's S3 delivery format: ``{"Records": [...]}``, one record per line for diffs."""
    lines = ",\n".join(json.dumps(record, sort_keys=True) for record in records)
    return '{"Records": [\n' + lines + "\n]}\n"


def replay_sample_summary() -> str:
    """Replay the built-in sample through the shipped rules; return a short summary of what fired."""
    from devtools import replay  # imported late: replay needs the SPL evaluator

    outcome = replay.replay_file(SAMPLE_PATH, now=SAMPLE_NOW)
    return replay.summary(outcome)


def main(argv: Sequence[str]) -> int:
    """``python3 -m devtools.cloudtrail.sample [--write | --check]``."""
    parser = argparse.ArgumentParser(description="Generate the built-in CloudTrail ECR sample.")
    parser.add_argument("--write", action="store_true", help=f"write {SAMPLE_PATH.relative_to(ROOT)}")
    parser.add_argument("--check", action="store_true", help="exit 1 when the committed sample is stale")
    args = parser.parse_args(argv)
    return write_or_check(SAMPLE_PATH, render_sample(sample_records()), write=args.write, check=args.check)


def write_or_check(path: Path, text: str, *, write: bool, check: bool) -> int:
    """A generated sample file's command: ``check`` exits 1 when ``path`` differs from ``text``,
    ``write`` rewrites it, neither prints ``text``."""
    if check:
        return 0 if path.exists() and path.read_text(encoding="utf-8") == text else 1
    if write:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
