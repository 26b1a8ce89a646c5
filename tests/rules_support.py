"""Helpers of the rule tests: build CloudTrail records, replay one shipped rule over them."""

from __future__ import annotations

import csv
import io
import json
import tarfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Sequence

from devtools import replay
from devtools.cloudtrail import fields as ct_fields
from devtools.cloudtrail import sample as s
from tests.support.paths import SNAPSHOTS

HIGH = "Malicious Image - AWS ECR Container Scanning Findings High - Rule"
MEDIUM = "Malicious Image - AWS ECR Container Scanning Findings Medium - Rule"
LOW = "Malicious Image - AWS ECR Container Scanning Findings Low Informational Unknown - Rule"
HOURS = "Malicious Image - AWS ECR Container Upload Outside Business Hours - Rule"
UNKNOWN = "Malicious Image - AWS ECR Container Upload Unknown User - Rule"
BY_USER = "Malicious Image - Correlation by User and Risk - Rule"
BY_REPO = "Malicious Image - Correlation by Repository and Risk - Rule"
BASELINE = "Malicious Image - Previously Seen AWS ECR Pushers - Update"
SNAPSHOT_2024 = SNAPSHOTS / "splunk-security_content-b13b314.tar.gz"

_APP: replay.App | None = None


def at(text: str) -> datetime:
    """An aware UTC datetime from ``2026-11-20T19:59:59``."""
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def ids(seed: int = 7) -> s.Ids:
    """Deterministic ids for hand-built records."""
    return s.Ids(seed)


def fresh_app(**macros: str) -> replay.App:
    """The shipped app (conf read once per session), with macro overrides like local/macros.conf."""
    global _APP
    if _APP is None:
        _APP = replay.App.load()
    app = replay.App(
        savedsearches=_APP.savedsearches,
        macros=dict(_APP.macros),
        transforms=_APP.transforms,
        lookup_dir=_APP.lookup_dir,
    )
    for name, definition in macros.items():
        app.set_macro(name, definition)
    return app


def write_lookup(directory: Path, name: str, rows: Sequence[Dict[str, Any]], columns: Sequence[str]) -> None:
    """Write a CSV lookup file (a test's copy that shadows the shipped one)."""
    with (directory / name).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)


def run_rule(
    stanza: str,
    records: Sequence[Dict[str, Any]],
    *,
    now: str | None = None,
    app: replay.App | None = None,
    lookup_dir: Path | None = None,
) -> replay.RuleResult:
    """Replay one rule over records (windows off unless ``now`` is given)."""
    app = app or fresh_app()
    if lookup_dir is not None:
        app.extra_lookup_dirs = [lookup_dir]
    events = [ct_fields.to_splunk_event(r) for r in records]
    replayer = replay.Replayer(app)
    if now is None:
        stamps = [float(e["_time"]) for e in events]
        moment = max(stamps) + 1 if stamps else 0.0
        return replayer.run_rule(stanza, events, moment, windowed=False)
    return replayer.run_rule(stanza, events, replay.parse_now(now), windowed=True)


def rows_without(rows: List[Dict[str, Any]], *drop: str) -> List[Dict[str, Any]]:
    """Rows with some fields left out (e.g. long digests), for exact comparisons."""
    return [{k: v for k, v in row.items() if k not in drop} for row in rows]


def example_log(data_source: str) -> Dict[str, Any]:
    """The real sample event (``example_log``) of a data source of the 2024 snapshot, read by path."""
    import yaml  # dev environment only: the runtime test environments need not have PyYAML

    member = f"splunk-security_content-b13b314/data_sources/{data_source}.yml"
    with tarfile.open(SNAPSHOT_2024, "r:gz") as archive:
        extracted = archive.extractfile(member)
        assert extracted is not None, member
        document = yaml.safe_load(io.TextIOWrapper(extracted, encoding="utf-8"))
    return json.loads(document["example_log"])


def snapshot_detection(path: str) -> Dict[str, Any]:
    """A detection YAML of the 2024 snapshot, read by path."""
    import yaml

    with tarfile.open(SNAPSHOT_2024, "r:gz") as archive:
        extracted = archive.extractfile(f"splunk-security_content-b13b314/{path}")
        assert extracted is not None, path
        return yaml.safe_load(io.TextIOWrapper(extracted, encoding="utf-8"))
