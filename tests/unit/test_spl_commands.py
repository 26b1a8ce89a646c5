"""Row-by-row and ordering commands: table, fields, rename, sort, head, tail, dedup, fillnull,
mvexpand, makemv, mvcombine, nomv, spath, rex, bin, convert, addinfo, regex."""

from __future__ import annotations

import json

import pytest

from devtools.spl import SPLSyntaxError, UnsupportedSPL
from tests.unit.spl_helpers import NOW, ids, run

EVENTS = [
    {
        "id": "1",
        "_time": "1",
        "_raw": "r1",
        "n": "10",
        "s": "b",
        "requestParameters.repositoryName": "repo1",
        "requestParameters.imageTag": "v1",
    },
    {"id": "2", "_time": "2", "_raw": "r2", "n": "9", "s": "a", "requestParameters.repositoryName": "repo2"},
    {"id": "3", "_time": "3", "_raw": "r3", "n": "9", "s": "B"},
]


def test_table_keeps_listed_fields_in_order_and_drops_internal_ones():
    rows = run("* | table s id", EVENTS)
    assert rows == [{"s": "B", "id": "3"}, {"s": "a", "id": "2"}, {"s": "b", "id": "1"}]
    assert list(rows[0]) == ["s", "id"]


def test_table_wildcards():
    rows = run("* | table id request*", EVENTS)
    assert rows[2] == {
        "id": "1",
        "requestParameters.repositoryName": "repo1",
        "requestParameters.imageTag": "v1",
    }


def test_fields_keep_retains_internal_fields():
    assert run("* | head 1 | fields id", EVENTS) == [{"id": "3", "_time": "3", "_raw": "r3"}]


def test_fields_minus_removes():
    assert run("* | head 1 | fields - _raw, n, s", EVENTS) == [{"id": "3", "_time": "3"}]


def test_rename_wildcard_maps_the_star_part():
    rows = run("* | rename requestParameters.* as * | table id repositoryName imageTag", EVENTS)
    assert rows == [
        {"id": "3"},
        {"id": "2", "repositoryName": "repo2"},
        {"id": "1", "repositoryName": "repo1", "imageTag": "v1"},
    ]


def test_rename_plain_and_absent_source():
    rows = run("* | rename s AS letter, missing AS n | table id letter n", EVENTS)
    assert rows[0] == {"id": "3", "letter": "B", "n": "9"}


def test_sort_numeric_vs_string_and_descending():
    assert ids(run("* | sort n, s", EVENTS)) == ["3", "2", "1"]
    assert ids(run("* | sort - n", EVENTS)) == ["1", "3", "2"]
    assert ids(run("* | sort -n +s", EVENTS)) == ["1", "3", "2"]
    assert ids(run("* | sort str(n)", EVENTS)) == ["1", "3", "2"]


def test_sort_strings_are_case_sensitive_lexicographic():
    assert ids(run("* | sort s", EVENTS)) == ["3", "2", "1"]


def test_sort_limit_and_missing_values_last():
    events = [*EVENTS, {"id": "4", "_time": "0"}]
    assert ids(run("* | sort 2 n", events)) == ["3", "2"]
    assert ids(run("* | sort 0 n", events)) == ["3", "2", "1", "4"]


def test_head_and_tail():
    assert ids(run("* | head 2", EVENTS)) == ["3", "2"]
    assert ids(run("* | head limit=1", EVENTS)) == ["3"]
    assert ids(run("* | tail 2", EVENTS)) == ["1", "2"]


def test_dedup_keeps_first_and_drops_null_unless_keepempty():
    events = [*EVENTS, {"id": "4", "_time": "0"}]
    assert ids(run("* | dedup n", events)) == ["3", "1"]
    assert ids(run("* | dedup n keepempty=true", events)) == ["3", "1", "4"]
    assert ids(run("* | dedup 2 n", events)) == ["3", "2", "1"]


def test_dedup_consecutive():
    events = [{"id": str(i), "_time": str(10 - i), "v": v} for i, v in enumerate("aaba")]
    assert ids(run("* | dedup v consecutive=true", events)) == ["0", "2", "3"]


def test_fillnull_all_fields_and_value():
    rows = run("* | table id requestParameters.imageTag | fillnull", EVENTS)
    assert [r["requestParameters.imageTag"] for r in rows] == ["0", "0", "v1"]
    rows = run('* | fillnull value="none" missing | table missing', EVENTS)
    assert rows == [{"missing": "none"}] * 3


def test_mvexpand_one_row_per_value_and_drops_rows_without_it():
    rows = run('| makeresults | eval m=split("a,b,c", ","), k="x" | mvexpand m | table m k')
    assert rows == [{"m": "a", "k": "x"}, {"m": "b", "k": "x"}, {"m": "c", "k": "x"}]
    assert run("| makeresults | mvexpand nothing") == []


def test_makemv_and_nomv_and_mvcombine():
    rows = run('| makeresults | eval m="a;b;;c" | makemv delim=";" m | table m')
    assert rows == [{"m": ["a", "b", "c"]}]
    rows = run('| makeresults | eval m="a;b" | makemv delim=";" m | nomv m | table m')
    assert rows == [{"m": "a\nb"}]
    rows = run('| makeresults count=3 | streamstats count as n | eval k="same" | table k n | mvcombine n')
    assert rows == [{"k": "same", "n": ["1", "2", "3"]}]


def test_spath_path_with_array_gives_multivalue():
    raw = json.dumps(
        {"r": {"findings": [{"severity": "HIGH", "name": "a"}, {"severity": "LOW", "name": "b"}]}}
    )
    rows = run("* | spath path=r.findings{}.severity output=sev | table sev", [{"_time": "1", "_raw": raw}])
    assert rows == [{"sev": ["HIGH", "LOW"]}]


def test_spath_input_and_output_of_objects_then_extract_all():
    raw = json.dumps({"r": {"findings": [{"severity": "HIGH", "attributes": [{"key": "k", "value": 1}]}]}})
    rows = run(
        "* | spath path=r.findings{} output=f | mvexpand f | spath input=f | table severity attributes{}.key "
        "attributes{}.value",
        [{"_time": "1", "_raw": raw}],
    )
    assert rows == [{"severity": "HIGH", "attributes{}.key": "k", "attributes{}.value": "1"}]


def test_spath_numeric_index_is_one_based_and_missing_path_sets_nothing():
    raw = json.dumps({"a": [{"b": "first"}, {"b": "second"}]})
    rows = run("* | spath a{2}.b | spath path=nope output=x | table a{2}.b x", [{"_time": "1", "_raw": raw}])
    assert rows == [{"a{2}.b": "second"}]


def test_spath_extract_all_stops_at_extraction_cutoff():
    raw = json.dumps({"early": "x", "padding": "p" * 6000, "late": "y"})
    rows = run("* | spath | table early padding late", [{"_time": "1", "_raw": raw}])
    assert rows == [{"early": "x"}]


def test_rex_named_groups_and_max_match():
    events = [{"_time": "1", "_raw": "user=alice user=bob"}]
    assert run('* | rex "user=(?<u>\\w+)" | table u', events) == [{"u": "alice"}]
    assert run('* | rex max_match=0 "user=(?<u>\\w+)" | table u', events) == [{"u": ["alice", "bob"]}]
    assert run('* | eval f="id-42" | rex field=f "id-(?<num>\\d+)" | table num', events) == [{"num": "42"}]


def test_rex_sed_mode_is_unsupported():
    with pytest.raises(UnsupportedSPL, match="sed"):
        run('* | rex mode=sed "s/a/b/"', EVENTS)


def test_bin_time_span():
    events = [{"_time": "3725"}, {"_time": "7199"}]
    assert run("* | bin _time span=1h | table _time", events) == [{"_time": "3600"}, {"_time": "3600"}]


def test_bin_day_span_aligns_to_local_midnight():
    rows = run("| makeresults | eval _time=1700000000 | bucket _time span=1d | table _time", tz="Asia/Tokyo")
    assert rows == [{"_time": str(1700000000 - (1700000000 + 9 * 3600) % 86400)}]


def test_convert_ctime_with_timeformat_in_user_zone():
    rows = run(
        '| makeresults | eval t=0 | convert timeformat="%Y-%m-%dT%H:%M:%S" ctime(t) AS u | table t u',
        tz="America/New_York",
    )
    assert rows == [{"t": "0", "u": "1969-12-31T19:00:00"}]


def test_convert_mktime_round_trip():
    rows = run('| makeresults | eval t="01/02/2024 03:04:05" | convert mktime(t) | table t')
    assert rows == [{"t": "1704164645"}]


def test_addinfo_reports_the_time_range():
    rows = run(
        "| makeresults | addinfo | table info_min_time info_max_time info_search_time",
        earliest=100,
        latest=200,
    )
    assert rows == [{"info_min_time": "100", "info_max_time": "200", "info_search_time": str(int(NOW))}]


def test_regex_command_filters_on_field():
    assert ids(run('* | regex s="^[a-z]$"', EVENTS)) == ["2", "1"]
    assert ids(run('* | regex s!="^[a-z]$"', EVENTS)) == ["3"]


def test_unknown_option_is_unsupported():
    with pytest.raises(UnsupportedSPL, match="bogus"):
        run("* | head bogus=1", EVENTS)


def test_missing_argument_is_a_syntax_error():
    with pytest.raises(SPLSyntaxError):
        run("* | mvexpand", EVENTS)
