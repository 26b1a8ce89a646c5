"""Hostile security_content archives, built in memory with tarfile and gzip (never from the snapshots).

Every archive is GitHub-shaped (a top folder ``splunk-security_content-<sha7>/``, the commit in
the pax ``comment`` header) and, unless a case says otherwise, carries a small valid base
content (:func:`base_members`: three detections, a story, a macro and an ATT&CK catalogue) so
that a test can check that "the rest is synced" next to the hostile member.

Builders:

- :func:`tarball` (entries -> ``.tar.gz`` bytes), with :func:`regular`, :func:`symlink`,
  :func:`hardlink`, :func:`special` entries and raw names (``../x``, ``/etc/x``);
- :func:`gzip_bomb`: ``size`` bytes of zeros (default 1 GiB) as a ~1 MB gzip stream, built in
  well under a second by repeating one byte-aligned deflate chunk;
- :func:`detection_yaml`: an era-B detection file whose search and lists the test chooses;
- :data:`CASES`: the named hostile-member cases used by the offline and modular input tests.
"""

from __future__ import annotations

import gzip
import io
import struct
import tarfile
import zlib
from dataclasses import dataclass
from typing import Callable

COMMIT = "badc0ffee0ddf00dbadc0ffee0ddf00dbadc0ffe"
TOP = f"splunk-security_content-{COMMIT[:7]}"
MB = 1024 * 1024


CATALOGUE = (
    b"mitre_id,technique,tactics,groups\n"
    b"T1204,User Execution,Execution,\n"
    b"T1204.003,Malicious Image,Execution,\n"
    b"T1610,Deploy Container,Defense Evasion|Execution,\n"
)

STORY = b"""name: Hostile Fixture Story
id: 0a0b0c0d-1111-4222-8333-444455556666
version: 1
date: '2024-01-01'
author: hostile tests
description: Base content next to hostile members.
narrative: n
references: []
tags:
  category:
  - Cloud Security
  product:
  - Splunk Enterprise
  usecase: Security Monitoring
"""

MACRO = b"""name: hostile_fixture_filter
definition: search *
description: filter
"""


def detection_yaml(
    name: str,
    *,
    ident: str,
    search: str = "`cloudtrail` eventName=PutImage | stats count by userIdentity.arn",
    mitre: list[str] | None = None,
    stories: list[str] | None = None,
) -> bytes:
    """An era-B detection file (what the 2023-24 snapshots hold) with the given search and lists."""
    mitre = ["T1204.003"] if mitre is None else mitre
    stories = ["Hostile Fixture Story"] if stories is None else stories
    lines = [
        f"name: {name}",
        f"id: {ident}",
        "version: 1",
        "date: '2024-01-01'",
        "author: hostile tests",
        "status: production",
        "type: TTP",
        "description: d",
        "data_source: []",
        "search: " + _quoted(search),
        "how_to_implement: h",
        "known_false_positives: none",
        "references: []",
        "tags:",
        "  analytic_story:",
        *(f"  - {s}" for s in stories),
        "  asset_type: AWS Account",
        "  confidence: 50",
        "  impact: 50",
        "  message: m",
        "  mitre_attack_id:",
        *(f"  - {t}" for t in mitre),
        "  observable:",
        "  - name: user",
        "    type: User",
        "    role:",
        "    - Victim",
        "  product:",
        "  - Splunk Enterprise",
        "  risk_score: 25",
        "  security_domain: cloud",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


BASE_IDS = (
    "11111111-2222-4333-8444-000000000001",
    "11111111-2222-4333-8444-000000000002",
    "11111111-2222-4333-8444-000000000003",
)


def base_members() -> dict[str, bytes]:
    """A small valid content: three detections, a story, a macro, the ATT&CK catalogue."""
    members = {
        f"detections/cloud/hostile_base_{i}.yml": detection_yaml(f"Hostile Base {i}", ident=ident)
        for i, ident in enumerate(BASE_IDS, start=1)
    }
    members["stories/hostile_fixture_story.yml"] = STORY
    members["macros/hostile_fixture_filter.yml"] = MACRO
    members["lookups/mitre_enrichment.csv"] = CATALOGUE
    return members


# -- tar entries ---------------------------------------------------------------------------------
def regular(path: str, data: bytes, *, top: str | None = TOP) -> tuple[tarfile.TarInfo, bytes]:
    """A regular file; ``path`` is repository-relative unless ``top`` is None (raw name)."""
    info = tarfile.TarInfo(f"{top}/{path}" if top else path)
    info.size = len(data)
    info.mtime = 1700000000
    return info, data


def _typed(path: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(f"{TOP}/{path}")
    info.type = kind
    info.linkname = linkname
    info.mtime = 1700000000
    return info


def symlink(path: str, target: str) -> tarfile.TarInfo:
    return _typed(path, tarfile.SYMTYPE, target)


def hardlink(path: str, target: str) -> tarfile.TarInfo:
    return _typed(path, tarfile.LNKTYPE, target)


def special(path: str, kind: bytes) -> tarfile.TarInfo:
    """A character or block device (``tarfile.CHRTYPE``/``BLKTYPE``) or FIFO (``FIFOTYPE``)."""
    info = _typed(path, kind)
    info.devmajor, info.devminor = 1, 3
    return info


class _Declared(io.RawIOBase):
    """A file object of ``size`` zero bytes, produced on demand (a huge member without the memory)."""

    def __init__(self, size: int):
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def tarball(entries: list, *, commit: str = COMMIT, base: bool = True, level: int = 6) -> bytes:
    """A GitHub-style ``.tar.gz``: the base content (unless ``base`` is False), then ``entries``.

    An entry is a TarInfo (link, device), a ``(TarInfo, bytes)`` pair, or ``(TarInfo, int)`` for a
    member of that many zero bytes streamed without holding them.
    """
    raw = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=level, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT, pax_headers={"comment": commit}) as tar,
    ):
        tar.addfile(_dir(TOP))
        if base:
            for path, data in base_members().items():
                info, body = regular(path, data)
                tar.addfile(info, io.BytesIO(body))
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                tar.addfile(entry)
                continue
            info, body = entry
            if isinstance(body, int):
                info.size = body
                tar.addfile(info, io.BufferedReader(_Declared(body)))
            else:
                tar.addfile(info, io.BytesIO(body))
    return raw.getvalue()


def _dir(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    return info


def gzip_bomb(size: int = 1024 * MB, chunk: int = MB, prefix: bytes = b"") -> bytes:
    """``prefix`` then ``size`` bytes of zeros as one valid gzip stream (about 1/1000 of ``size``).

    One ``chunk`` of zeros is deflated once and ended with a full flush (byte-aligned, no back
    references into earlier data), so the same bytes can be repeated ``size // chunk`` times;
    an empty final block, the CRC-32 and the length make a gzip stream ``gzip -t`` accepts.
    ``prefix`` (e.g. a tar header, :func:`tar_header`) is deflated first the same way.
    """
    def flushed(data: bytes) -> bytes:
        deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
        return deflate.compress(data) + deflate.flush(zlib.Z_FULL_FLUSH)

    count = size // chunk
    zeros = bytes(chunk)
    crc = zlib.crc32(prefix)
    for _ in range(count):
        crc = zlib.crc32(zeros, crc)
    total = len(prefix) + chunk * count
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    body = (flushed(prefix) if prefix else b"") + flushed(zeros) * count
    final = zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    return header + body + final + struct.pack("<II", crc & 0xFFFFFFFF, total & 0xFFFFFFFF)


def tar_header(path: str, size: int) -> bytes:
    """The 512-byte ustar header of a regular member (repository-relative ``path``) of ``size`` bytes."""
    info = tarfile.TarInfo(f"{TOP}/{path}")
    info.size = size
    info.mtime = 1700000000
    return info.tobuf(format=tarfile.USTAR_FORMAT)


def truncated(data: bytes, keep: float = 0.6) -> bytes:
    """The first ``keep`` share of ``data`` (a download cut short, a partly copied file)."""
    return data[: int(len(data) * keep)]


# -- named cases -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MemberCase:
    """A hostile member next to the base content: the rest syncs, the member is rejected.

    ``path`` is what the status event names (repository-relative, or the raw name for paths that
    never were inside the repository), ``reason`` a fragment of the reason shown.
    """

    name: str
    entries: Callable[[], list]
    path: str
    reason: str


_EVIL = "detections/cloud/evil.yml"
_GOOD = detection_yaml("Evil", ident="99999999-2222-4333-8444-000000000009")

MEMBER_CASES = (
    MemberCase("dotdot", lambda: [regular(f"{TOP}/../{_EVIL}", _GOOD, top=None)], f"{TOP}/../{_EVIL}",
               "path traversal"),
    MemberCase("dotdot_inside", lambda: [regular(f"{TOP}/detections/../../../etc/evil.yml", _GOOD, top=None)],
               f"{TOP}/detections/../../../etc/evil.yml", "path traversal"),
    MemberCase("absolute", lambda: [regular("/etc/cron.d/evil.yml", _GOOD, top=None)], "/etc/cron.d/evil.yml",
               "absolute path"),
    MemberCase("symlink", lambda: [symlink(_EVIL, "/etc/passwd")], _EVIL, "symbolic link"),
    MemberCase("hardlink", lambda: [hardlink(_EVIL, "/etc/shadow")], _EVIL, "hard link"),
    MemberCase("chardev", lambda: [special(_EVIL, tarfile.CHRTYPE)], _EVIL, "device"),
    MemberCase("blockdev", lambda: [special(_EVIL, tarfile.BLKTYPE)], _EVIL, "device"),
    MemberCase("fifo", lambda: [special(_EVIL, tarfile.FIFOTYPE)], _EVIL, "FIFO"),
    MemberCase("member_over_10mb", lambda: [(regular(_EVIL, b"")[0], 11 * MB)], _EVIL, "over the 10 MB limit"),
)  # fmt: skip
