"""Fuzzing the archive reader: arbitrary bytes, and real-shaped tarballs damaged at the tar level
(headers rewritten with their checksum fixed, so tarfile's own parsing is reached) and at the
gzip level. Property: members, or one of the archive module's own errors; never another
exception, never a hang (the profile's deadline, tests/fuzzing.py), memory bounded by the caps.

Regressions found by fuzzing and by the hostile-input campaign are the named tests at the end.
"""

from __future__ import annotations

import gzip
import io
import resource
import tarfile
import time

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from malicious_image.content.archive import (
    MAX_HEADER_BYTES,
    ArchiveError,
    ArchiveLimits,
    ArchiveTooLargeError,
    CorruptArchiveError,
    TarballReader,
)
from tests import hostile_archives as H
from tests.fuzzing import fuzz_settings

pytestmark = pytest.mark.runtime

LIMITS = ArchiveLimits(max_member_bytes=64 * 1024, max_total_bytes=4 * H.MB)
BASE_TAR = gzip.decompress(
    H.tarball([H.regular("detections/cloud/" + "long_name_" * 12 + ".yml", b"name: long\n"),
               H.symlink("detections/cloud/link.yml", "../x")])
)  # fmt: skip
BLOCKS = len(BASE_TAR) // 512
# (offset in a header block, length) of the ustar fields worth damaging
FIELDS = [(0, 100), (100, 8), (124, 12), (136, 12), (156, 1), (157, 100), (257, 6), (263, 2), (345, 155)]


def _read(data: bytes) -> list[str]:
    reader = TarballReader(io.BytesIO(data), wanted=lambda p: True, limits=LIMITS)
    return [m.path for m in reader]


def _fix_checksum(raw: bytearray, block: int) -> None:
    header = raw[block * 512 : block * 512 + 512]
    header[148:156] = b"        "
    raw[block * 512 + 148 : block * 512 + 156] = b"%06o\0 " % (sum(header) & 0o777777)


@st.composite
def damaged_tar(draw) -> bytes:
    raw = bytearray(BASE_TAR)
    for _ in range(draw(st.integers(1, 4))):
        block = draw(st.integers(0, BLOCKS - 1))
        offset, length = draw(st.sampled_from(FIELDS))
        value = draw(st.one_of(
            st.binary(min_size=1, max_size=length),
            st.sampled_from([b"x", b"L", b"K", b"g", b"2", b"1", b"3", b"4", b"6", b"7", b"S", b"\0", b"77777777777",
                             b"\x80\0\0\0\0\0\0\x7f\xff\xff\xff", b"-1", b"../../etc/passwd\0", b"/\0"]),
        ))  # fmt: skip
        start = block * 512 + offset
        raw[start : start + min(length, len(value))] = value[:length]
        if draw(st.booleans()):
            _fix_checksum(raw, block)
    if draw(st.booleans()):
        raw = raw[: draw(st.integers(0, len(raw)))]
    return gzip.compress(bytes(raw), compresslevel=1)


def _only_archive_errors(data: bytes) -> None:
    try:
        paths = _read(data)
    except ArchiveError as exc:
        assert str(exc)
    else:
        assert all(not p.startswith("/") and ".." not in p.split("/") for p in paths)


@fuzz_settings()
@given(st.binary(max_size=2048))
@example(b"\x1f\x8b")
@example(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff")
@example(gzip.compress(b""))
def test_arbitrary_bytes_raise_only_archive_errors(data):
    _only_archive_errors(data)


@fuzz_settings()
@given(damaged_tar())
def test_damaged_tar_headers_raise_only_archive_errors(data):
    _only_archive_errors(data)


@fuzz_settings(scale=0.5)
@given(st.integers(0, 4096), st.binary(min_size=1, max_size=64), st.booleans())
def test_damaged_gzip_raises_only_archive_errors(at, noise, cut):
    base = H.tarball([])
    data = base[:at] + noise + (b"" if cut else base[at + len(noise) :])
    _only_archive_errors(data)


# -- named regressions ---------------------------------------------------------------------------------
def _extended_header_bomb(kind: bytes, size: int) -> bytes:
    info = tarfile.TarInfo("x")
    info.type = kind
    info.size = size
    header = info.tobuf(format=tarfile.GNU_FORMAT if kind in (tarfile.GNUTYPE_LONGNAME, b"K") else tarfile.USTAR_FORMAT)
    return H.gzip_bomb(size, prefix=header)


@pytest.mark.parametrize("kind", [tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK])
def test_an_extended_header_of_400_mb_is_refused_before_it_is_read(kind):
    """Found by this campaign: tarfile reads a pax or GNU long-name header's data whole into
    memory; a 400 MB pax header of zeros (400 kB compressed) took 800 MB of RSS and 4 s."""
    bomb = _extended_header_bomb(kind, 400 * H.MB)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with pytest.raises(CorruptArchiveError, match="extended header of 419430400 bytes"):
        _read(bomb)
    assert time.perf_counter() - started < 2
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) / 1024 < 64


def test_a_real_sized_pax_header_is_still_read():
    info = tarfile.TarInfo(f"{H.TOP}/detections/x.yml")
    data = b"name: x\n"
    info.size = len(data)
    info.pax_headers = {"comment": "c" * 4000, "path": f"{H.TOP}/detections/" + "y" * 300 + ".yml"}
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(data))
    assert MAX_HEADER_BYTES > 4500
    assert _read(gzip.compress(raw.getvalue())) == ["detections/" + "y" * 300 + ".yml"]


@pytest.mark.parametrize("size", [2**33, 2**80])
def test_a_member_declaring_more_than_the_cap_is_refused_at_its_header(size):
    """Found by fuzzing (test_damaged_tar_headers...: 5.4 s for a 1.3 kB input): tarfile skips an
    unread member block by block and keeps reading after the stream has ended, so a member
    declaring 2**39 bytes took seconds and one declaring 2**80 bytes would spin for ever."""
    info = tarfile.TarInfo(f"{H.TOP}/docs/huge.bin")
    info.size = size
    data = gzip.compress(info.tobuf(format=tarfile.GNU_FORMAT) + bytes(1024))
    started = time.perf_counter()
    with pytest.raises(ArchiveTooLargeError, match=f"declares a member of {size} bytes"):
        _read(data)
    assert time.perf_counter() - started < 1


class _Endless(io.RawIOBase):
    """A valid gzip stream, then bytes without end (a server that never stops sending)."""

    def __init__(self, head: bytes):
        self.head = head
        self.served = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        n = len(buffer)
        if self.served < len(self.head):
            chunk = self.head[self.served : self.served + n]
            buffer[: len(chunk)] = chunk
            n = len(chunk)
        else:
            buffer[:n] = b"\0" * n
        self.served += n
        return n


def test_endless_bytes_after_the_gzip_stream_stop_at_the_cap():
    """Found by this campaign: bytes after the end of the gzip stream were read (to be counted)
    without limit; now the compressed bytes count against the same cap."""
    stream = _Endless(H.tarball([]))
    started = time.perf_counter()
    with pytest.raises(ArchiveTooLargeError, match="download is larger than 4 MB"):
        list(TarballReader(io.BufferedReader(stream), limits=LIMITS))
    assert stream.served <= 4 * H.MB + 256 * 1024
    assert time.perf_counter() - started < 5


def test_a_configured_lower_cap_refuses_a_real_sized_archive():
    """An archive over the configured cap (not a bomb: incompressible data) stops at the cap."""
    import os

    archive = H.tarball([H.regular("docs/noise.bin", os.urandom(5 * H.MB))], level=1)
    with pytest.raises(ArchiveTooLargeError, match="more than 4 MB"):
        _read(archive)
