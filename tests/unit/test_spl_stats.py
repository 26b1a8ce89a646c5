"""stats, eventstats, streamstats, chart, timechart, xyseries, top, rare."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devtools.spl import UnsupportedSPL
from tests.unit.spl_helpers import run

EVENTS = [
    {"_time": "100", "user": "bob", "repo": "a", "score": "10", "tag": ["x", "y"]},
    {"_time": "200", "user": "alice", "repo": "a", "score": "30"},
    {"_time": "300", "user": "bob", "repo": "b", "score": "5", "tag": "x"},
    {"_time": "400", "repo": "c", "score": "n/a"},
]


def test_stats_by_drops_rows_with_a_null_by_field():
    rows = run("* | stats count by user", EVENTS)
    assert rows == [{"user": "alice", "count": "1"}, {"user": "bob", "count": "2"}]


def test_stats_by_two_fields_drops_row_if_either_is_null():
    rows = run("* | stats count by user, tag", EVENTS)
    assert rows == [{"user": "bob", "tag": "x", "count": "2"}, {"user": "bob", "tag": "y", "count": "1"}]


def test_stats_by_multivalue_counts_the_row_once_per_value():
    rows = run("* | stats count by tag", EVENTS)
    assert rows == [{"tag": "x", "count": "2"}, {"tag": "y", "count": "1"}]


def test_stats_functions():
    rows = run(
        "* | stats count, count(user) as users, dc(user) as dcu, values(user) as vu, list(user) as lu, "
        "min(score) as mn, max(score) as mx, sum(score) as total, avg(score) as mean, range(score) as rg, "
        "earliest(user) as e, latest(user) as l, first(user) as f, last(user) as la",
        EVENTS,
    )
    assert rows == [
        {
            "count": "4",
            "users": "3",
            "dcu": "2",
            "vu": ["alice", "bob"],
            "lu": ["bob", "alice", "bob"],
            "mn": "5",
            "mx": "30",
            "total": "45",
            "mean": "15",
            "rg": "25",
            "e": "bob",
            "l": "bob",
            "f": "bob",
            "la": "bob",
        }
    ]


def test_first_and_last_follow_arrival_order_newest_first():
    rows = run("* | stats first(repo) as f, last(repo) as l, earliest(repo) as e, latest(repo) as t", EVENTS)
    assert rows == [{"f": "c", "l": "a", "e": "a", "t": "c"}]


def test_min_max_lexicographic_when_no_number():
    rows = run("* | stats min(user) as mn, max(user) as mx", EVENTS)
    assert rows == [{"mn": "alice", "mx": "bob"}]


def test_default_result_names():
    rows = run("* | stats dc(user), values(repo), c", EVENTS)
    assert rows == [{"dc(user)": "2", "values(repo)": ["a", "b", "c"], "c": "4"}]


def test_stats_without_by_over_no_rows_gives_count_zero():
    assert run("nothing=here | stats count, max(x) as m", EVENTS) == [{"count": "0"}]


def test_stats_by_over_no_rows_gives_nothing():
    assert run("nothing=here | stats count by user", EVENTS) == []


def test_stats_output_sorted_numbers_before_strings():
    events = [{"_time": "1", "k": v} for v in ("10", "9", "b", "A")]
    assert [r["k"] for r in run("* | stats count by k", events)] == ["9", "10", "A", "b"]


def test_unsupported_stats_function_is_an_error():
    with pytest.raises(UnsupportedSPL, match="perc95"):
        run("* | stats perc95(score)", EVENTS)


def test_eventstats_adds_group_totals_to_each_row():
    rows = run("* | eventstats sum(score) as total by user | table user total", EVENTS)
    assert rows == [
        {},
        {"user": "bob", "total": "15"},
        {"user": "alice", "total": "30"},
        {"user": "bob", "total": "15"},
    ]


def test_streamstats_running_count_by_group():
    rows = run("* | streamstats count as n by repo | table repo n", EVENTS)
    assert rows == [
        {"repo": "c", "n": "1"},
        {"repo": "b", "n": "1"},
        {"repo": "a", "n": "1"},
        {"repo": "a", "n": "2"},
    ]


def test_streamstats_current_false_and_window():
    rows = run("* | streamstats current=f window=2 sum(score) as s | table s", EVENTS)
    assert [r.get("s") for r in rows] == [None, None, "5", "35"]


def test_chart_over_by_fills_zero_counts():
    rows = run("* | chart count over repo by user", EVENTS)
    assert rows == [
        {"repo": "a", "alice": "1", "bob": "1", "NULL": "0"},
        {"repo": "b", "alice": "0", "bob": "1", "NULL": "0"},
        {"repo": "c", "alice": "0", "bob": "0", "NULL": "1"},
    ]


def test_chart_usenull_false_and_limit_other():
    rows = run("* | chart usenull=f limit=1 count over repo by user", EVENTS)
    assert rows == [
        {"repo": "a", "bob": "1", "OTHER": "1"},
        {"repo": "b", "bob": "1", "OTHER": "0"},
        {"repo": "c", "bob": "0", "OTHER": "0"},
    ]


def test_chart_by_one_field_is_stats():
    assert run("* | chart count by repo", EVENTS) == [
        {"repo": "a", "count": "2"},
        {"repo": "b", "count": "1"},
        {"repo": "c", "count": "1"},
    ]


def test_timechart_fills_every_bucket_of_the_range():
    rows = run("* | timechart span=100s count", EVENTS, earliest=0, latest=500)
    assert rows == [
        {"_time": str(t), "count": str(c)} for t, c in [(0, 0), (100, 1), (200, 1), (300, 1), (400, 1)]
    ]


def test_timechart_by_field():
    rows = run("* | timechart span=200s count by user", EVENTS, earliest=0, latest=400)
    # latest is exclusive: the user-less event at 400 is outside, so there is no NULL series
    assert rows == [
        {"_time": "0", "alice": "0", "bob": "1"},
        {"_time": "200", "alice": "1", "bob": "1"},
    ]


def test_xyseries_pivots_rows():
    rows = run("* | stats count by repo, user | xyseries repo user count", EVENTS)
    assert rows == [{"repo": "a", "alice": "1", "bob": "1"}, {"repo": "b", "bob": "1"}]


def test_top_counts_and_percent():
    rows = run("* | top limit=1 user", EVENTS)
    assert rows == [{"user": "bob", "count": "2", "percent": "66.666667"}]


def test_rare_lists_least_common_first():
    rows = run("* | rare showperc=f user", EVENTS)
    assert rows == [{"user": "alice", "count": "1"}, {"user": "bob", "count": "2"}]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "C", "10", "9"])), max_size=30))
def test_stats_count_by_sums_to_the_rows_that_have_the_field(values):
    events = [{"_time": str(i), **({"k": v} if v is not None else {})} for i, v in enumerate(values)]
    rows = run("* | stats count by k", events)
    assert sum(int(r["count"]) for r in rows) == sum(v is not None for v in values)
    assert [r["k"] for r in rows] == sorted(
        {v for v in values if v is not None}, key=lambda v: (0, int(v), "") if v.isdigit() else (1, 0, v)
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=-50, max_value=50), max_size=25))
def test_sort_is_a_numeric_permutation(numbers):
    events = [{"_time": str(i), "n": str(n)} for i, n in enumerate(numbers)]
    assert [int(r["n"]) for r in run("* | sort 0 n", events)] == sorted(numbers)
