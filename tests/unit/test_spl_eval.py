"""eval and where: expressions, null handling, comparison rules and the function table."""

from __future__ import annotations

import pytest

from devtools.spl import SPLRuntimeError, SPLSyntaxError, UnsupportedSPL
from tests.unit.spl_helpers import NOW, run


def one(expression, **fields):
    """Evaluate ``x=<expression>`` on one row holding ``fields``; returns x (None when null)."""
    assign = " ".join(f'| eval {k}="{v}"' for k, v in fields.items() if not isinstance(v, list))
    rows = run(f"| makeresults {assign} | eval x={expression}")
    return rows[0].get("x")


def where_ids(condition, rows):
    return [r["id"] for r in run(f"* | where {condition}", rows)]


ROWS = [
    {"id": "1", "_time": "3", "s": "Apple", "n": "9"},
    {"id": "2", "_time": "2", "s": "apple", "n": "10"},
    {"id": "3", "_time": "1", "m": ["a", "b"]},
]


def test_where_string_comparison_is_case_sensitive():
    assert where_ids('s="apple"', ROWS) == ["2"]


def test_where_compares_numbers_numerically():
    assert where_ids("n<10", ROWS) == ["1"]
    assert where_ids('n>"9"', ROWS) == ["2"]


def test_where_compares_strings_lexicographically():
    assert where_ids('s<"b"', ROWS) == ["1", "2"]


def test_where_null_field_is_false_both_ways():
    assert where_ids('s="x" OR n>0', ROWS) == ["1", "2"]
    assert where_ids('s!="x"', ROWS) == ["1", "2"]


def test_where_not_of_null_comparison_stays_null():
    assert where_ids('NOT s="Apple"', ROWS) == ["2"]


def test_where_unquoted_right_side_is_a_field():
    assert where_ids("s=apple", ROWS) == []


def test_where_multivalue_matches_any_value():
    assert where_ids('m="b"', ROWS) == ["3"]


def test_and_binds_tighter_than_or_in_where():
    # s="Apple" OR s="apple" AND n=9  ==  s="Apple" OR (s="apple" AND n=9)
    assert where_ids('s="Apple" OR s="apple" AND n=9', ROWS) == ["1"]


def test_xor_is_lowest():
    assert where_ids("n=9 XOR n=9 OR n=10", ROWS) == ["2"]


def test_concatenation_with_dot():
    assert one('"a"."b".1') == "ab1"


def test_concatenation_with_null_is_null():
    assert one('"a".missing') is None


def test_unquoted_dotted_name_is_concatenation():
    rows = run('| makeresults | eval a="x", b="y", \'a.b\'="field" | eval p=a.b, q=\'a.b\'')
    assert (rows[0]["p"], rows[0]["q"]) == ("xy", "field")


def test_arithmetic_and_precedence():
    assert one("1+2*3") == "7"
    assert one("(1+2)*3") == "9"
    assert one("7%3") == "1"
    assert one("7/2") == "3.5"
    assert one("8/2") == "4"
    assert one("-2*3") == "-6"


def test_arithmetic_on_numeric_strings_and_nulls():
    assert one("n+1", n="41") == "42"
    assert one("missing+1") is None
    assert one('"a"+1') is None
    assert one('"a"+"b"') == "ab"
    assert one("1/0") is None


def test_eval_assignments_run_left_to_right():
    rows = run("| makeresults | eval a=1, b=a+1, a=b*10")
    assert (rows[0]["a"], rows[0]["b"]) == ("20", "2")


def test_eval_null_result_removes_the_field():
    rows = run('| makeresults | eval a="x" | eval a=null()')
    assert "a" not in rows[0]


def test_eval_boolean_assignment_is_an_error():
    with pytest.raises(SPLRuntimeError, match="boolean"):
        run("| makeresults | eval a=1>0")


def test_unknown_function_is_unsupported():
    with pytest.raises(UnsupportedSPL, match="nosuch"):
        run("| makeresults | eval a=nosuch(1)")


def test_wrong_arity_is_a_syntax_error():
    with pytest.raises(SPLSyntaxError, match="if"):
        run("| makeresults | eval a=if(1>0, 2)")


def test_if_and_case_treat_null_condition_as_false():
    assert one('if(missing="a", "y", "n")') == "n"
    assert one('case(missing="a", "first", 1=1, "second")') == "second"
    assert one('case(1=2, "never")') is None


def test_coalesce_isnull_isnotnull_nullif():
    assert one('coalesce(missing, "", "b")') == ""
    assert one('if(isnull(missing), "null", "set")') == "null"
    assert one('if(isnotnull(n), "set", "null")', n="1") == "set"
    assert one('nullif("a", "a")') is None
    assert one('nullif("a", "b")') == "a"


def test_isnum_isstr():
    assert one('if(isnum(n), "num", "other")', n="3.5") == "num"
    assert one('if(isstr(s), "str", "other")', s="abc") == "str"
    assert one('if(isstr(n), "str", "other")', n="3") == "other"


def test_like_uses_percent_and_underscore_case_sensitively():
    assert one('if(like("abcd", "a%d"), 1, 0)') == "1"
    assert one('if(like("abcd", "a_cd"), 1, 0)') == "1"
    assert one('if(like("abcd", "A%"), 1, 0)') == "0"
    assert one('if("abcd" LIKE "ab%", 1, 0)') == "1"


def test_match_is_a_regex_search():
    assert one('if(match("image:latest", "late"), 1, 0)') == "1"
    assert one('if(match("image", "^mage"), 1, 0)') == "0"


def test_in_function():
    assert one('if(in("b", "a", "b"), 1, 0)') == "1"
    assert one('if(in("c", "a", "b"), 1, 0)') == "0"


def test_cidrmatch():
    assert one('if(cidrmatch("10.0.0.0/8", "10.2.3.4"), 1, 0)') == "1"
    assert one('if(cidrmatch("10.0.0.0/8", "AWS Internal"), 1, 0)') == "0"


def test_string_functions():
    assert one('len("héllo")') == "5"
    assert one('lower("AbC")') == "abc"
    assert one('upper("AbC")') == "ABC"
    assert one('substr("splunk", 2, 3)') == "plu"
    assert one('substr("splunk", -3)') == "unk"
    assert one('replace("a-b-c", "-", "+")') == "a+b+c"
    assert one('replace("2024-01-02", "(\\d+)-(\\d+)-(\\d+)", "\\3/\\2/\\1")') == "02/01/2024"
    assert one('trim("  x  ")') == "x"
    assert one('ltrim("xxy", "x")') == "y"
    assert one('rtrim("yxx", "x")') == "y"
    assert one('urldecode("a%20b")') == "a b"
    assert one('printf("%s-%d", "a", 5)') == "a-5"


def test_split_and_multivalue_functions():
    rows = run(
        '| makeresults | eval m=split("c,a,b,a", ",") | eval n=mvcount(m), j=mvjoin(m, "|"), '
        'i=mvindex(m, 1), r=mvindex(m, -2, -1), d=mvdedup(m), s=mvsort(m), f=mvfind(m, "^b"), '
        'z=mvzip(m, m, "="), ap=mvappend(m, "z"), flt=mvfilter(m!="a")'
    )
    row = rows[0]
    assert row["m"] == ["c", "a", "b", "a"]
    assert row["n"] == "4"
    assert row["j"] == "c|a|b|a"
    assert row["i"] == "a"
    assert row["r"] == ["b", "a"]
    assert row["d"] == ["c", "a", "b"]
    assert row["s"] == ["a", "a", "b", "c"]
    assert row["f"] == "2"
    assert row["z"] == ["c=c", "a=a", "b=b", "a=a"]
    assert row["ap"] == ["c", "a", "b", "a", "z"]
    assert row["flt"] == ["c", "b"]


def test_mvcount_of_null_is_null():
    assert one("mvcount(missing)") is None


def test_numeric_functions():
    assert one("round(2.5)") == "3"
    assert one("round(-2.5)") == "-3"
    assert one("round(3.14159, 2)") == "3.14"
    assert one("floor(2.7)") == "2"
    assert one("ceil(2.1)") == "3"
    assert one("abs(-4)") == "4"
    assert one("pow(2, 10)") == "1024"
    assert one("sqrt(16)") == "4"
    assert one("min(3, 1, 2)") == "1"
    assert one('max(3, "10", 2)') == "10"
    assert one('max("b", "a")') == "b"


def test_tonumber_and_tostring():
    assert one('tonumber("zz", 16)') is None
    assert one('tonumber("1F", 16)') == "31"
    assert one('tonumber("12.5")') == "12.5"
    assert one('tonumber("abc")') is None
    assert one('tostring(1234567, "commas")') == "1,234,567"
    assert one('tostring(3725, "duration")') == "01:02:05"
    assert one('tostring(90061, "duration")') == "1+01:01:01"
    assert one('tostring(255, "hex")') == "0xff"
    assert one("tostring(1=1)") == "true"


def test_now_and_time_come_from_the_context():
    assert one("now()") == str(int(NOW))
    assert one("time()") == str(int(NOW))


def test_strftime_uses_the_context_time_zone():
    utc = run('| makeresults | eval t=strftime(0, "%Y-%m-%d %H:%M %Z")')[0]["t"]
    paris = run('| makeresults | eval t=strftime(0, "%Y-%m-%d %H:%M %Z")', tz="Europe/Paris")[0]["t"]
    assert (utc, paris) == ("1970-01-01 00:00 UTC", "1970-01-01 01:00 CET")


def test_strptime_reads_in_context_zone_unless_the_text_has_one():
    assert one('strptime("2021-08-18T23:17:30Z", "%Y-%m-%dT%H:%M:%S%z")') == "1629328650"
    rows = run('| makeresults | eval t=strptime("2021-08-18 23:17:30", "%Y-%m-%d %H:%M:%S")', tz="Asia/Tokyo")
    assert rows[0]["t"] == str(1629328650 - 9 * 3600)


def test_relative_time_snaps():
    assert one('relative_time(1700000000, "-1d@d")') == "1699833600"
    assert one('relative_time(1700000000, "@w1")') == "1699833600"


def test_json_extract():
    assert one('json_extract("{\\"a\\": {\\"b\\": [1, 2]}}", "a.b{}")') == "[1, 2]"
    assert one('json_extract("{\\"a\\": {\\"b\\": \\"x\\"}}", "a.b")') == "x"


def test_searchmatch():
    rows = run('| makeresults | eval user="alice" | eval hit=if(searchmatch("user=ALICE"), 1, 0)')
    assert rows[0]["hit"] == "1"


def test_where_requires_a_boolean():
    with pytest.raises(SPLRuntimeError):
        run('| makeresults | where "text"')
