"""The parse cache gives back exactly what the real reader produced; the state round-trips."""

from __future__ import annotations

import tarfile

import pytest

from malicious_image.content import reader
from malicious_image.content.archive import git_blob_sha
from malicious_image.sync.state import CACHE_FILE, ParseCache, SyncState, code_fingerprint
from tests.support.paths import SNAPSHOTS

pytestmark = pytest.mark.runtime


def _real_members(limit_per_kind: int = 15) -> list[tuple[str, bytes]]:
    """A few files of every kind from the 2024 snapshot (read by path, never copied)."""
    taken: dict[str, int] = {}
    members = []
    with tarfile.open(SNAPSHOTS / "splunk-security_content-b13b314.tar.gz", "r|gz") as tar:
        for info in tar:
            path = info.name.split("/", 1)[-1]
            kind = reader.member_kind(path) if info.isreg() else None
            if kind in (None, "catalogue") or taken.get(kind, 0) >= limit_per_kind:
                continue
            taken[kind] = taken.get(kind, 0) + 1
            members.append((path, tar.extractfile(info).read()))
    return members


def test_cached_results_equal_the_reader_output(tmp_path):
    members = _real_members()
    results = {path: reader.read_member(path, data, commit="a" * 40) for path, data in members}
    assert {r.kind for r in results.values()} >= {"detection", "story", "macro", "lookup", "data_source"}
    cache = ParseCache(tmp_path)
    for path, data in members:
        cache.put(git_blob_sha(data), path, results[path])
    cache.save()
    again = ParseCache(tmp_path)
    for path, data in members:
        assert again.get(git_blob_sha(data), path) == results[path], path
    assert again.hits == len(members) and again.get("0" * 40, members[0][0]) is None


def test_rejections_are_cached_too(tmp_path):
    result = reader.read_member("detections/cloud/broken.yml", b"name: [unclosed\n")
    assert result.rejection is not None
    cache = ParseCache(tmp_path)
    cache.put("b" * 40, "detections/cloud/broken.yml", result)
    cache.save()
    assert ParseCache(tmp_path).get("b" * 40, "detections/cloud/broken.yml") == result


def test_cache_of_another_format_is_ignored(tmp_path):
    (tmp_path / CACHE_FILE).write_text('{"format": 0, "fingerprint": "x", "entries": {"k": 1}}')
    assert len(ParseCache(tmp_path)) == 0


def test_fingerprint_is_stable_and_short():
    assert code_fingerprint() == code_fingerprint() and len(code_fingerprint()) == 16


def test_sync_state_round_trip_ignores_unknown_keys():
    state = SyncState(repository="r", commit="c" * 40, blobs={"a.yml": "1" * 40}, counts={"macros": 3})
    data = state.to_dict()
    data["added_by_a_later_version"] = True
    assert SyncState.from_dict(data) == state
