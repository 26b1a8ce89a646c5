"""Shared helpers for the SPL evaluator tests."""

from __future__ import annotations

from devtools.spl import SearchContext, run_search

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z, a Tuesday


def run(spl, events=(), **context):
    """Run a search with a fixed clock; context keywords go to SearchContext."""
    context.setdefault("now", NOW)
    return run_search(spl, [dict(e) for e in events], SearchContext(**context))


def ids(rows):
    """The id field of each row, in order (what most search tests compare)."""
    return [row.get("id") for row in rows]
