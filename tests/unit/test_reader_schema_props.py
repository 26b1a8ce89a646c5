"""Property test: the compiled fast path of schema.py is never laxer than Draft7Validator.

Needs hypothesis (a dev dependency); skipped where it is not installed.
"""

from __future__ import annotations

import pytest

pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from malicious_image.content import schema
from tests.unit.test_reader_schema import DOCS, VALIDATORS

pytestmark = pytest.mark.runtime

# Values that probe every keyword: wrong types, bools posing as ints, floats, empty text, text
# with a trailing newline (which a ^...$ pattern accepts), NaN, out-of-range numbers.
ODD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 205), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "x", "T1204", "T1204.003", "T1204.003\n", "t1204", "removed", "production",
                     "5b0f5c1e-7d43-4c1a-9a57-2f3b8e6d9c10", "5b0f5c1e-7d43-4c1a-9a57-2f3b8e6d9c10\n",
                     "2022-03-14", "2022-3-14", "A", "C2", "user", "a b", "fixture_ctime(1)"]),
    st.lists(st.sampled_from(["", "x", "T1204", 3]), max_size=3),
    st.just({}), st.just({"field": "user", "type": "user", "score": 50}),
    st.just({"field": "", "type": "user", "score": 50}), st.just({"field": "dest", "type": "system"}),
    st.just([{"field": "user", "type": "user", "score": 150}]),
    st.just([{"field": "user", "type": "user", "score": 50.0}]),
    st.just([{"field": "user", "type": "user", "score": True}]),
)


@st.composite
def mutated(draw):
    """A real canonical record with a few fields replaced, deleted or added."""
    kind, doc = draw(st.sampled_from(DOCS))
    doc = dict(doc)
    keys = sorted(doc)
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        key = draw(st.sampled_from(keys))
        if action == "replace":
            doc[key] = draw(ODD_VALUES)
        elif action == "delete":
            doc.pop(key, None)
        else:
            doc["extra_" + key] = draw(ODD_VALUES)
    return kind, doc


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_fast_path_agrees_with_draft7validator(case):
    kind, doc = case
    valid = VALIDATORS[kind].is_valid(doc)
    event("valid" if valid else "invalid")
    fast = schema._FAST[kind](doc)
    # never laxer (that would let a bad record through); in practice exactly the same
    assert fast == valid, doc
    reason = schema.check(kind, doc)
    assert (reason is None) == valid
    if reason is not None:
        assert reason.startswith(("field '", "the record")) and len(reason) < 200
