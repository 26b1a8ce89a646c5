"""Fuzzing the YAML reader: ``read_member`` on arbitrary bytes and on real-shaped YAML mutated at
the text level (hostile tokens, cut and repeated spans, bad bytes), with both YAML back-ends.

Property: a record or a Rejection with a reason, never an exception, and bounded time (the
profile's deadline, tests/fuzzing.py). test_reader_fuzz.py mutates parsed documents; this file
mutates the bytes, which reaches the YAML parser's own error paths.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from malicious_image.content import yaml_safe
from malicious_image.content.catalogue import CatalogueError, read_catalogue
from malicious_image.content.reader import read_member
from malicious_image.content.yaml_safe import YamlError, load_yaml
from tests import hostile_archives as H
from tests.fuzzing import fuzz_settings

pytestmark = pytest.mark.runtime

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "content"
SEEDS = [p.read_bytes() for p in sorted(FIXTURES.rglob("*.yml"))] + [
    H.detection_yaml("Seed", ident=H.BASE_IDS[0]),
    H.STORY,
    H.MACRO,
]
PATHS = ("detections/cloud/x.yml", "stories/x.yml", "macros/x.yml", "lookups/x.yml", "data_sources/x.yml",
         "removed/x.yml", "detections/deprecated/x.yml")  # fmt: skip
TOKENS = [b"&a ", b"*a", b"!!python/object:os.system ", b"!!binary ", b"<<: ", b"[", b"]", b"{", b"}", b"? ",
          b"- ", b"---\n", b"...\n", b"%YAML 1.1\n", b"%TAG ! tag:x,2000:\n", b"\t", b"\x00", b"\xff", b"\xc3",
          b"\xef\xbb\xbf", b"'", b'"', b"\\", b"|\n", b">-\n", b": ", b"#", b"\r", b"\x85", "\u2028".encode(),
          b"1e999", b"0x", b"2024-13-45", b"~", b"null", b".nan", b"-.inf", b"\n  " * 8]  # fmt: skip


@st.composite
def mutated_yaml(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(("insert", "delete", "repeat", "byte")))
        if action == "insert":
            data[at:at] = draw(st.sampled_from(TOKENS))
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        elif action == "repeat":
            span = bytes(data[at : at + draw(st.integers(1, 60))])
            data[at:at] = span * draw(st.integers(1, 50))
        elif at < len(data):
            data[at] = draw(st.integers(0, 255))
    return bytes(data)


@pytest.fixture(params=["libyaml", "pure"])
def backend(request):
    if request.param == "libyaml" and not yaml_safe.use_libyaml(True):
        pytest.skip("PyYAML without libyaml")
    previous = yaml_safe.libyaml_in_use()
    yaml_safe.use_libyaml(request.param == "libyaml")
    yield request.param
    yaml_safe.use_libyaml(previous)


def _check(path: str, data: bytes) -> None:
    result = read_member(path, data)
    assert (result.record is None) != (result.rejection is None)
    if result.rejection is not None:
        assert result.rejection.path == path and result.rejection.reason


@fuzz_settings()
@given(st.sampled_from(PATHS), st.binary(max_size=4096))
@example("detections/cloud/x.yml", b"\xef\xbb\xbfname: x\n")  # a BOM: UTF-8, parsed
@example("detections/cloud/x.yml", b"a: !!binary 'AAAA'\n")  # bytes in a record
@example("detections/cloud/x.yml", b"- 1\n- 2\n")  # a list, not a mapping
def test_read_member_on_arbitrary_bytes(backend, path, data):
    _check(path, data)


@fuzz_settings()
@given(st.sampled_from(PATHS), mutated_yaml())
@example("detections/cloud/x.yml", b"name: x\nid: &a 1\nother: *a\n")
@example("detections/cloud/x.yml", SEEDS[-3].replace(b"date: '2024-01-01'", b"date: 2024-01-01 10:00:00"))
@example("detections/cloud/x.yml", SEEDS[-3].replace(b"version: 1", b"version: 1e999"))
@example("detections/cloud/x.yml", SEEDS[-3].replace(b"version: 1", b"version: .nan"))
def test_read_member_on_mutated_real_yaml(backend, path, data):
    _check(path, data)


@fuzz_settings(scale=0.5)
@given(mutated_yaml())
def test_load_yaml_raises_only_yaml_error(data):
    try:
        load_yaml(data)
    except YamlError as exc:
        assert str(exc)


CATALOGUE_TOKENS = [b",", b'"', b"\n", b"\r", b"\x00", b"|", b"\xff", b"T1204.003", b"mitre_id", b'"' + b"a" * 140_000]


@fuzz_settings(scale=0.5)
@given(st.sampled_from([b"", H.CATALOGUE[: len(H.CATALOGUE) // 2], H.CATALOGUE]),
       st.lists(st.one_of(st.binary(max_size=40), st.sampled_from(CATALOGUE_TOKENS)), max_size=12))  # fmt: skip
# found by this campaign: a header cell over csv's 128 kB field limit raised _csv.Error, which
# failed the whole sync instead of rejecting the catalogue
@example(b"", [b"mitre_id,technique,tactics,", b'"' + b"a" * 140_000 + b'"\n'])
@example(H.CATALOGUE, [b"\x00"])
def test_read_catalogue_raises_only_catalogue_error(prefix, pieces):
    data = prefix + b"".join(pieces)
    try:
        techniques = read_catalogue(data, ["Execution"])
    except CatalogueError as exc:
        assert str(exc)
    else:
        assert all(t.technique_id.startswith("T") for t in techniques)
