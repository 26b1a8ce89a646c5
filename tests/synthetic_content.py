"""Synthetic security_content tarballs built at test time from a real snapshot, in memory.

Nothing is copied into the repository: the members are read from a snapshot in
``../shared/security_content/`` and written to a temporary ``.tar.gz`` (GitHub's layout: one top
folder, the commit in the pax ``comment`` header), which the GitHub emulator, ``build.py sync``
and the modular input read like any other tarball.

- :func:`small_generation` gives a small, fast tarball (e.g. 50 detections) in two variants that
  differ in content: the crash campaigns sync one and then the other, many times.
- :func:`scaled_members` clones every detection ``factor`` times under new ids, names and paths
  (the scale benchmark: 10x the October 2024 snapshot is about 17,000 detections).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import uuid
from pathlib import Path
from typing import Dict, Iterable, Tuple

from tests.emulators.github_server import make_tarball
from tests.support.paths import SNAPSHOTS

OCTOBER_2024 = SNAPSHOTS / "splunk-security_content-b13b314.tar.gz"
_ID = re.compile(rb"^id:[ \t]*(\S+)[ \t]*$", re.M)
_NAME = re.compile(rb"^name:[ \t]*(\S.*)$", re.M)
_VERSION = re.compile(rb"^version:[ \t]*(\d+)[ \t]*$", re.M)
_CLONES = uuid.UUID("6d3f1c1e-0000-4000-8000-120400300000")

Members = Dict[str, bytes]


@functools.lru_cache(maxsize=2)
def snapshot_members(snapshot: Path = OCTOBER_2024, *, wanted_only: bool = True) -> Tuple[Tuple[str, bytes], ...]:
    """The regular files of a snapshot (repository-relative path, bytes), sorted by path.

    Arguments:
        wanted_only: keep only the files the sync reads (``reader.member_kind``).
    """
    import tarfile

    from malicious_image.content.reader import member_kind

    found = []
    with tarfile.open(snapshot, "r:gz") as tar:
        for member in tar:
            if not member.isfile() or "/" not in member.name:
                continue
            path = member.name.split("/", 1)[1]
            if wanted_only and member_kind(path) is None:
                continue
            handle = tar.extractfile(member)
            if handle is not None:
                found.append((path, handle.read()))
    return tuple(sorted(found))


def _kind(path: str) -> str | None:
    from malicious_image.content.reader import member_kind

    return member_kind(path)


def clone_detection(path: str, data: bytes, copy: int) -> Tuple[str, bytes]:
    """A copy of a detection file with a new id, name and path (``copy`` 0 is the original)."""
    if copy == 0:
        return path, data
    match = _ID.search(data)
    if match:
        new_id = uuid.uuid5(_CLONES, f"{match.group(1).decode('utf-8', 'replace')}/{copy}")
        data = data[: match.start(1)] + str(new_id).encode() + data[match.end(1) :]
    match = _NAME.search(data)
    if match:
        name = match.group(1).decode("utf-8", "replace").strip()
        if name[:1] in "'\"" and name[-1:] == name[:1]:
            name = name[1:-1]
        renamed = json.dumps(f"{name} copy {copy}").encode()
        data = data[: match.start(1)] + renamed + data[match.end(1) :]
    stem, _, ext = path.rpartition(".")
    return f"{stem}_copy{copy}.{ext}", data


def scaled_members(
    factor: int, snapshot: Path = OCTOBER_2024, *, wanted_only: bool = True
) -> Iterable[Tuple[str, bytes]]:
    """Every member of ``snapshot`` once, and every detection ``factor`` times (new ids/names)."""
    for path, data in snapshot_members(snapshot, wanted_only=wanted_only):
        if _kind(path) != "detection":
            yield path, data
            continue
        for copy in range(factor):
            yield clone_detection(path, data, copy)


def small_generation(
    variant: str, detections: int = 50, techniques: int = 80, snapshot: Path = OCTOBER_2024
) -> Members:
    """A small content set: ``detections`` detections, 10 stories, 10 macros, 5 data sources
    ("b": the next 5), the catalogue.

    ``variant`` "a" or "b": "b" drops the first 5 detections of "a", adds 5 others, and raises the
    version of 10 detections, so the two generations differ in content, not only in their commit.
    The ATT&CK catalogue is cut to its first ``techniques`` rows (a smaller table, a faster run).
    """
    members = snapshot_members(snapshot)
    found = [(p, d) for p, d in members if _kind(p) == "detection" and p.startswith("detections/")]
    start = 0 if variant == "a" else 5
    chosen: Members = dict(found[start : start + detections])
    if variant == "b":
        edited = sorted(chosen)[:10]  # the rest stays byte-identical: a parse cache hit, as upstream
        chosen.update((p, _VERSION.sub(_bump, chosen[p], count=1)) for p in edited)
    for kind, limit in (("story", 10), ("macro", 10)):
        chosen.update([(p, d) for p, d in members if _kind(p) == kind][:limit])
    sources = [(p, d) for p, d in members if _kind(p) == "data_source"]
    chosen.update(sources[start : start + 5])  # every table differs between the generations
    for path, data in members:
        if _kind(path) == "catalogue":
            chosen[path] = b"".join(data.splitlines(True)[: techniques + 1])
    return chosen


def _bump(match: re.Match) -> bytes:
    return b"version: %d" % (int(match.group(1)) + 100)


def commit_of(label: str) -> str:
    """A stable 40-hex commit SHA for a synthetic tarball."""
    return hashlib.sha1(label.encode()).hexdigest()


def write_tarball(path: Path, members: Members | Iterable[Tuple[str, bytes]], label: str) -> Tuple[Path, str]:
    """Write ``members`` as a GitHub-style tarball whose commit is :func:`commit_of` ``label``."""
    commit = commit_of(label)
    items = members if isinstance(members, dict) else dict(members)
    return make_tarball(Path(path), items, commit=commit), commit
