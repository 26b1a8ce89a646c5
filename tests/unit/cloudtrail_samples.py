"""Real CloudTrail sample events of security_content, read by path from the shared snapshot.

The 2024 snapshot's data_sources/*.yml carry an ``example_log`` captured from a real account;
tests read them straight out of the tarball and never copy them into the repository.
"""

from __future__ import annotations

import json
import tarfile
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = "splunk-security_content-b13b314"
# ../shared from the project's root; a git worktree sits one level deeper (wt/<name>).
CANDIDATES = [ROOT.parent / "shared", ROOT.parent.parent / "shared"]


def snapshot_path() -> Path:
    for shared in CANDIDATES:
        path = shared / "security_content" / f"{SNAPSHOT}.tar.gz"
        if path.is_file():
            return path
    pytest.skip(f"{SNAPSHOT}.tar.gz not found under {[str(c) for c in CANDIDATES]}")


@cache
def _members() -> dict:
    """The snapshot's data_sources/ and detections/ YAML texts, read in one pass over the tarball."""
    wanted = (f"{SNAPSHOT}/data_sources/", f"{SNAPSHOT}/detections/", f"{SNAPSHOT}/macros/")
    found = {}
    with tarfile.open(snapshot_path()) as archive:
        for member in archive:
            if member.isfile() and member.name.startswith(wanted) and member.name.endswith(".yml"):
                found[member.name[len(SNAPSHOT) + 1 :]] = archive.extractfile(member).read()
    return found


def snapshot_yaml(member: str) -> dict:
    """One YAML file of the 2024 snapshot (under data_sources/, detections/ or macros/), parsed."""
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load(_members()[member])


def example_record(data_source: str) -> dict:
    """The example_log of data_sources/<data_source>.yml as a CloudTrail record."""
    return json.loads(snapshot_yaml(f"data_sources/{data_source}.yml")["example_log"])
