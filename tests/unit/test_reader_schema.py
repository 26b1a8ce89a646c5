"""The JSON Schema of canonical records, and its compiled fast path, which must never be laxer."""

from __future__ import annotations

from pathlib import Path

import pytest
from jsonschema import Draft7Validator

from malicious_image.content import reader, schema
from malicious_image.content.yaml_safe import load_yaml

pytestmark = pytest.mark.runtime

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "content"


def fixture_docs():
    """Canonical field dicts of every fixture file with a schema (detections, stories, macros)."""
    docs = []
    for path in sorted(FIXTURES.rglob("*.yml")):
        era_dir = path.relative_to(FIXTURES).parts[0]
        rel = path.relative_to(FIXTURES / era_dir).as_posix()
        kind = reader.member_kind(rel)
        if kind in schema.SCHEMAS:
            docs.append((kind, reader._BUILDERS[kind](rel, load_yaml(path.read_bytes()), "c0ffee")))
    return docs


DOCS = fixture_docs()
VALIDATORS = {kind: Draft7Validator(s) for kind, s in schema.SCHEMAS.items()}


def test_schemas_are_valid_draft7_and_all_compile_to_a_fast_path():
    for s in schema.SCHEMAS.values():
        Draft7Validator.check_schema(s)
    assert set(schema._FAST) == set(schema.SCHEMAS)


def test_every_fixture_record_is_valid_both_ways():
    assert {kind for kind, _ in DOCS} == {"detection", "story", "macro"}
    for kind, doc in DOCS:
        assert VALIDATORS[kind].is_valid(doc), doc["source_path"]
        assert schema._FAST[kind](doc), doc["source_path"]
        assert schema.check(kind, doc) is None


def test_a_keyword_the_fast_path_does_not_know_falls_back_to_jsonschema():
    with pytest.raises(schema._Unsupported):
        schema._compile({"type": "object", "additionalProperties": False})


def test_check_of_a_kind_without_schema_passes():
    assert schema.check("lookup", {"anything": 1}) is None
