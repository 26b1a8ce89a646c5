"""The tarball reader: real snapshots stream in memory; hostile archives are refused or skipped."""

from __future__ import annotations

import gzip
import io
import tarfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from malicious_image.content.archive import (
    ArchiveLimits,
    ArchiveTooLargeError,
    CorruptArchiveError,
    NotGzipError,
    TarballReader,
    TruncatedArchiveError,
    git_blob_sha,
)
from tests.emulators.github_server import make_tarball
from tests.support.paths import SNAPSHOTS

pytestmark = pytest.mark.runtime
COMMIT = "1234567890abcdef1234567890abcdef12345678"
TOP = "splunk-security_content-1234567"


def _yml(path: str) -> bool:
    return path.endswith(".yml")


def _tar_gz(entries: list[tarfile.TarInfo | tuple[str, bytes]], *, commit: str = COMMIT) -> bytes:
    """A gzip tarball with a pax comment and hand-made entries (links, devices, odd names)."""
    raw = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=raw, mode="wb") as gz,
        tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT, pax_headers={"comment": commit}) as tar,
    ):
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                tar.addfile(entry)
            else:
                info = tarfile.TarInfo(entry[0])
                info.size = len(entry[1])
                tar.addfile(info, io.BytesIO(entry[1]))
    return raw.getvalue()


def _special(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


def _read(data: bytes, **kwargs) -> tuple[TarballReader, dict[str, bytes]]:
    reader = TarballReader(io.BytesIO(data), **kwargs)
    return reader, {m.path: m.data for m in reader}


def test_real_snapshot_streams_wanted_members_with_commit():
    path = SNAPSHOTS / "splunk-security_content-b13b314.tar.gz"
    with path.open("rb") as handle:
        reader = TarballReader(handle, wanted=lambda p: p.startswith("detections/") and p.endswith(".yml"))
        paths = [m.path for m in reader]
    assert reader.commit == "b13b314aed0e1778335a55620474e7d27289a20a"
    assert reader.top_folder == "splunk-security_content-b13b314"
    assert len(paths) == 1711  # REFERENCE.md: 1,711 detection files in the 2024 snapshot
    assert "detections/cloud/aws_ecr_container_upload_unknown_user.yml" in paths
    assert reader.skipped == []
    assert reader.compressed_bytes == path.stat().st_size


def test_top_folder_stripped_and_unwanted_members_not_returned(tmp_path):
    archive = make_tarball(
        tmp_path / "a.tar.gz",
        {"detections/x.yml": b"name: x\n", "docs/readme.md": b"# hi\n"},
        commit=COMMIT,
    )
    reader, members = _read(archive.read_bytes(), wanted=_yml)
    assert members == {"detections/x.yml": b"name: x\n"}
    assert reader.commit == COMMIT


def test_git_blob_sha_matches_git_hash_object():
    assert git_blob_sha(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"
    assert git_blob_sha(b"") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"


def test_missing_or_malformed_pax_comment_gives_empty_commit():
    reader, _ = _read(_tar_gz([(f"{TOP}/a.yml", b"a: 1\n")], commit="not-a-sha"))
    assert reader.commit == ""


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        (f"{TOP}/../evil.yml", "path traversal"),
        (f"{TOP}/detections/../../evil.yml", "path traversal"),
        ("/etc/evil.yml", "absolute path"),
        ("other-top/evil.yml", "outside the archive's top folder"),
    ],
)
def test_unsafe_paths_are_skipped_with_a_reason(name, reason):
    reader, members = _read(_tar_gz([(f"{TOP}/ok.yml", b"a: 1\n"), (name, b"b: 2\n")]), wanted=_yml)
    assert members == {"ok.yml": b"a: 1\n"}
    assert [(s.path, reason in s.reason) for s in reader.skipped] == [(name, True)]


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        (tarfile.SYMTYPE, "symbolic link"),
        (tarfile.LNKTYPE, "hard link"),
        (tarfile.CHRTYPE, "device"),
        (tarfile.BLKTYPE, "device"),
        (tarfile.FIFOTYPE, "FIFO"),
    ],
)
def test_links_and_devices_under_wanted_paths_are_skipped(kind, reason):
    entries = [(f"{TOP}/ok.yml", b"a: 1\n"), _special(f"{TOP}/detections/x.yml", kind, "/etc/passwd")]
    reader, members = _read(_tar_gz(entries), wanted=_yml)
    assert set(members) == {"ok.yml"}
    assert len(reader.skipped) == 1 and reader.skipped[0].path == "detections/x.yml"
    assert reason in reader.skipped[0].reason


def test_links_outside_wanted_paths_are_ignored_silently():
    entries = [(f"{TOP}/ok.yml", b"a: 1\n"), _special(f"{TOP}/docs/link.md", tarfile.SYMTYPE, "x")]
    reader, members = _read(_tar_gz(entries), wanted=_yml)
    assert set(members) == {"ok.yml"} and reader.skipped == []


def test_member_over_the_size_cap_is_skipped_not_read():
    entries = [(f"{TOP}/big.yml", b"x" * 5000), (f"{TOP}/small.yml", b"a: 1\n")]
    reader, members = _read(_tar_gz(entries), limits=ArchiveLimits(max_member_bytes=4096))
    assert set(members) == {"small.yml"}
    assert reader.skipped[0].path == "big.yml" and "5000 bytes" in reader.skipped[0].reason


def test_decompression_cap_stops_a_gzip_bomb_early():
    bomb = _tar_gz([(f"{TOP}/zeros.yml", bytes(20 * 1024 * 1024))])
    assert len(bomb) < 100_000
    reader = TarballReader(io.BytesIO(bomb), limits=ArchiveLimits(max_total_bytes=1024 * 1024))
    with pytest.raises(ArchiveTooLargeError, match="more than 1 MB"):
        list(reader)
    assert reader.decompressed_bytes < 2 * 1024 * 1024


def test_truncated_gzip_raises_truncated():
    data = _tar_gz([(f"{TOP}/a.yml", bytes(range(256)) * 400)])
    with pytest.raises(TruncatedArchiveError, match="cut short"):
        _read(data[: len(data) // 2])


def test_corrupt_gzip_raises_corrupt(tmp_path):
    data = bytearray((SNAPSHOTS / "splunk-security_content-ba8de57.tar.gz").read_bytes()[:400_000])
    data[200_000:204_000] = bytes(b ^ 0x5A for b in data[200_000:204_000])
    with pytest.raises((CorruptArchiveError, TruncatedArchiveError)) as caught:
        _read(bytes(data))
    assert isinstance(caught.value, CorruptArchiveError)


@pytest.mark.parametrize("body", [b"<!DOCTYPE html><html>Sign in</html>", b"", b"\x1f"])
def test_body_that_is_not_gzip_raises_not_gzip(body):
    with pytest.raises(NotGzipError, match="not gzip"):
        _read(body)


def _tar_bytes(count: int = 3) -> bytes:
    return gzip.decompress(_tar_gz([(f"{TOP}/m{i}.yml", b"name: %d\n" % i * 200) for i in range(count)]))


def _header_offsets(raw: bytes) -> list[int]:
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
        return [m.offset for m in tar.getmembers()]


def test_damaged_header_mid_archive_is_corrupt_not_a_shorter_archive():
    raw = bytearray(_tar_bytes())
    second = _header_offsets(bytes(raw))[1]
    raw[second + 148 : second + 156] = b"99999999"  # header checksum field
    with pytest.raises(CorruptArchiveError, match="damaged"):
        _read(gzip.compress(bytes(raw)))


def test_zeroed_blocks_mid_archive_are_corrupt_not_the_end():
    raw = bytearray(_tar_bytes())
    second = _header_offsets(bytes(raw))[1]
    raw[second : second + 1024] = bytes(1024)  # looks like the end-of-archive marker
    with pytest.raises(CorruptArchiveError, match="follows the end of the tar archive"):
        _read(gzip.compress(bytes(raw)))


def test_gzip_of_something_that_is_not_tar_is_corrupt():
    with pytest.raises(CorruptArchiveError):
        _read(gzip.compress(b"just some text, not a tar file\n" * 50))


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=2048), st.integers(min_value=0, max_value=4096))
def test_arbitrary_damage_only_raises_archive_errors(noise, cut):
    base = _tar_gz([(f"{TOP}/a.yml", b"name: a\n" * 50), (f"{TOP}/b.yml", b"name: b\n")])
    damaged = base[:cut] + noise + base[cut + len(noise) :]
    try:
        _read(damaged, limits=ArchiveLimits(max_total_bytes=1024 * 1024))
    except (NotGzipError, TruncatedArchiveError, CorruptArchiveError, ArchiveTooLargeError):
        pass
