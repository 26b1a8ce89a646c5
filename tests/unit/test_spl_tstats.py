"""tstats in the evaluator: indexed fields only, as Splunk's tsidx answers it (devtools/spl/commands/tstats.py)."""

from __future__ import annotations

import pytest

from devtools.spl import SearchContext, SPLSyntaxError, UnsupportedSPL, run_search

NOW = 100_000.0
EVENTS = [
    {"_time": str(NOW - 60), "index": "risk", "sourcetype": "stash", "source": "Rule A", "host": "sh1", "user": "x"},
    {"_time": str(NOW - 120), "index": "risk", "sourcetype": "stash", "source": "Rule A", "host": "sh1", "user": "y"},
    {"_time": str(NOW - 90_000), "index": "risk", "sourcetype": "stash", "source": "Rule B", "host": "sh1"},
    {"_time": str(NOW - 30), "index": "main", "sourcetype": "aws:cloudtrail", "source": "s3", "host": "h",
     "eventName": "PutImage"},
    {"_time": str(NOW - 30), "index": "_internal", "sourcetype": "scheduler", "source": "scheduler.log", "host": "h"},
]


def run(spl: str) -> list:
    return run_search(spl, EVENTS, SearchContext(now=NOW))


def test_counts_by_an_indexed_field_within_the_time_bound():
    rows = run("| tstats count max(_time) as last where index=risk earliest=-1d by source")
    assert rows == [{"source": "Rule A", "count": "2", "last": str(int(NOW - 60))}]


def test_index_star_skips_internal_indexes_and_bare_count_counts_events():
    assert run("| tstats count where index=* by sourcetype") == [
        {"sourcetype": "aws:cloudtrail", "count": "1"},
        {"sourcetype": "stash", "count": "3"},
    ]


def test_an_in_list_and_an_or_of_indexes_work():
    rows = run('| tstats count where (index=risk OR index=main) sourcetype IN ("stash", "x") by index')
    assert rows == [{"index": "risk", "count": "3"}]


@pytest.mark.parametrize(
    "spl, message",
    [
        ("| tstats count where index=main eventName=PutImage", "eventName"),
        ("| tstats count where index=* by eventName", "eventName"),
        ("| tstats dc(user) as users where index=risk", "user"),
        ("| tstats count where index=main PutImage", "free-text"),
        ("| tstats count from datamodel=Risk", "data models"),
        ("| tstats prestats=t count where index=risk", "prestats"),
    ],
)
def test_what_tsidx_cannot_answer_is_refused(spl, message):
    with pytest.raises(UnsupportedSPL, match=message):
        run(spl)


def test_tstats_must_come_first():
    with pytest.raises(SPLSyntaxError):
        run("| makeresults | tstats count")
