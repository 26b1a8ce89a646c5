"""``python3 build.py sync``: sync security_content into CSV lookup files, offline or from GitHub.

Runs the same core as the modular input (:func:`malicious_image.sync.engine.run_sync`) with the
CSV writer: ``<table>.csv`` files in ``--out``, switched generation by generation, plus
``summary.json`` (the status event), ``sync_state.json`` (so that a second run against an
unchanged upstream costs one request) and ``.cache/`` (parsed files by blob hash).

Exit status (devtools/exit_codes.py): 0 updated or unchanged, 1 the sync failed (the previous
tables are untouched), 2 bad arguments, 3 another sync holds the output folder.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, TextIO

from devtools.paths import use_app_package

use_app_package()

from devtools import exit_codes  # noqa: E402
from devtools.parallel_parse import Parallel, batch_gc  # noqa: E402
from malicious_image.content.archive import MB, ArchiveLimits  # noqa: E402
from malicious_image.content.attack_sources import AttackSourceError, attack_provider  # noqa: E402
from malicious_image.content.source_base import RetryPolicy, SourceError  # noqa: E402
from malicious_image.content.source_spec import source_from_spec  # noqa: E402
from malicious_image.settings import (  # noqa: E402
    InputSettings,
    parse_input_settings,
    proxy_with_password,
    split_proxy_password,
)
from malicious_image.sync.csv_writer import CsvTableWriter, CsvWriterError, JsonStateStore, SyncLockedError  # noqa: E402
from malicious_image.sync.engine import SyncReport, run_sync  # noqa: E402
from malicious_image.sync.state import write_atomic  # noqa: E402

SUMMARY_FILE = "summary.json"
CACHE_FOLDER = ".cache"
SHOWN_REJECTIONS = 10


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``build.py sync``."""
    parser = argparse.ArgumentParser(
        prog="build.py sync",
        description="Sync security_content (GitHub repository, local .tar.gz or folder) into CSV lookups.",
    )
    parser.add_argument("--source", required=True, help="https://github.com/OWNER/REPO, a .tar.gz, or a folder")
    parser.add_argument("--ref", help="GitHub branch, tag or SHA (default: develop)")
    parser.add_argument("--out", required=True, type=Path, help="output folder for <table>.csv and summary.json")
    parser.add_argument("--token-env", metavar="VAR", help="name of the environment variable holding a GitHub token")
    parser.add_argument("--proxy", metavar="URL", help="HTTP(S) proxy for GitHub, http://[user:pass@]host:port")
    parser.add_argument("--ca-bundle", metavar="FILE", help="PEM file of CAs to trust (TLS is always verified)")
    parser.add_argument("--api-url", default=None, help="GitHub API base URL (GitHub Enterprise: https://HOST/api/v3)")
    parser.add_argument("--timeout", type=float, default=60.0, help="read timeout in seconds (default 60)")
    parser.add_argument("--retries", type=int, default=4, help="attempts for network errors and 5xx (default 4)")
    parser.add_argument(
        "--backoff", type=float, default=2.0, help="first wait in seconds between attempts, then doubled"
    )
    parser.add_argument(
        "--max-archive-mb", type=int, default=512,
        help="stop reading an archive that decompresses to more than this many MB (default 512)",
    )  # fmt: skip
    parser.add_argument(
        "--jobs", type=int, default=None, metavar="N",
        help="parse on N processes (default: 2 with libyaml on 2 or more CPUs, else 1); same output",
    )  # fmt: skip
    parser.add_argument(
        "--attack-source", metavar="github|security_content|PATH", default=None,
        help="ATT&CK catalogue: MITRE's STIX data from GitHub, the content's own mitre_enrichment.csv, or a "
        "local bundle / index.json (default: security_content, which never touches the network)",
    )  # fmt: skip
    parser.add_argument("--attack-index-url", default=None, help=argparse.SUPPRESS)  # tests: an emulated server
    parser.add_argument("--attack-version", default="", help="ATT&CK release such as 19.0 (default: the newest)")
    parser.add_argument("--no-cache", action="store_true", help="parse every file (ignore and do not write .cache/)")
    parser.add_argument(
        "--accept-format-change", action="store_true",
        help="write the tables even if the share of detections with an ATT&CK id falls by more than 20 points",
    )  # fmt: skip
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    parser.add_argument("--verbose", action="store_true", help="log each step (key=value lines) to stderr")
    return parser


def _settings(args: argparse.Namespace) -> tuple[InputSettings, str]:
    """The command line as the input's settings (the one parser and validator) and the proxy
    password given in ``--proxy`` (kept apart, as the input keeps it in storage/passwords).

    A path is made absolute and ``OWNER/REPO`` becomes its GitHub URL before parsing.
    """
    spec = args.source
    path = Path(spec).expanduser()
    if "://" not in spec and (path.exists() or spec.endswith((".tar.gz", ".tgz")) or spec.startswith((".", "/", "~"))):
        spec = str(path.resolve())
    elif "://" not in spec and spec.count("/") == 1:
        spec = f"https://github.com/{spec}"
    proxy, password = split_proxy_password(args.proxy or "")
    params = {"repository": spec, "ref": args.ref, "proxy": proxy, "api_url": args.api_url}
    if args.ca_bundle:
        params["ca_bundle"] = str(Path(args.ca_bundle).expanduser().resolve())
    return parse_input_settings(params), password


def _source(args: argparse.Namespace) -> Any:
    settings, proxy_password = _settings(args)
    if args.max_archive_mb < 1:
        raise ValueError("--max-archive-mb must be at least 1")
    limits = ArchiveLimits(max_total_bytes=args.max_archive_mb * MB)
    if settings.is_local:
        return source_from_spec(settings.repository, ref=args.ref, limits=limits)
    github: Dict[str, Any] = {
        "api_url": settings.api_url,
        "proxy": proxy_with_password(settings.proxy, proxy_password),
        "ca_bundle": settings.ca_bundle or None,
        "timeout": (10.0, args.timeout),
        "retry_policy": RetryPolicy(attempts=max(1, args.retries), backoff=max(0.0, args.backoff)),
    }
    if args.token_env:
        token = os.environ.get(args.token_env, "")
        if not token:
            raise ValueError(f"the environment variable {args.token_env} is empty or not set")
        github["token"] = token
    return source_from_spec(settings.repository, ref=settings.ref, limits=limits, **github)


def _attack(args: argparse.Namespace) -> Any:
    """The ATT&CK provider; with only local inputs the default never touches the network."""
    setting = args.attack_source or "security_content"
    if setting not in ("github", "security_content"):
        setting = str(Path(setting).expanduser().resolve())
    github: Dict[str, Any] = {"proxy": args.proxy or "", "ca_bundle": args.ca_bundle or ""}
    if args.attack_index_url and setting == "github":
        github["index_url"] = args.attack_index_url
    return attack_provider(setting, version=args.attack_version, cache_dir=str(args.out / CACHE_FOLDER), **github)


class _Progress:
    """One self-overwriting status line on a terminal (stderr); silent when not a tty."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.enabled = stream.isatty()
        self.started = time.perf_counter()

    def __call__(self, phase: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        label = {"resolve": "resolving ref", "read": "reading files", "tables": "building tables",
                 "write": "writing tables"}.get(phase, phase)  # fmt: skip
        count = f" {done}" + (f"/{total}" if total and phase != "read" else "") if phase == "read" else ""
        elapsed = time.perf_counter() - self.started
        self.stream.write(f"\r\x1b[K{label}{count}  ({elapsed:.1f} s)")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def format_summary(report: SyncReport) -> List[str]:
    """The short human summary printed after a run."""
    event = report.to_event()
    where = report.repository + (f" {report.ref}" if report.ref else "")
    lines = [f"sync {report.outcome}: {where} @ {report.commit[:12] or '-'}"]
    if report.counts:
        lines.append("  " + ", ".join(f"{name} {count}" for name, count in report.counts.items()))
    if report.outcome != "unchanged" or report.files_read:
        lines.append(
            f"  read {report.files_read} files, parsed {report.files_parsed} "
            f"(cache hits {report.cache_hits}), "
            f"{report.bytes_downloaded / 1e6:.1f} MB read from the source, {report.requests} HTTP requests"
        )
    if report.rejected:
        lines.append(f"  rejected {len(report.rejected)} files:")
        lines += [f"    {r['path']}: {r['reason']}" for r in report.rejected[:SHOWN_REJECTIONS]]
        if len(report.rejected) > SHOWN_REJECTIONS:
            lines.append(f"    ... all {len(report.rejected)} in {SUMMARY_FILE}")
    unmapped = event["unmapped_detections"]
    if unmapped["count"]:
        shown = ", ".join(item["path"] for item in unmapped["first"][:SHOWN_REJECTIONS])
        more = f", ... all listed (up to 100) in {SUMMARY_FILE}" if unmapped["count"] > SHOWN_REJECTIONS else ""
        lines.append(f"  {unmapped['count']} detections have no ATT&CK id: {shown}{more}")
    if event["unknown_keys"]:
        keys = ", ".join(f"{key} ({count} files)" for key, count in event["unknown_keys"].items())
        lines.append(f"  top-level keys the reader does not know: {keys}")
    phases = ", ".join(f"{k} {v:.2f}" for k, v in event["durations"].items() if k != "total")
    lines.append(f"  took {event['durations'].get('total', 0):.2f} s ({phases})")
    if report.message:
        lines.append(f"  {report.message}")
    attack = report.attack
    if attack.get("message"):
        release = f"ATT&CK {attack['version']}" if attack.get("version") else "ATT&CK (release unknown)"
        fallback = " [fallback to the content's CSV]" if attack.get("fallback") else ""
        lines.append(f"  {release}{fallback}: {attack['message']}")
    return lines


def main(argv: List[str] | None = None) -> int:
    """Run ``build.py sync``; returns the exit status."""
    args = build_parser().parse_args(argv)
    # The summary reports failures; log lines only on request.
    level = logging.INFO if args.verbose else logging.CRITICAL
    logging.basicConfig(level=level, format="%(levelname)s %(name)s %(message)s", stream=sys.stderr)
    try:
        source = _source(args)
        attack = _attack(args)
    except (ValueError, SourceError, AttackSourceError) as exc:
        print(f"build.py sync: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    if args.jobs is not None and args.jobs < 1:
        print("build.py sync: --jobs must be at least 1", file=sys.stderr)
        return exit_codes.USAGE
    batch_gc()
    out: Path = args.out
    writer = CsvTableWriter(out)
    progress = _Progress(sys.stderr) if not args.quiet else None
    try:
        with writer.lock():
            parallel = Parallel(args.jobs)  # parses, and writes the cache, on several cores with --jobs N
            cache = None if args.no_cache else parallel.cache(out / CACHE_FOLDER)
            state = JsonStateStore(out / "sync_state.json", writer)
            report = run_sync(
                source, writer, state, cache=cache, progress=progress, parse_many=parallel.parse_many,
                accept_format_change=args.accept_format_change, attack=attack,
            )  # fmt: skip
            event = report.to_event(max_rejected=len(report.rejected))
            write_atomic(out / SUMMARY_FILE, (_json(event) + "\n").encode("utf-8"))
    except SyncLockedError as exc:
        print(f"build.py sync: {exc}", file=sys.stderr)
        return exit_codes.BUSY
    except CsvWriterError as exc:
        print(f"build.py sync: {exc}", file=sys.stderr)
        return exit_codes.FAILED
    finally:
        if progress is not None:
            progress.close()
    if not args.quiet or report.outcome == "failed":
        stream = sys.stdout if report.outcome != "failed" else sys.stderr
        print("\n".join(format_summary(report)), file=stream)
    return exit_codes.FAILED if report.outcome == "failed" else exit_codes.OK


def _json(event: Dict[str, Any]) -> str:
    import json

    return json.dumps(event, indent=2, sort_keys=False)
