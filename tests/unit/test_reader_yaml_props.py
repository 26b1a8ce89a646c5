"""Property test of the libyaml path's cheap scan: it must flag every document with an anchor.

Runs whether or not PyYAML has libyaml (the scan and the exact event check are plain functions).
Documents come from yaml.safe_dump of structures that share objects, which PyYAML writes with
anchors and aliases, in block, flow and mixed styles. Needs hypothesis; skipped without it.
"""

from __future__ import annotations

import pytest

pytest.importorskip("hypothesis")

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from malicious_image.content import yaml_safe

pytestmark = pytest.mark.runtime

SCALARS = st.one_of(
    st.integers(-3, 3), st.booleans(), st.none(),
    st.text(alphabet="ab *&|-:[]{},'\"#\n", max_size=8),
)


@st.composite
def shared_documents(draw):
    shared = draw(st.one_of(st.lists(SCALARS, min_size=1, max_size=3),
                            st.dictionaries(st.text("xyz", min_size=1, max_size=3), SCALARS, min_size=1)))
    leaves = st.one_of(SCALARS, st.just(shared))
    tree = draw(st.recursive(leaves, lambda kids: st.one_of(
        st.lists(kids, max_size=3),
        st.dictionaries(st.text("abc_", min_size=1, max_size=4), kids, max_size=3),
    ), max_leaves=8))
    doc = {"name": "x", "a": shared, "b": tree, "c": [shared]}
    style = draw(st.sampled_from([None, True, False]))
    width = draw(st.sampled_from([20, 80, 1000]))
    return yaml.safe_dump(doc, default_flow_style=style, width=width).encode()


@settings(max_examples=150, deadline=None)
@given(shared_documents())
def test_every_document_with_an_alias_is_flagged_and_refused(data):
    assert b"*id" in data  # PyYAML wrote an alias for the shared object
    assert yaml_safe._needs_event_check(data)
    with pytest.raises(yaml_safe.YamlError, match="anchors and aliases are not allowed"):
        yaml_safe._check_events(data.decode())
    with pytest.raises(yaml_safe.YamlError, match="anchors and aliases are not allowed"):
        yaml_safe.load_yaml(data)


@pytest.mark.parametrize("text", [
    "&a x\n", "*a\n", "k: &a v\n", "k: !!str &a v\n", "- &a v\n- *a\n", "[&a v, *a]\n",
    "{k: &a v, j: *a}\n", "k:\n  &a\n  v\n", "? &a k\n: v\n", "k:\t&a v\n",
])
def test_anchor_positions_are_flagged(text):
    assert yaml_safe._needs_event_check(text.encode())


def test_real_looking_text_is_mostly_not_flagged():
    assert not yaml_safe._needs_event_check(b"search: '`x` | where a=\"*b*\" | stats count by host'\n")
    assert not yaml_safe._needs_event_check(b"description: a & b, c*d\n")
