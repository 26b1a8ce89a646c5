"""Pipeline parsing, macros, subsearch commands, lookups, rest, and refusal of the unsupported."""

from __future__ import annotations

import pytest

from devtools.conffile import parse_conf
from devtools.spl import (
    LookupError_,
    LookupStore,
    Macro,
    MacroError,
    SPLSyntaxError,
    UnsupportedSPL,
    macros_from_conf,
)
from devtools.spl.lexer import split_pipeline
from tests.unit.spl_helpers import ids, run

EVENTS = [
    {"id": "1", "_time": "1", "user": "alice", "repo": "a"},
    {"id": "2", "_time": "2", "user": "bob", "repo": "b"},
    {"id": "3", "_time": "3", "user": "carol", "repo": "a"},
]


def test_pipes_inside_quotes_and_subsearches_do_not_split():
    stages = split_pipeline('a="x|y" [search b | head 1] | eval c="|" | stats count')
    assert [(s.name, s.body) for s in stages] == [
        ("search", 'a="x|y" [search b | head 1]'),
        ("eval", 'c="|"'),
        ("stats", "count"),
    ]


def test_leading_pipe_starts_with_a_generating_command():
    assert [s.name for s in split_pipeline("| makeresults | eval a=1")] == ["makeresults", "eval"]


def test_empty_stage_is_a_syntax_error():
    with pytest.raises(SPLSyntaxError, match="empty"):
        run("* | | head 1", EVENTS)


def test_unbalanced_quote_is_a_syntax_error():
    with pytest.raises(SPLSyntaxError, match="quote"):
        run('* | eval a="x', EVENTS)


def test_unknown_command_is_unsupported_with_its_position():
    with pytest.raises(UnsupportedSPL, match=r"'frobnicate'.*character 4"):
        run("* | frobnicate x", EVENTS)


def test_data_model_tstats_is_refused():
    with pytest.raises(UnsupportedSPL, match="tstats"):
        run("| tstats count from datamodel=Risk", EVENTS)


def test_non_generating_command_cannot_start_a_search():
    with pytest.raises(SPLSyntaxError, match="cannot start"):
        run("| stats count", EVENTS)


def test_generating_command_in_the_middle_is_an_error():
    with pytest.raises(SPLSyntaxError, match="first command"):
        run("* | makeresults", EVENTS)


def test_macro_without_arguments():
    assert ids(run("`users` | sort id", EVENTS, macros={"users": "user=a*"})) == ["1"]


def test_macro_with_arguments_substitutes_dollar_names():
    macros = {"by_user(2)": Macro("user=$first$ OR user=$second$", ("first", "second"))}
    assert ids(run("`by_user(alice, bob)` | sort id", EVENTS, macros=macros)) == ["1", "2"]


def test_nested_macros_and_conf_stanzas():
    conf = parse_conf(
        '[outer]\ndefinition = `inner("bob")` | `inner_filter`\n\n'
        "[inner(1)]\nargs = name\ndefinition = user=$name$\n\n"
        "[inner_filter]\ndefinition = search *\n"
    )
    assert ids(run("`outer`", EVENTS, macros=macros_from_conf(conf))) == ["2"]


def test_unknown_macro_and_wrong_arity_are_errors():
    with pytest.raises(MacroError, match="`nope`"):
        run("`nope`", EVENTS)
    with pytest.raises(MacroError, match=r"inner\(2\)"):
        run("`inner(a, b)`", EVENTS, macros={"inner(1)": Macro("x=$a$", ("a",))})


def test_recursive_macro_hits_the_depth_limit():
    with pytest.raises(MacroError, match="levels"):
        run("`loop`", EVENTS, macros={"loop": "`loop`"})


def test_iseval_macro_is_unsupported():
    with pytest.raises(UnsupportedSPL, match="iseval"):
        run("`e`", EVENTS, macros={"e": {"definition": "1+1", "iseval": "1"}})


def test_makeresults_count_and_time():
    assert run("| makeresults count=2") == [{"_time": "1700000000"}, {"_time": "1700000000"}]


def test_append_subsearch_rows_after_current():
    rows = run('* | stats count | append [| makeresults | eval count="x" | fields count]', EVENTS)
    assert [r["count"] for r in rows] == ["3", "x"]


def test_appendpipe_runs_over_current_rows():
    rows = run('* | stats count by repo | appendpipe [stats sum(count) as count | eval repo="all"]', EVENTS)
    assert rows == [{"repo": "a", "count": "2"}, {"repo": "b", "count": "1"}, {"repo": "all", "count": "3"}]


def test_join_inner_and_left():
    right = '[| makeresults | eval repo="a", owner="team-a" | fields - _time]'
    assert ids(run(f"* | join repo {right} | sort id", EVENTS)) == ["1", "3"]
    rows = run(f"* | join type=left repo {right} | sort id | table id owner", EVENTS)
    assert rows == [{"id": "1", "owner": "team-a"}, {"id": "2"}, {"id": "3", "owner": "team-a"}]


def test_join_max_limits_matches():
    right = '[| makeresults count=2 | streamstats count as k | eval repo="a" | fields - _time]'
    assert len(run(f"* | join max=0 repo {right}", EVENTS)) == 4
    assert len(run(f"* | join repo {right}", EVENTS)) == 2


def test_return_feeds_a_search():
    rows = run("* [search user=bob | return repo]", EVENTS)
    assert ids(rows) == ["2"]


def test_format_command():
    rows = run('* | where user!="carol" | fields user | format', EVENTS)
    assert rows == [{"search": '( ( user="bob" ) OR ( user="alice" ) )'}]


@pytest.fixture
def lookup_store(tmp_path):
    (tmp_path / "lookups").mkdir()
    (tmp_path / "kv").mkdir()
    (tmp_path / "lookups" / "owners.csv").write_text(
        'repo,owner,tags\na,team-a,"x\ny"\nb,team-b,\na,team-a2,z\n', encoding="utf-8"
    )
    (tmp_path / "kv" / "malicious_image_detections.csv").write_text("id,name\n1,Rule One\n", encoding="utf-8")
    transforms = parse_conf(
        "[owners]\nfilename = owners.csv\n\n"
        "[owners_nocase]\nfilename = owners.csv\ncase_sensitive_match = false\n\n"
        "[detections_lookup]\nexternal_type = kvstore\ncollection = malicious_image_detections\n"
        "fields_list = id, name\n"
    )
    return LookupStore(transforms, lookup_dirs=[tmp_path / "lookups"], kvstore_dir=tmp_path / "kv")


def test_inputlookup_csv_with_multivalue_cells(lookup_store):
    rows = run("| inputlookup owners", lookups=lookup_store)
    assert rows == [
        {"repo": "a", "owner": "team-a", "tags": ["x", "y"]},
        {"repo": "b", "owner": "team-b"},
        {"repo": "a", "owner": "team-a2", "tags": "z"},
    ]


def test_inputlookup_by_file_name_and_where(lookup_store):
    rows = run('| inputlookup owners.csv where repo="b"', lookups=lookup_store)
    assert rows == [{"repo": "b", "owner": "team-b"}]


def test_inputlookup_kvstore_served_from_collection_csv(lookup_store):
    assert run("| inputlookup detections_lookup", lookups=lookup_store) == [{"id": "1", "name": "Rule One"}]


def test_lookup_output_as_with_multiple_matches(lookup_store):
    rows = run("* | lookup owners repo OUTPUT owner AS team | table id team", EVENTS, lookups=lookup_store)
    assert rows == [
        {"id": "3", "team": ["team-a", "team-a2"]},
        {"id": "2", "team": "team-b"},
        {"id": "1", "team": ["team-a", "team-a2"]},
    ]


def test_lookup_match_field_as_and_default_outputs(lookup_store):
    rows = run(
        "* | eval r=repo | lookup owners repo AS r | table id owner tags | head 1",
        EVENTS,
        lookups=lookup_store,
    )
    assert rows == [{"id": "3", "owner": ["team-a", "team-a2"], "tags": ["x", "y", "z"]}]


def test_lookup_is_case_sensitive(lookup_store):
    rows = run('| makeresults | eval repo="A" | lookup owners repo OUTPUT owner | table owner', lookups=lookup_store)
    assert rows == [{}]


def test_lookup_with_case_sensitive_match_false_ignores_case(lookup_store):
    spl = '| makeresults | eval repo="B" | lookup owners_nocase repo OUTPUT owner | table owner'
    assert run(spl, lookups=lookup_store) == [{"owner": "team-b"}]


def test_lookup_outputnew_keeps_existing_values(lookup_store):
    rows = run(
        '| makeresults | eval repo="b", owner="mine" | lookup owners repo OUTPUTNEW owner | table owner',
        lookups=lookup_store,
    )
    assert rows == [{"owner": "mine"}]
    rows = run(
        '| makeresults | eval repo="b", owner="mine" | lookup owners repo OUTPUT owner | table owner',
        lookups=lookup_store,
    )
    assert rows == [{"owner": "team-b"}]


def test_outputlookup_writes_in_memory_then_inputlookup_reads_it(lookup_store):
    rows = run(
        '| makeresults | eval repo="z", owner="new", _hidden="x" | outputlookup owners | inputlookup append=t owners',
        lookups=lookup_store,
    )
    assert rows[1:] == [{"repo": "z", "owner": "new"}]
    assert run("| inputlookup owners", lookups=lookup_store) == [{"repo": "z", "owner": "new"}]


def test_outputlookup_append_and_write_dir(lookup_store, tmp_path):
    lookup_store.write_dir = tmp_path / "out"
    run(
        '| makeresults | eval repo="c", owner="o", tags=split("p,q", ",") | fields - _time '
        "| outputlookup append=true owners",
        lookups=lookup_store,
    )
    text = (tmp_path / "out" / "owners.csv").read_text(encoding="utf-8")
    assert text.splitlines()[-2:] == ['c,o,"p', 'q"']


def test_missing_lookup_is_an_error(lookup_store):
    with pytest.raises(LookupError_, match="nothere"):
        run("| inputlookup nothere", lookups=lookup_store)
    with pytest.raises(LookupError_, match="no lookups"):
        run("| inputlookup owners")


def test_rest_uses_the_provider_and_refuses_without_one():
    calls = []

    def provider(endpoint, options):
        calls.append((endpoint, options))
        return [{"title": "rule", "disabled": "0"}]

    rows = run("| rest /services/saved/searches splunk_server=local count=0 | table title", rest=provider)
    assert rows == [{"title": "rule"}]
    assert calls == [("/services/saved/searches", {"splunk_server": "local", "count": "0"})]
    with pytest.raises(UnsupportedSPL, match="REST provider"):
        run("| rest /services/saved/searches")


def test_triple_backtick_comments_are_removed_everywhere():
    macros = {"users": "user=a* ```only the a-team```"}
    assert ids(run("```find them``` `users` | sort id ```done```", EVENTS, macros=macros)) == ["1"]


def test_kvstore_lookup_falls_back_to_a_csv_named_after_the_definition(tmp_path):
    (tmp_path / "known_pushers.csv").write_text("user,firstTime\nalice,1\n", encoding="utf-8")
    store = LookupStore(
        {"known_pushers": {"external_type": "kvstore", "collection": "c_missing"}}, kvstore_dir=tmp_path
    )
    assert run("| inputlookup known_pushers", lookups=store) == [{"user": "alice", "firstTime": "1"}]


def test_kvstore_lookup_without_a_directory_is_an_error():
    store = LookupStore({"k": {"external_type": "kvstore", "collection": "c"}})
    with pytest.raises(LookupError_, match="KV store"):
        run("| inputlookup k", lookups=store)


def test_lookup_match_type_is_unsupported(tmp_path):
    store = LookupStore({"w": {"filename": "w.csv", "match_type": "WILDCARD(host)"}}, lookup_dirs=[tmp_path])
    with pytest.raises(UnsupportedSPL, match="match_type"):
        run("| inputlookup w", lookups=store)


def test_numbers_and_booleans_in_events_and_rest_rows_become_strings():
    events = [{"_time": 1629328650.5, "n": 3, "ok": True, "m": [1, "a"], "empty": None}]
    assert run("* | table _time n ok m empty", events) == [
        {"_time": "1629328650.5", "n": "3", "ok": "true", "m": ["1", "a"]}
    ]
    rows = run("| rest /x | table disabled count", rest=lambda endpoint, options: [{"disabled": False, "count": 0}])
    assert rows == [{"disabled": "false", "count": "0"}]


def test_not_subsearch_from_a_lookup_excludes_listed_values(tmp_path):
    (tmp_path / "allow.csv").write_text("user\nalice\ncarol\n", encoding="utf-8")
    store = LookupStore({"allow": {"filename": "allow.csv"}}, lookup_dirs=[tmp_path])
    assert ids(run("* NOT [| inputlookup allow | fields user]", EVENTS, lookups=store)) == ["2"]


def test_rest_passes_a_repeated_option_as_a_list():
    seen = []
    run(
        '| rest /services/saved/searches count=0 f=title f=disabled search="disabled=0"',
        rest=lambda endpoint, options: seen.append(options) or [],
    )
    assert seen == [{"count": "0", "f": ["title", "disabled"], "search": "disabled=0"}]
