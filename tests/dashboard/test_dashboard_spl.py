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
from emulated_site import INVENTORY_SEARCH, MODES, SITE_DISABLED_APP_RULES, status_event

from devtools.coverage import compute_coverage
from devtools.coverage.inputs import (
    read_detections,
    read_saved_searches,
    read_site_searches,
    read_tactics,
    read_techniques,
)
from devtools.coverage.model import detection_name
from devtools.coverage.visibility import Visibility, blind_rules, ready_to_enable, site_visibility
from devtools.spl import run_search
from devtools.spl.lookups import read_csv

pytest_plugins = ["dashboard_fixtures"]

NAMES = sorted(json.loads(ATTACK_COVERAGE.read_text(encoding="utf-8"))["dataSources"])
SCHEMA = json.loads((Path(__file__).parent / "navigator_layer_4_5.schema.json").read_text(encoding="utf-8"))


TACTIC_ORDER_MARK = "\u2060"  # invisible word joiners before a tactic name: chart sorts columns by name


def _fired(site):
    notable_index, risk_index = MODES[site.mode]
    return [e["search_name"] for e in site.events if e.get("index") in (risk_index, notable_index)]


def _python_coverage(site, **filters):
    from devtools.coverage.model import Filters

    return compute_coverage(
        read_techniques(site.sync_output),
        read_detections(site.sync_output),
        read_site_searches(site.conf_layers),
        _fired(site),
        Filters(**filters),
    )


def _python_visibility(site):
    enabled = {}
    for search in read_site_searches(site.conf_layers):
        if search.enabled:
            enabled.setdefault(detection_name(search.title), []).extend(search.technique_ids)
    return site_visibility(
        read_csv(site.sync_output / "detections.csv"),
        read_csv(site.sync_output / "data_sources.csv"),
        site.context.lookups.written["malicious_image_data_inventory"],
        enabled,
        [detection_name(name) for name in _fired(site)],
    )


def _tactic_columns(row):
    return [c.lstrip(TACTIC_ORDER_MARK) for c in row if not c.startswith("_")]


@pytest.mark.parametrize("name", NAMES)
def test_every_data_source_runs_and_returns_rows(results, name):
    assert results[name], f"{name} returned no rows over the emulated site"


def test_matrix_columns_are_the_synced_tactics_in_attack_order(results, site):
    tactics = read_tactics(site.sync_output)
    assert len(tactics) == 14  # the October 2024 catalogue is ATT&CK v15
    first = results["ds_matrix"][0]
    assert _tactic_columns(first) == tactics  # headers read as tactic names: no NN prefix
    # the first row names the tactics (the table's own header row is hidden: its sort icon left
    # "Reconnaissance" too little width and the name broke mid-word), in a state of its own
    assert [first[c] for c in first if not c.startswith("_")] == tactics
    assert [first[f"_s{i:02d}"] for i in range(1, 21)] == ["tactic"] * 14 + ["none"] * 6
    assert list(first)[:20] == [f"_s{i:02d}" for i in range(1, 21)]  # hidden state columns first


def test_matrix_cells_carry_own_state_subtechnique_counts_and_activity(results, site):
    rows = results["ds_matrix"]
    cells, states = [], []
    visible = [k for k in rows[0] if not k.startswith("_")]  # the first row has every column
    for row in rows[1:]:  # the first row is the tactic names
        for position, column in enumerate(visible, 1):
            if row.get(column):
                cells.append(row[column])
                states.append(row[f"_s{position:02d}"])
    user_execution = [c for c in cells if " T1204 " in c]
    # the app's rules are annotated T1204 and T1204.003: T1204 is fed and fired on its own mapping
    assert user_execution == ["● T1204 User Execution (sub 1/3) ▲"]
    assert not any(" T1204.003" in c for c in cells), "the matrix cells are parent techniques"
    techniques = read_techniques(site.sync_output)
    assert len(cells) == sum(len(t.tactics) for t in techniques)  # every technique under each of its tactics
    glyph_state = {"●": "fed", "◐": "blind", "○": "ready", "◌": "needs data", "·": "none"}
    assert all(glyph_state[c.split(" ", 1)[0]] == s for c, s in zip(cells, states))
    assert set(states) == set(glyph_state.values())  # every visibility state at least once
    assert any(c.endswith(" ▲") for c in cells)


def test_every_detection_has_the_visibility_the_python_model_gives(results, site):
    spl = {r["detection"]: r["visibility"] for r in results["ds_detections"]}
    python = {name: d.state.value for name, d in _python_visibility(site).items()}
    assert spl == python
    assert set(spl.values()) == {v.value for v in Visibility}


def test_ready_and_blind_lists_are_filled_and_match_the_model(results, site):
    model = [d for d in _python_visibility(site).values()]
    detections = {r["detection"]: r for r in results["ds_detections"]}
    kept = [d for d in model if detections[d.name]["retired"] == "0" or d.enabled]  # default filter
    ready = {r.name: len(r.adds) for r in ready_to_enable(kept)}
    assert {r["detection"]: int(r["adds techniques"]) for r in results["ds_ready"]} == ready
    assert len(ready) > 0
    blind = {d.name for d in blind_rules(kept)}
    listed = {detection_name(r["rule"].split(", ")[0]) for r in results["ds_blind"]}
    assert listed == blind and len(blind) > 0
    assert int(results["ds_head_blind"][0]["rules"]) == len(blind)
    assert int(results["ds_head_ready"][0]["detections"]) == len(ready)


def test_headline_figures_count_techniques_and_subtechniques_separately(results, site):
    coverage = results["ds_coverage"]
    parents = [r for r in coverage if r["is_subtechnique"] == "0"]
    subs = [r for r in coverage if r["is_subtechnique"] == "1"]
    assert results["ds_head_techniques"][0] == {
        "fed": str(sum(r["state"] == "fed" for r in parents)), "total": "202", "label": "of 202 techniques"}
    assert results["ds_head_subtechniques"][0]["total"] == str(len(subs)) == "435"
    assert 0 < int(results["ds_head_subtechniques"][0]["fed"]) < len(subs)


def test_subtechnique_view_gives_t1204_003_its_own_state(results):
    rows = {r["sub-technique"]: r for r in results["ds_subtechniques"]}
    assert set(rows) == {"T1204.001", "T1204.002", "T1204.003"}
    assert rows["T1204.003"]["state"] == "fed" and rows["T1204.003"]["activity"] == "fired (7 d)"
    assert rows["T1204.002"]["state"] != "fed"


def _rolled_up_scores(coverage_rows):
    """Parent technique -> 3 fired, 2 enabled, 1 available, 0 none over its family (the offline
    coverage's roll-up), from the rows of ``ds_coverage``."""
    best = {}
    for row in coverage_rows:
        score = 3 if int(row["fired"]) else 2 if int(row["enabled"]) else 1 if int(row["available"]) else 0
        best[row["parent"]] = max(best.get(row["parent"], 0), score)
    return best


@pytest.mark.parametrize("filters", [{"status": "production"}, {"platform": "cloud"}, {"story": "Dev Sec Ops"}])
def test_filters_change_the_matrix_as_the_offline_coverage_does(site, definition, filters):
    tokens = {**default_tokens(definition), **filters}
    rows = run_search(substitute(data_source_spl(definition, "ds_coverage"), tokens), site.events, site.context)
    by_state = _rolled_up_scores(rows)
    python = {c.technique.technique_id: int(c.state) for c in _python_coverage(site, **filters)}
    assert by_state == python
    assert sum(v >= 1 for v in by_state.values()) < 131  # a filter narrows the available content


def test_retired_content_is_left_out_of_available_unless_shown(site, definition):
    def available(retired):
        tokens = {**default_tokens(definition), "retired": retired}
        rows = run_search(substitute(data_source_spl(definition, "ds_coverage"), tokens), site.events, site.context)
        return sum(int(r["available"]) for r in rows)

    assert default_tokens(definition)["retired"] == "0"
    assert available("0") < available("1")


def _download_layer(site):
    """The layer the dashboard's download link serves (layer_handler.py), built from this site's
    synced tables and its enabled annotated saved searches, as the handler builds it."""
    from malicious_image.layer_handler import _TECHNIQUE_ID
    from malicious_image.navigator import layer_from_tables

    enabled = []
    for search in site.context.rest("/servicesNS/-/-/saved/searches", {"search": "is_scheduled=1"}):
        annotations = json.loads(search.get("action.correlationsearch.annotations") or "{}")
        if search["disabled"] == "0" and annotations.get("mitre_attack"):
            enabled.append((search["title"], _TECHNIQUE_ID.findall(" ".join(annotations["mitre_attack"]))))
    tables = {t: read_csv(site.sync_output / f"{t}.csv") for t in ("techniques", "tactics", "detections")}
    return layer_from_tables(tables["techniques"], tables["tactics"], tables["detections"], enabled=enabled)


def test_the_downloaded_layer_has_every_technique_and_subtechnique_of_the_dashboard(results, site):
    layer = _download_layer(site)
    jsonschema.validate(layer, SCHEMA)
    scores = {}
    for entry in layer["techniques"]:
        scores.setdefault(entry["techniqueID"], set()).add(entry["score"])
    assert set(scores) == {r["technique_id"] for r in results["ds_coverage"]}  # 202 + 435, no roll-up
    # T1204.003's own entry: enabled (the download has no fired state); its parent has its own score
    assert scores["T1204.003"] == {2} and scores["T1204"] == {2}
    coverage = {r["technique_id"]: r for r in results["ds_coverage"]}
    assert coverage["T1204.003"]["state"] == "fed" and coverage["T1204.002"]["state"] != "fed"


def test_technique_detail_lists_detections_with_their_technique_ids_and_states(results):
    rows = {r["detection"]: r for r in results["ds_technique_detail"]}
    unknown_user = rows["AWS ECR Container Upload Unknown User"]
    assert unknown_user["state"] == "fed" and unknown_user["app"] == "malicious_image"
    assert unknown_user["technique ids"] == ["T1204", "T1204.003"] and unknown_user["activity"].startswith("fired")
    assert {r["state"] for r in rows.values()} <= {v.value for v in Visibility}
    assert all(any(t.startswith("T1204") for t in (r["technique ids"] if isinstance(r["technique ids"], list)
                                                    else [r["technique ids"]])) for r in rows.values())


def test_rules_panel_shows_the_seven_rules_with_runs_notables_and_drift(results, site):
    rows = {r["rule"]: r for r in results["ds_rules"]}
    assert len(rows) == 7
    disabled = {name.removeprefix("Malicious Image - ").removesuffix(" - Rule") for name in SITE_DISABLED_APP_RULES}
    assert {n for n, r in rows.items() if r["enabled"] == "no"} == disabled
    high = rows["AWS ECR Container Scanning Findings High"]
    notables = [
        e
        for e in site.events
        if e.get("index") == MODES[site.mode][0]
        and e["search_name"] == "Malicious Image - AWS ECR Container Scanning Findings High - Rule"
    ]
    assert int(high["notables 24 h"]) == int(high["notables 7 d"]) == len(notables) > 0
    assert int(high["results 7 d"]) > 0 and high["last run"] != "never (7 d)"
    assert rows["Correlation by User and Risk"]["last run"] == "never (7 d)"
    for row in rows.values():
        assert row["upstream v"] != "-", f"{row['rule']}: not matched to synced content by detection_id"
        assert row["drift"] in ("same", "upstream newer", "local newer")
    assert rows["AWS ECR Container Scanning Findings High"]["data"] == "seen (7 d)"
    assert {r["state"] for r in rows.values()} == {"fed", "ready"}  # the disabled correlation is ready


def test_cloudtrail_ecr_data_is_reported_present(results):
    rows = {r["eventName"]: r for r in results["ds_ecr_data"]}
    assert set(rows) == {"PutImage", "DescribeImageScanFindings"}
    assert all(r["data"] == "present" and r["last_seen"] != "-" for r in rows.values())


def _without_describe_events(site):
    """The site's events and a fresh inventory, as if the add-on dropped Describe* CloudTrail events."""
    events = [e for e in site.events if e.get("eventName") != "DescribeImageScanFindings"]
    context = dataclasses.replace(site.context, lookups=dataclasses.replace(site.context.lookups, written={}))
    saved = read_saved_searches(site.conf_layers)[("malicious_image", INVENTORY_SEARCH)]
    run_search(saved["search"], events, context)
    return events, context


def test_scanning_rules_blind_when_describe_events_never_arrive(definition, site):
    events, context = _without_describe_events(site)
    tokens = default_tokens(definition)
    ecr = run_search(substitute(data_source_spl(definition, "ds_ecr_data"), tokens), events, context)
    assert {r["eventName"]: r["data"] for r in ecr} == {
        "PutImage": "present", "DescribeImageScanFindings": "scanning rules blind"}
    rules = {r["rule"]: r["data"] for r in run_search(substitute(data_source_spl(definition, "ds_rules"), tokens),
                                                      events, context)}
    assert rules["AWS ECR Container Scanning Findings High"] == "scanning rules blind"
    states = {r["rule"]: r["state"] for r in run_search(
        substitute(data_source_spl(definition, "ds_rules"), tokens), events, context)}
    assert states["AWS ECR Container Scanning Findings High"] == "blind"
    assert states["AWS ECR Container Upload Unknown User"] == "fed"
    assert rules["AWS ECR Container Upload Unknown User"] == "seen (7 d)"
    blind = run_search(substitute(data_source_spl(definition, "ds_blind"), tokens), events, context)
    assert "Malicious Image - AWS ECR Container Scanning Findings High - Rule" in {r["rule"] for r in blind}


def test_cloudtrail_ecr_data_says_no_data_when_nothing_arrives(definition, site):
    events = [e for e in site.events if e.get("sourcetype") != "aws:cloudtrail"]
    context = dataclasses.replace(site.context, lookups=dataclasses.replace(site.context.lookups, written={}))
    run_search(read_saved_searches(site.conf_layers)[("malicious_image", INVENTORY_SEARCH)]["search"], events, context)
    rows = run_search(substitute(data_source_spl(definition, "ds_ecr_data"), default_tokens(definition)), events,
                      context)
    assert {r["eventName"]: r["data"] for r in rows} == {"PutImage": "NO DATA", "DescribeImageScanFindings": "NO DATA"}


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
    assert all(r["risk_object"] for r in results["ds_rule_notables"])
    search = results["ds_rule_search"][0]
    assert search["title"] == "Malicious Image - AWS ECR Container Upload Unknown User - Rule"
    assert "malicious_image_aws_ecr_unknown_pusher" in search["search"]


def test_run_data_source_is_the_chain_of_base_and_post_process(definition, site):
    rows = run_data_source(definition, "ds_head_techniques", site.events, site.context)
    assert rows[0]["total"] == "202"


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
    for table in ("detections", "stories", "macros", "data_sources"):
        (kvstore / f"malicious_image_{table}.csv").symlink_to((site.sync_output / f"{table}.csv").resolve())
    (kvstore / "malicious_image_groups.csv").symlink_to(site.context.lookups.kvstore_dir / "malicious_image_groups.csv")
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
    written = {k: v for k, v in site.context.lookups.written.items() if k == "malicious_image_data_inventory"}
    context = dataclasses.replace(
        site.context, lookups=dataclasses.replace(site.context.lookups, kvstore_dir=kvstore, written=written)
    )
    spl = substitute(data_source_spl(definition, "ds_matrix"), default_tokens(definition))
    matrix = run_search(spl, site.events, context)
    assert _tactic_columns(matrix[0]) == v19
    stealth = [v for row in matrix[1:] for k, v in row.items() if k == TACTIC_ORDER_MARK * 7 + "Stealth" and v]
    impairment = [v for row in matrix[1:] for k, v in row.items() if k.endswith("Defense Impairment") and v]
    assert any(" T1027 Obfuscated Files or Information" in c for c in stealth)
    assert [c for c in impairment if " T1562 " in c] and len(impairment) == 1


def test_standalone_site_shows_fired_rules_and_notables_like_es(results, standalone_results, standalone_site):
    """Without ES the alert action writes to its own indexes; the index macros follow (contracts.md)."""
    assert {e["index"] for e in standalone_site.events if e.get("search_name")} == set(MODES["standalone"])
    for name in ("ds_rules", "ds_rule_notables", "ds_technique_detail", "ds_subtechniques", "ds_head_techniques"):
        assert standalone_results[name] == results[name], name
    assert any(c.endswith(" ▲") for row in standalone_results["ds_matrix"] for c in row.values())


def test_group_filter_shows_the_techniques_a_group_uses_and_their_coverage(site, definition):
    groups = {r["group_name"]: r for r in site.context.lookups.read("malicious_image_groups")}
    uses = groups["TeamTNT"]["technique_id"]
    assert "T1204.003" in uses  # TeamTNT deploys malicious images
    tokens = {**default_tokens(definition), "group": "TeamTNT"}
    rows = run_search(substitute(data_source_spl(definition, "ds_coverage"), tokens), site.events, site.context)
    shown = {r["technique_id"]: r for r in rows}
    parents = {t.split(".")[0] for t in uses}
    assert set(shown) == set(uses) | parents
    assert shown["T1204.003"]["state"] == "fed"
    everyone = run_search(substitute(data_source_spl(definition, "ds_coverage"), default_tokens(definition)),
                          site.events, site.context)
    assert len(everyone) == 637 > len(rows)
