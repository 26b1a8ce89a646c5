"""The dashboard's definition: the shipped view matches its source, Splunk's validators accept it,
every token has a default, and no search reads raw events without a time bound."""

from __future__ import annotations

import json
import re
import subprocess
import xml.etree.ElementTree as ET

import pytest
from browser import HERE, npm_ready
from datasources import ATTACK_COVERAGE, TOKEN, data_source_spl, default_tokens, definition_sources

from devtools import dashboards
from tests.support.paths import ROOT

pytest_plugins = ["dashboard_fixtures"]

VIEWS = ROOT / "app" / "default" / "data" / "ui" / "views"


def test_committed_views_match_their_json_sources():
    expected = dashboards.expected_views()
    assert expected, "no dashboard sources found"
    for path, text in expected.items():
        assert path.is_file(), f"{path} missing: run python3 -m devtools.dashboards"
        assert path.read_text(encoding="utf-8") == text, f"{path} is stale: run python3 -m devtools.dashboards"


def test_view_is_dashboard_studio_version_2_with_the_json_definition():
    root = ET.parse(VIEWS / "attack_coverage.xml").getroot()
    assert root.tag == "dashboard" and root.get("version") == "2" and root.get("theme") in ("dark", "light")
    assert json.loads(root.find("definition").text) == json.loads(ATTACK_COVERAGE.read_text(encoding="utf-8"))
    assert root.find("label").text == "ATT&CK coverage"


def test_wrapping_refuses_text_that_cannot_sit_in_cdata():
    with pytest.raises(dashboards.DashboardSourceError, match="CDATA"):
        dashboards.view_xml(json.dumps({"title": "x", "description": "a]]>b"}), source_name="x.json")


def test_every_token_in_a_search_or_title_has_a_default(definition):
    tokens = default_tokens(definition)
    used = set(TOKEN.findall(json.dumps(definition["dataSources"]) + json.dumps(definition["visualizations"])))
    assert used - set(tokens) == set(), "tokens without a default value: the panel would wait for input"
    set_by_drilldown = {
        t["token"]
        for viz in definition["visualizations"].values()
        for handler in viz.get("eventHandlers", [])
        for t in handler["options"].get("tokens", [])
    }
    assert set_by_drilldown <= set(tokens)


def _event_searches(spl: str) -> list[str]:
    """The pieces of a search that read events: a leading search and every [search ...] subsearch."""
    pieces = []
    if not spl.lstrip().startswith("|"):
        pieces.append(spl.split("\n| ", 1)[0])
    pieces += re.findall(r"\[\s*search\s([^\n]*)", spl)
    return pieces


@pytest.mark.parametrize("name", sorted(json.loads(ATTACK_COVERAGE.read_text(encoding="utf-8"))["dataSources"]))
def test_no_search_reads_events_without_a_time_bound(definition, name):
    spl = data_source_spl(definition, name)
    for piece in _event_searches(spl):
        assert re.search(r"\bearliest=", piece), f"{name}: '{piece[:80]}' reads events with no earliest="
    if name in ("ds_coverage", "ds_matrix"):
        assert "| inputlookup malicious_image_techniques" in spl and "| rest /servicesNS/-/-/saved/searches" in spl


def test_tactics_are_never_hard_coded(definition):
    text = json.dumps(definition)
    for tactic in ("Reconnaissance", "Lateral Movement", "Defense Evasion", "Exfiltration"):
        assert tactic not in text, f"tactic {tactic!r} is written into the dashboard; read it from the lookup"


@pytest.mark.browser
@pytest.mark.skipif(not npm_ready(), reason="run npm ci in tests/dashboard first")
@pytest.mark.parametrize("source", definition_sources(), ids=lambda p: p.name)
def test_splunk_dashboard_validation_accepts_the_definition(source):
    done = subprocess.run(
        ["node", str(HERE / "validate.mjs"), str(source)],
        capture_output=True,
        text=True,
        cwd=HERE,
        timeout=120,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["errors"] == [] and done.returncode == 0


@pytest.mark.browser
@pytest.mark.skipif(not npm_ready(), reason="run npm ci in tests/dashboard first")
def test_splunk_dashboard_validation_rejects_a_broken_definition(tmp_path, definition):
    broken = json.loads(json.dumps(definition))
    broken["layout"]["structure"].append(
        {"item": "viz_missing", "type": "block", "position": {"x": 0, "y": 0, "w": 10, "h": 10}}
    )
    broken["visualizations"]["viz_orphan"] = {"type": "splunk.table", "bogus": 1}
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken), encoding="utf-8")
    done = subprocess.run(
        ["node", str(HERE / "validate.mjs"), str(path)], capture_output=True, text=True, cwd=HERE, timeout=120
    )
    messages = " ".join(e["message"] for e in json.loads(done.stdout.strip().splitlines()[-1])["errors"])
    assert done.returncode == 1
    assert "viz_missing" in messages and "additional properties" in messages


# Event searches allowed on page load, each reading a small, bounded set through an indexed field:
# the sync status events (one per sync run, <= 720 in 30 days at hourly syncs) and the notables and
# risk events of the ONE clicked rule (source = its search name). Everything else reads lookups,
# | rest or | tstats (docs/dashboard.md, "What each panel's search costs").
ALLOWED_EVENT_SEARCHES = {
    "ds_last_sync": 'sourcetype="malicious_image:sync"',
    "ds_sync_over_time": 'sourcetype="malicious_image:sync"',
    "ds_sync_rejected": 'sourcetype="malicious_image:sync"',
    "ds_sync_content": 'sourcetype="malicious_image:sync"',
    "ds_rule_notables": 'source="Malicious Image - $rule$ - Rule"',
}


def _reads_events(piece: str) -> bool:
    return not piece.lstrip().startswith("|")


@pytest.mark.parametrize("name", sorted(json.loads(ATTACK_COVERAGE.read_text(encoding="utf-8"))["dataSources"]))
def test_no_panel_reads_raw_events_except_the_bounded_ones(definition, name):
    spl = data_source_spl(definition, name)
    pieces = _event_searches(spl)
    assert all(_reads_events(p) for p in pieces)
    if name in ALLOWED_EVENT_SEARCHES:
        for piece in pieces:
            assert ALLOWED_EVENT_SEARCHES[name] in piece, f"{name}: {piece[:80]!r} is not the bounded search"
    else:
        assert pieces == [], f"{name} reads raw events on load: {pieces[0][:80]!r}; use tstats or a lookup"
    assert not re.search(r"\bindex=\*", spl.replace("| tstats count max(_time)", "")), f"{name}: index=* search"


def test_the_raw_event_check_can_fail():
    assert _event_searches("index=risk earliest=-7d\n| stats count") == ["index=risk earliest=-7d"]
    assert _event_searches("| inputlookup x\n| append\n    [search index=notable earliest=-1d\n    | stats count]") == [
        "index=notable earliest=-1d"]
    assert _event_searches("| tstats count where index=risk by source") == []


def test_every_rest_call_filters_on_the_server(definition):
    for name in definition["dataSources"]:
        for call in re.findall(r"\| rest [^\n\]]*", definition["dataSources"][name]["options"].get("query", "")):
            assert "count=" in call and "search=" in call and " f=" in call, f"{name}: {call} fetches everything"


def test_colours_use_exact_matches_only(definition):
    """Wildcard matchValue patterns arrived in @splunk/visualizations 26.4.0 (October 2024, its
    CHANGELOG: "adds support of (*) wildcard in DSL MatchValue"), after Splunk 9.3."""
    for viz_id, viz in definition["visualizations"].items():
        for matches in viz.get("context", {}).values():
            if isinstance(matches, list):
                for entry in matches:
                    assert "*" not in str(entry.get("match", "")), f"{viz_id}: wildcard matchValue {entry}"
    assert "matchValue" in json.dumps(definition)


def test_bar_colours_follow_the_state_names(definition):
    bars = definition["visualizations"]["viz_by_tactic"]["options"]
    assert "seriesColors" not in bars
    assert set(bars["seriesColorsByField"]) == {"fed", "blind", "ready", "needs data", "none"}


LAYER_URL = "/en-US/splunkd/__raw/services/malicious_image/attack_layer"


def test_the_layer_is_a_download_link_and_never_a_table_cell(definition):
    """The layer endpoint (restmap.conf + web.conf expose) answers a file: a markdown link to it,
    relative to Splunk Web, is what the dashboard offers; no panel hands the JSON out in a cell."""
    links = {
        viz_id: re.findall(r"\[[^\]]+\]\(([^)\s]+)\)", viz["options"]["markdown"])
        for viz_id, viz in definition["visualizations"].items()
        if viz["type"] == "splunk.markdown"
    }
    assert {viz_id for viz_id, urls in links.items() if LAYER_URL in urls} == {"viz_intro", "viz_layer"}
    for name, source in definition["dataSources"].items():
        query = source["options"].get("query", "")
        assert '\\"techniqueID\\"' not in query and "techniqueID" not in query, f"{name} builds a layer in SPL"
    assert "ds_layer" not in definition["dataSources"]


def test_retired_techniques_panel_reads_the_detections_lookup_at_the_bottom(definition):
    """Issue 10 item 2: a post-process of ds_detections (detections lookup, | rest, tstats; no
    raw events), full width below every other panel, so the regions above do not move."""
    source = definition["dataSources"]["ds_retired_techniques"]
    assert source["type"] == "ds.chain" and source["options"]["extend"] == "ds_detections"
    spl = data_source_spl(definition, "ds_retired_techniques")
    assert "| inputlookup malicious_image_detections" in spl and _event_searches(spl) == []
    assert "ds_retired_techniques" not in ALLOWED_EVENT_SEARCHES
    blocks = {b["item"]: b["position"] for b in definition["layout"]["structure"]}
    panel = blocks.pop("viz_retired_techniques")
    assert panel["x"] == 0 and panel["w"] == definition["layout"]["options"]["width"] and panel["y"] >= 3900
    assert all(p["y"] + p["h"] <= panel["y"] for p in blocks.values())
    assert definition["visualizations"]["viz_retired_techniques"]["title"] == "Coverage of retired ATT&CK techniques"
