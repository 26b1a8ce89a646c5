"""Shared parts of the kill -9 campaigns: two small synthetic generations and exact row sets.

Each campaign syncs a small synthetic content set (``tests/synthetic_content.py``: 50 detections,
two variants that differ in content) back and forth, kills the sync at random points, and checks
every table against the rows an uninterrupted sync of either generation wrote: as multisets of
whole rows, not counts.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Dict, Mapping, Sequence, Tuple

import pytest

from malicious_image.sync.tables import TABLE_NAMES
from tests.synthetic_content import OCTOBER_2024, small_generation, write_tarball

TABLES = TABLE_NAMES
RowSet = Tuple[Tuple[str, int], ...]  # sorted (canonical row, count) pairs: a multiset of rows


def generations(folder: Path) -> Dict[str, Tuple[Path, str]]:
    """Write the two synthetic generations: ``{"a": (tarball, commit), "b": (tarball, commit)}``."""
    if not OCTOBER_2024.exists():
        pytest.skip(f"the synthetic content is cut from {OCTOBER_2024}, which is missing")
    folder.mkdir(parents=True, exist_ok=True)
    return {v: write_tarball(folder / f"gen_{v}.tar.gz", small_generation(v), f"crash-generation-{v}") for v in "ab"}


def row_set(rows: Sequence[Mapping[str, Any]], drop: Sequence[str] = ()) -> RowSet:
    """The multiset of ``rows`` (fields in ``drop`` left out; lists and tuples alike)."""
    plain = ({k: (list(v) if isinstance(v, tuple) else v) for k, v in row.items() if k not in drop} for row in rows)
    canonical = (json.dumps(row, sort_keys=True) for row in plain)
    return tuple(sorted(Counter(canonical).items()))


def which_generation(found: Mapping[str, RowSet], expected: Mapping[str, Mapping[str, RowSet]]) -> Dict[str, str]:
    """For each table, the generation whose rows it holds exactly; fails on any other content."""
    matched = {}
    for table in TABLES:
        names = [name for name, tables in expected.items() if tables[table] == found[table]]
        rows = sum(c for _, c in found[table])
        assert names, f"{table} is neither generation: {rows} rows that match no complete sync"
        matched[table] = names[0]
    return matched


def assert_generations_differ(expected: Mapping[str, Mapping[str, RowSet]]) -> None:
    """The two reference generations differ in every table (a check that can tell them apart)."""
    a, b = expected["a"], expected["b"]
    for table in TABLES:
        assert a[table] != b[table], f"{table}: both generations hold the same rows"
        assert a[table], f"{table}: the reference generation is empty"
