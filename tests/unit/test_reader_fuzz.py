"""read_member never raises on bad content: any mutation of a real file gives a record or a reason.

Needs hypothesis; skipped without it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("hypothesis")

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from malicious_image.content.reader import read_member

pytestmark = pytest.mark.runtime

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "content"
FILES = []
for _path in sorted(FIXTURES.rglob("*.yml")):
    _era = _path.relative_to(FIXTURES).parts[0]
    FILES.append((_path.relative_to(FIXTURES / _era).as_posix(), yaml.safe_load(_path.read_text("utf-8"))))

VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12),
              st.dates(), st.datetimes()),
    lambda kids: st.one_of(st.lists(kids, max_size=3), st.dictionaries(st.text(max_size=6), kids, max_size=3)),
    max_leaves=6,
)


@st.composite
def mutated_files(draw):
    path, doc = draw(st.sampled_from(FILES))
    doc = dict(doc)
    for _ in range(draw(st.integers(1, 4))):
        if not doc:
            break
        target = doc
        keys = sorted(doc)
        key = draw(st.sampled_from(keys))
        if isinstance(doc[key], dict) and doc[key] and draw(st.booleans()):
            target = doc[key] = dict(doc[key])
            key = draw(st.sampled_from(sorted(target)))
        if draw(st.booleans()):
            target[key] = draw(VALUES)
        else:
            target.pop(key, None)
    return path, yaml.safe_dump(doc).encode()


@settings(max_examples=300, deadline=None)
@given(mutated_files())
def test_read_member_gives_a_record_or_a_reason_never_an_exception(case):
    path, data = case
    result = read_member(path, data)
    assert (result.record is None) != (result.rejection is None)
    if result.rejection is not None:
        assert result.rejection.path == path and result.rejection.reason
