"""Every search of the dashboard runs in the replay evaluator over the emulated site and returns
what an analyst should see: the real coverage of the October 2024 content plus the replayed sample."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import jsonschema
import pytest
from datasources import ATTACK_COVERAGE, data_source_spl, default_tokens, run_data_source, substitute
from emulated_site import SITE_DISABLED_APP_RULES, status_event

from devtools.coverage import build_layer, compute_coverage
from devtools.coverage.inputs import read_detections, read_site_searches, read_tactics, read_techniques
from devtools.coverage.model import summary
from devtools.spl import run_search

pytest_plugins = ["dashboard_fixtures"]

NAMES = sorted(json.loads(ATTACK_COVERAGE.read_text(encoding="utf-8"))["dataSources"])
SCHEMA = json.loads((Path(__file__).parent / "navigator_layer_4_5.schema.json").read_text(encoding="utf-8"))


def _fired(site):
    return [e["search_name"] for e in site.events if e.get("index") in ("risk", "notable")]


def _python_coverage(site, **filters):
    from devtools.coverage.model import Filters

    return compute_coverage(
        read_techniques(site.sync_output),
        read_detections(site.sync_output),
        read_site_searches(site.conf_layers),
        _fired(site),
        Filters(**filters),
    )


@pytest.mark.parametrize("name", NAMES)
def test_every_data_source_runs_and_returns_rows(results, name):
    assert results[name], f"{name} returned no rows over the emulated site"


def test_matrix_columns_are_the_synced_tactics_in_attack_order(results, site):
    tactics = read_tactics(site.sync_output)
    assert len(tactics) == 14  # the October 2024 catalogue is ATT&CK v15
    columns = list(results["ds_matrix"][0])
    assert columns == [f"{i:02d} {t}" for i, t in enumerate(tactics, 1)]


def test_matrix_cells_carry_state_id_name_and_counts(results, site):
    cells = [c for row in results["ds_matrix"] for c in row.values()]
    user_execution = [c for c in cells if " T1204 " in c]
    assert user_execution == ["▲ T1204 User Execution [8/46]"]  # fired; sub-technique T1204.003 rolled up
    assert not any(" T1204.003" in c for c in cells), "sub-techniques must roll up into their technique"
    techniques = read_techniques(site.sync_output)
    assert len(cells) == sum(len(t.tactics) for t in techniques)  # every technique under each of its tactics
    glyphs = {c.split(" ", 1)[0] for c in cells}
    assert glyphs == {"▲", "●", "○", "·"}


def test_headline_figures_equal_the_offline_coverage(results, site):
    figures = summary(_python_coverage(site))
    assert int(results["ds_head_enabled"][0]["techniques"]) == figures["enabled"]
    assert int(results["ds_head_available"][0]["techniques"]) == figures["available"]
    assert int(results["ds_head_fired"][0]["techniques"]) == figures["fired"] == 1
    assert int(results["ds_head_total"][0]["techniques"]) == figures["total"] == 202
    assert 0 < figures["enabled"] < figures["available"] < figures["total"]


@pytest.mark.parametrize("filters", [{"status": "deprecated"}, {"platform": "cloud"}, {"story": "Dev Sec Ops"}])
def test_filters_change_the_matrix_as_the_offline_coverage_does(site, definition, filters):
    tokens = {**default_tokens(definition), **filters}
    spl = substitute(data_source_spl(definition, "ds_coverage"), tokens)
    rows = run_search(spl, site.events, site.context)
    by_state = {r["technique_id"]: int(r["state"]) for r in rows}
    python = {c.technique.technique_id: int(c.state) for c in _python_coverage(site, **filters)}
    assert by_state == python
    assert sum(v >= 1 for v in by_state.values()) < 131  # a filter narrows the available content


def test_layer_from_the_dashboard_is_valid_and_matches_the_offline_layer(results, site):
    layer = json.loads(results["ds_layer"][0]["layer"])
    jsonschema.validate(layer, SCHEMA)
    offline = build_layer(_python_coverage(site))
    jsonschema.validate(offline, SCHEMA)
    spl_scores = {t["techniqueID"]: t["score"] for t in layer["techniques"]}
    assert spl_scores == {t["techniqueID"]: t["score"] for t in offline["techniques"]}
    t1204 = next(t for t in layer["techniques"] if t["techniqueID"] == "T1204")
    named = {m["value"] for m in t1204["metadata"] if "value" in m}
    assert "Malicious Image - AWS ECR Container Upload Unknown User - Rule" in named


def test_technique_drilldown_lists_upstream_and_local_detections(results):
    rows = {r["detection"]: r for r in results["ds_technique_detail"]}
    unknown_user = rows["AWS ECR Container Upload Unknown User"]
    assert unknown_user["state"] == "▲ fired" and unknown_user["enabled in"] == "malicious_image"
    assert unknown_user["upstream"] == "production"
    assert unknown_user["disabled in"] == "DA-ESS-ContentUpdate"  # ESCU's copy ships disabled
    assert all(r["upstream"] != "-" or r["enabled in"] != "-" or r["disabled in"] != "-" for r in rows.values())


def test_rules_panel_shows_the_seven_rules_with_runs_notables_and_drift(results, site):
    rows = {r["rule"]: r for r in results["ds_rules"]}
    assert len(rows) == 7
    disabled = {name.removeprefix("Malicious Image - ").removesuffix(" - Rule") for name in SITE_DISABLED_APP_RULES}
    assert {n for n, r in rows.items() if r["enabled"] == "no"} == disabled
    high = rows["AWS ECR Container Scanning Findings High"]
    notables = [
        e
        for e in site.events
        if e.get("index") == "notable"
        and e["search_name"] == "Malicious Image - AWS ECR Container Scanning Findings High - Rule"
    ]
    assert int(high["notables 24 h"]) == int(high["notables 7 d"]) == len(notables) > 0
    assert int(high["results 7 d"]) > 0 and high["last run"] != "never (7 d)"
    assert rows["Correlation by User and Risk"]["last run"] == "never (7 d)"
    for row in rows.values():
        assert row["upstream v"] != "-", f"{row['rule']}: not matched to synced content by detection_id"
        assert row["drift"] in ("same", "upstream newer", "local newer")


def test_cloudtrail_ecr_data_is_reported_present(results):
    rows = {r["eventName"]: r for r in results["ds_ecr_data"]}
    assert set(rows) == {"PutImage", "DescribeImageScanFindings"}
    assert all(r["data"] == "present" and int(r["events_7d"]) > 0 for r in rows.values())


def test_cloudtrail_ecr_data_says_no_data_when_nothing_arrives(definition, site):
    spl = substitute(data_source_spl(definition, "ds_ecr_data"), default_tokens(definition))
    rows = run_search(spl, [e for e in site.events if e.get("sourcetype") != "aws:cloudtrail"], site.context)
    assert {r["eventName"]: r["data"] for r in rows} == {
        "PutImage": "NO DATA",
        "DescribeImageScanFindings": "NO DATA",
    }


def test_sync_health_shows_every_run_and_the_last_outcome(results, site):
    last = {r["field"]: r["value"] for r in results["ds_last_sync"]}
    assert last["outcome"] == "unchanged" and last["commit"] == "b13b314aed0e" and last["detections"] == "1711"
    runs = sum(int(v) for row in results["ds_sync_over_time"] for k, v in row.items() if not k.startswith("_"))
    assert runs == len(site.status_events) == 4
    assert results["ds_sync_rejected"] == [
        {"path": "(none)", "reason": "no file rejected by the syncs of the last 30 days"}
    ]


def test_rejected_files_are_listed_with_their_reasons(definition, site):
    summary_ = {
        "outcome": "updated",
        "commit": "0123456789abcdef",
        "rejected_total": 2,
        "rejected": [
            {"path": "detections/cloud/a.yml", "reason": "not YAML: mapping values are not allowed"},
            {"path": "stories/b.yml", "reason": "story without a name"},
        ],
    }
    events = [status_event(summary_, site.now - 3600)]
    rows = run_search(
        substitute(data_source_spl(definition, "ds_sync_rejected"), default_tokens(definition)),
        events,
        site.context,
    )
    assert {(r["path"], r["reason"]) for r in rows} == {(x["path"], x["reason"]) for x in summary_["rejected"]}


def test_rule_drilldown_shows_its_notables_and_its_search(results):
    assert {r["kind"] for r in results["ds_rule_notables"]} == {"risk"}  # Unknown User is an Anomaly rule
    search = results["ds_rule_search"][0]
    assert search["title"] == "Malicious Image - AWS ECR Container Upload Unknown User - Rule"
    assert "malicious_image_aws_ecr_unknown_pusher" in search["search"]


def test_run_data_source_is_the_chain_of_base_and_post_process(definition, site):
    rows = run_data_source(definition, "ds_head_total", site.events, site.context)
    assert rows == [{"techniques": "202"}]


def test_matrix_follows_a_catalogue_with_attack_v19s_fifteen_tactics(site, definition, tmp_path):
    """ATT&CK v19 splits Defense Evasion into Stealth and Defense Impairment: no dashboard change."""
    v19 = [
        "Reconnaissance",
        "Resource Development",
        "Initial Access",
        "Execution",
        "Persistence",
        "Privilege Escalation",
        "Stealth",
        "Defense Impairment",
        "Credential Access",
        "Discovery",
        "Lateral Movement",
        "Collection",
        "Command and Control",
        "Exfiltration",
        "Impact",
    ]
    moved = {"T1027": "Stealth", "T1562": "Defense Impairment"}
    kvstore = tmp_path / "kvstore"
    kvstore.mkdir()
    for table in ("detections", "stories", "macros"):
        (kvstore / f"malicious_image_{table}.csv").symlink_to((site.sync_output / f"{table}.csv").resolve())
    with open(site.sync_output / "techniques.csv", newline="", encoding="utf-8") as source:
        rows = list(csv.DictReader(source))
    for row in rows:
        parent = row["technique_id"].split(".")[0]
        if "Defense Evasion" in row["tactics"].split("\n"):
            row["tactics"] = moved.get(parent, "Stealth")
    with open(kvstore / "malicious_image_techniques.csv", "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with open(kvstore / "malicious_image_tactics.csv", "w", newline="", encoding="utf-8") as out:
        out.write("tactic,tactic_order\n" + "".join(f"{t},{i}\n" for i, t in enumerate(v19, 1)))
    context = dataclasses.replace(
        site.context, lookups=dataclasses.replace(site.context.lookups, kvstore_dir=kvstore, written={})
    )
    spl = substitute(data_source_spl(definition, "ds_matrix"), default_tokens(definition))
    matrix = run_search(spl, site.events, context)
    assert list(matrix[0]) == [f"{i:02d} {t}" for i, t in enumerate(v19, 1)]
    stealth = [row.get("07 Stealth") for row in matrix if row.get("07 Stealth")]
    impairment = [row.get("08 Defense Impairment") for row in matrix if row.get("08 Defense Impairment")]
    assert any(" T1027 Obfuscated Files or Information" in c for c in stealth)
    assert [c for c in impairment if " T1562 " in c] and len(impairment) == 1
