"""Time the content reader on the security_content snapshots (figures printed, never asserted).

For each snapshot: read the tarball into memory once, then time, with libyaml and with the
pure-Python loader, (1) bare PyYAML parsing of the same files and (2) the full reader
(parse, guard, normalise, JSON Schema check, record). The difference is the reader's own
per-file overhead. Times are CPU seconds of this process (steadier than wall time on a
shared machine; the reader is single-threaded and does no I/O, so they are close to wall time
on an idle one).

    python benchmarks/bench_reader.py [--kinds detection,story,macro,lookup] [SHA ...]
"""

from __future__ import annotations

import argparse
import sys
import tarfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "app" / "bin")]

from malicious_image.content import yaml_safe  # noqa: E402
from malicious_image.content.reader import member_kind, read_member  # noqa: E402

SNAPSHOTS = ROOT.parent / "shared" / "security_content"


def members(sha: str, kinds: set) -> tuple:
    with tarfile.open(SNAPSHOTS / f"splunk-security_content-{sha}.tar.gz") as archive:
        commit = archive.pax_headers.get("comment", "")
        out = []
        for member in archive:
            if member.isfile():
                rel = member.name.split("/", 1)[1]
                if member_kind(rel) in kinds:
                    out.append((rel, archive.extractfile(member).read()))
    return commit, out


def bare_parse(files: list, loader: type) -> float:
    started = time.process_time()
    for _, data in files:
        yaml.load(data, Loader=loader)
    return time.process_time() - started


def full_read(files: list, commit: str) -> tuple:
    started = time.process_time()
    results = [read_member(path, data, commit=commit) for path, data in files]
    return time.process_time() - started, sum(1 for r in results if r.rejection)


HEADER = (f"{'snapshot':9} {'files':>5} {'MB':>5} {'loader':8} {'yaml only':>9} {'reader':>7} "
          f"{'overhead':>8} rejected")


def main(argv: list) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shas", nargs="*", default=["ba8de57", "fe159f0", "b13b314"])
    parser.add_argument("--kinds", default="detection,story,macro,lookup")
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs (libyaml); pure runs once")
    args = parser.parse_args(argv)
    kinds = set(args.kinds.split(","))
    backends = [("libyaml", True)] if hasattr(yaml, "CSafeLoader") else []
    backends.append(("pure", False))
    print(HEADER)
    for sha in args.shas:
        commit, files = members(sha, kinds)
        size = sum(len(d) for _, d in files) / 1e6
        for label, libyaml in backends:
            loader = yaml.CSafeLoader if libyaml else yaml.SafeLoader
            runs = args.repeat if libyaml else 1
            bare = min(bare_parse(files, loader) for _ in range(runs))
            yaml_safe.use_libyaml(libyaml)
            full, rejected = min(full_read(files, commit) for _ in range(runs))
            print(f"{sha:9} {len(files):5} {size:5.1f} {label:8} {bare:8.2f}s {full:6.2f}s "
                  f"{full - bare:7.2f}s {rejected}")
    yaml_safe.use_libyaml(True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
