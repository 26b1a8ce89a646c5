"""Fuzzing the STIX bundle reader: ``read_bundle`` on mutated bundles (bytes cut, repeated, replaced
by hostile tokens) and on bundles whose objects have fields of the wrong type.

Property: an AttackCatalogue or a StixError naming the problem, never another exception, in
bounded time (the profile's deadline, tests/fuzzing.py), whatever the chunk size.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from malicious_image.content.stix import AttackCatalogue, StixError, read_bundle
from tests import attack_bundles as B
from tests.fuzzing import fuzz_settings

pytestmark = pytest.mark.runtime

SEED = B.v19_bundle(indent=1)
OBJECTS = list(B.v19_objects())
TOKENS = [b"{", b"}", b"[", b"]", b",", b":", b'"', b"\\", b"\\u", b"\\ud800", b"\xff", b"\xc3", b"\x00",
          b"NaN", b"1e999", b"-", b"null", b"true", b"\xef\xbb\xbf", b'"objects"', b'"type"', b'"bundle"',
          b'"revoked-by"', b'"x_mitre_deprecated": true', b"\n" * 5]  # fmt: skip
VALUES = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2),
                   st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))  # fmt: skip
KEYS = ["type", "id", "name", "external_references", "kill_chain_phases", "x_mitre_is_subtechnique", "revoked",
        "x_mitre_deprecated", "x_mitre_platforms", "tactic_refs", "x_mitre_shortname", "relationship_type",
        "source_ref", "target_ref", "aliases", "x_mitre_version"]  # fmt: skip


def _check(data: bytes, chunk: int) -> None:
    try:
        result = read_bundle(data, chunk_chars=chunk)
    except StixError as exc:
        assert str(exc)
    else:
        assert isinstance(result, AttackCatalogue)


@fuzz_settings()
@given(
    st.lists(st.tuples(st.integers(0, len(SEED)), st.integers(0, 64), st.sampled_from(TOKENS)), min_size=1, max_size=4),
    st.sampled_from([3, 64, 4096]),
)
def test_mutated_bytes(edits, chunk) -> None:
    data = bytearray(SEED)
    for at, cut, token in edits:
        data[at : at + cut] = token
    _check(bytes(data), chunk)


@fuzz_settings()
@given(st.integers(0, len(OBJECTS) - 1), st.sampled_from(KEYS), VALUES)
def test_fields_of_the_wrong_type(index, key, value) -> None:
    objects = [dict(o) for o in OBJECTS]
    objects[index][key] = value
    _check(json.dumps({"type": "bundle", "id": "bundle--x", "objects": objects}).encode(), 4096)


@fuzz_settings()
@given(st.binary(max_size=200))
def test_arbitrary_bytes(data) -> None:
    _check(data, 16)
