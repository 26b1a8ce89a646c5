"""JSON flattening (KV_MODE=json, spath extract-all) and spath paths (devtools/spl/jsonpath.py)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from devtools.spl.jsonpath import flatten, flatten_text, spath_values

KEYS = st.text(alphabet="abcXYZ_1", min_size=1, max_size=4)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-999, 999), st.text(max_size=6))
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=20,
).filter(lambda d: isinstance(d, (dict, list)))


@settings(max_examples=150, deadline=None)
@given(DOCUMENTS, st.sampled_from([None, (",", ":"), (", ", ": ")]))
def test_flattening_text_equals_flattening_the_parsed_document(document, separators):
    text = json.dumps(document, indent=None if separators else 2, separators=separators)
    assert flatten_text(text) == flatten(document)


def test_leaf_rendering_and_empty_containers():
    document = {"a": {"b": [1, {"c": None}], "e": {}}, "f": [], "g": "x", "h": True, "i": 1.5}
    assert flatten(document) == {"a.b{}": ["1"], "a.b{}.c": ["null"], "g": ["x"], "h": ["true"], "i": ["1.5"]}


def test_cutoff_keeps_only_leaves_that_end_before_it():
    text = json.dumps({"a": "x" * 10, "b": "y"})
    assert flatten_text(text, cutoff=len(text) - 3) == {"a": ["x" * 10]}


def test_not_json_and_truncated_json():
    assert flatten_text("plain text") == {}
    assert flatten_text('{"a": 1, "b": [2, 3') == {"a": ["1"], "b{}": ["2", "3"]}


def test_spath_paths():
    text = json.dumps({"r": [{"n": "a", "t": [1, 2]}, {"n": "b"}], "o": {"k": "v"}})
    assert spath_values(text, "r{}.n") == ["a", "b"]
    assert spath_values(text, "r{1}.t{}") == ["1", "2"]
    assert spath_values(text, "r{2}") == ['{"n": "b"}']
    assert spath_values(text, "o") == ['{"k": "v"}']
    assert spath_values(text, "r.n") == ["a", "b"]
    assert spath_values(text, "missing") == []
    assert spath_values("not json", "a") == []
