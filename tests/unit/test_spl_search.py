"""The search command's matching rules (devtools/spl/searchexpr.py)."""

from __future__ import annotations

import pytest

from devtools.spl import SPLSyntaxError, UnsupportedSPL
from tests.unit.spl_helpers import ids, run

EVENTS = [
    {"id": "1", "_time": "10", "_raw": "alpha beta", "a": "x", "b": "1", "sev": "HIGH"},
    {"id": "2", "_time": "20", "_raw": "alpha gamma", "a": "y", "b": "2", "sev": "low"},
    {"id": "3", "_time": "30", "_raw": "delta", "a": "z", "sev": ["LOW", "MEDIUM"]},
    {"id": "4", "_time": "40", "_raw": "alphabet soup", "b": "10"},
]


def test_initial_search_returns_events_newest_first():
    assert ids(run("*", EVENTS)) == ["4", "3", "2", "1"]


def test_implied_and_between_terms():
    assert ids(run("alpha a=x", EVENTS)) == ["1"]


def test_or_binds_tighter_than_implied_and():
    # a=x OR a=z must group first: (a=x OR a=z) AND b=1  -> only event 1
    assert ids(run("a=x OR a=z b=1", EVENTS)) == ["1"]


def test_or_binds_tighter_than_explicit_and():
    assert ids(run("b=1 AND a=x OR a=z", EVENTS)) == ["1"]


def test_parentheses_override_precedence():
    assert ids(run("(a=x b=1) OR a=z", EVENTS)) == ["3", "1"]


def test_not_applies_to_next_term_only():
    # NOT a=x keeps 2, 3, 4; alpha (a whole term: not "alphabet") keeps 1, 2
    assert ids(run("NOT a=x alpha", EVENTS)) == ["2"]


def test_not_with_group():
    assert ids(run("NOT (a=x OR a=y)", EVENTS)) == ["4", "3"]


def test_values_are_case_insensitive():
    assert ids(run("sev=high", EVENTS)) == ["1"]
    assert ids(run("a=X", EVENTS)) == ["1"]


def test_field_names_are_case_sensitive():
    assert run("A=x", EVENTS) == []


def test_wildcards_in_values():
    assert ids(run("sev=L*", EVENTS)) == ["3", "2"]
    assert ids(run("sev=*o*", EVENTS)) == ["3", "2"]


def test_field_star_means_field_exists():
    assert ids(run("a=*", EVENTS)) == ["3", "2", "1"]


def test_multivalue_field_matches_if_any_value_matches():
    assert ids(run("sev=medium", EVENTS)) == ["3"]


def test_not_equal_excludes_events_without_the_field():
    assert ids(run("a!=x", EVENTS)) == ["3", "2"]


def test_not_field_equal_includes_events_without_the_field():
    assert ids(run("NOT a=x", EVENTS)) == ["4", "3", "2"]


def test_not_equal_on_multivalue_requires_no_value_to_match():
    assert ids(run("sev!=low", EVENTS)) == ["1"]


def test_in_list():
    assert ids(run("a IN (x, z)", EVENTS)) == ["3", "1"]
    assert ids(run('sev IN ("medium", "hi*")', EVENTS)) == ["3", "1"]


def test_not_in_list_includes_missing_field():
    assert ids(run("NOT a IN (x, z)", EVENTS)) == ["4", "2"]


def test_numeric_comparison_when_both_numbers():
    assert ids(run("b>=2", EVENTS)) == ["4", "2"]
    assert ids(run("b<2", EVENTS)) == ["1"]


def test_lexicographic_comparison_for_strings():
    assert ids(run("a>x", EVENTS)) == ["3", "2"]


def test_bare_term_matches_raw_at_term_boundaries():
    assert ids(run("alpha", EVENTS)) == ["2", "1"]
    assert ids(run("alpha*", EVENTS)) == ["4", "2", "1"]


def test_bare_term_is_case_insensitive():
    assert ids(run("DELTA", EVENTS)) == ["3"]


def test_quoted_phrase_matches_raw():
    assert ids(run('"alpha gamma"', EVENTS)) == ["2"]


def test_lowercase_or_is_a_term_not_an_operator():
    assert run("a=x or a=y", EVENTS) == []


def test_bare_term_without_raw_matches_any_field_value():
    rows = run('| makeresults count=1 | eval x="hello world" | search world')
    assert [r["x"] for r in rows] == ["hello world"]


def test_search_later_in_pipeline_filters_rows():
    assert ids(run("* | search b=1 OR b=10", EVENTS)) == ["4", "1"]


def test_search_keyword_at_start_is_optional():
    assert ids(run("search a=y", EVENTS)) == ["2"]


def test_earliest_latest_time_modifiers():
    events = [{"id": str(i), "_time": str(1_700_000_000 - i * 3600)} for i in range(5)]
    # earliest is inclusive, latest exclusive: the event at exactly "now" is out
    assert ids(run("earliest=-2h latest=now", events)) == ["1", "2"]


def test_context_time_range_limits_initial_search():
    assert ids(run("*", EVENTS, earliest=20, latest=40)) == ["3", "2"]


def test_default_indexes_apply_when_search_names_no_index():
    events = [{"id": "m", "_time": "1", "index": "main"}, {"id": "s", "_time": "2", "index": "summary"}]
    assert ids(run("*", events, indexes=["main"])) == ["m"]
    assert ids(run("index=summary", events, indexes=["main"])) == ["s"]


def test_unbalanced_parenthesis_is_a_syntax_error():
    with pytest.raises(SPLSyntaxError):
        run("(a=x", EVENTS)
    with pytest.raises(SPLSyntaxError):
        run("a=x)", EVENTS)


def test_dangling_or_is_a_syntax_error():
    with pytest.raises(SPLSyntaxError):
        run("a=x OR", EVENTS)


def test_term_directive_is_unsupported_not_ignored():
    with pytest.raises(UnsupportedSPL, match="TERM"):
        run("TERM(alpha)", EVENTS)


def test_subsearch_results_become_an_or_of_field_values():
    rows = run("a=* [search b=2 OR b=10 | fields a]", EVENTS)
    assert ids(rows) == ["2"]


def test_subsearch_with_several_fields_ands_them():
    rows = run("* [search id=1 | fields a b]", EVENTS)
    assert ids(rows) == ["1"]


def test_empty_subsearch_gives_not_empty_group_matching_everything():
    rows = run("a=* [search a=nothing | fields a]", EVENTS)
    assert ids(rows) == ["3", "2", "1"]


def test_subsearch_search_field_is_spliced_raw():
    rows = run('* [| makeresults | eval search="a=x OR a=y" | fields search]', EVENTS)
    assert ids(rows) == ["2", "1"]


def test_star_matches_rows_without_any_field():
    assert run("| makeresults | fields - _time | search *") == [{}]


def test_wildcard_term_does_not_cross_whitespace():
    assert ids(run("alp*soup", EVENTS)) == []
    assert ids(run("alp*bet", EVENTS)) == ["4"]
