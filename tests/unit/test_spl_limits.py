"""The limits.conf defaults the evaluator applies (docs/spl-evaluator.md, "Limits a real Splunk applies")."""

from __future__ import annotations

from devtools.spl import SearchContext, SearchLimits, run_search


def test_subsearch_is_finalized_at_maxtime_with_its_rows_so_far():
    search = "| makeresults count=1 | append [| makeresults count=3 | eval x=1 | where x=2]"
    assert len(run_search(search, [], SearchContext())) == 1  # the where drops all three
    rushed = SearchContext(limits=SearchLimits(subsearch_maxtime=-1.0))
    assert len(run_search(search, [], rushed)) == 4  # finalized before the where ran


def test_append_and_join_take_at_most_join_maxout_rows():
    small = SearchContext(limits=SearchLimits(join_maxout=2))
    assert len(run_search("| makeresults count=1 | append [| makeresults count=5]", [], small)) == 3
    joined = run_search(
        "| makeresults count=1 | eval k=1 | join max=0 k [| makeresults count=5 | eval k=1, n=1]", [], small
    )
    assert len(joined) == 2


def test_search_subsearch_returns_at_most_maxout_rows():
    events = [{"_time": float(n), "n": str(n), "_raw": f"n={n}"} for n in range(5)]
    small = SearchContext(limits=SearchLimits(subsearch_maxout=2))
    rows = run_search("search [search n=* | sort 0 n | fields n]", events, small)
    assert sorted(row["n"] for row in rows) == ["0", "1"]
    assert len(run_search("search [search n=* | fields n]", events, SearchContext())) == 5


def test_defaults_are_limits_conf_defaults():
    limits = SearchLimits()
    assert (limits.mvexpand_max_mem_mb, limits.subsearch_maxtime, limits.subsearch_maxout, limits.join_maxout) == (
        500.0,
        60.0,
        10000,
        50000,
    )
