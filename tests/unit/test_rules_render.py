"""The conf rendered from rules/: committed = fresh render, ESCU's keys, AppInspect's rules."""

from __future__ import annotations

import json
import re

import pytest

from devtools import render, rules_model
from devtools.commands import render as render_command
from devtools.conffile import parse_conf, read_conf
from tests.rules_support import snapshot_detection

SAVED = read_conf(render.SAVEDSEARCHES)
MACROS = read_conf(render.MACROS)
TRANSFORMS = read_conf(render.TRANSFORMS)
RULES = {k: v for k, v in SAVED.items() if k.endswith(" - Rule")}
UPSTREAM_IDS = {  # REFERENCE.md section 1; Medium and Low from the 2024 snapshot (checked below)
    "AWS ECR Container Scanning Findings High": "30a0e9f8-f1dd-4f9d-8fc2-c622461d781c",
    "AWS ECR Container Scanning Findings Medium": "0b80e2c8-c746-4ddb-89eb-9efd892220cf",
    "AWS ECR Container Scanning Findings Low Informational Unknown": "cbc95e44-7c22-443f-88fd-0424478f5589",
    "AWS ECR Container Upload Outside Business Hours": "d4c4d4eb-3994-41ca-a25e-a82d64e125bb",
    "AWS ECR Container Upload Unknown User": "300688e4-365c-4486-a065-7c884462b31d",
    "Correlation by User and Risk": "610e12dc-b6fa-4541-825e-4a0b3b6f6773",
    "Correlation by Repository and Risk": "8da9fdd9-6a1b-4ae0-8a34-8c25e6be9687",
}


def test_committed_conf_equals_a_fresh_render():
    assert render.stale_files(render.expected_files()) == []
    assert render_command.main(["--check"]) == 0


def test_check_fails_when_a_committed_file_differs(tmp_path):
    expected = render.expected_files()
    changed = {tmp_path / p.name: text for p, text in expected.items()}
    for path, text in changed.items():
        path.write_text(text + "# edited by hand\n")
    assert sorted(p.name for p in render.stale_files(changed)) == [
        "macros.conf",
        "savedsearches.conf",
        "transforms.conf",
    ]


def test_generated_files_say_so():
    for path in (render.SAVEDSEARCHES, render.MACROS):
        assert "GENERATED FILE" in path.read_text().splitlines()[1]
    assert render.BEGIN_MARK in render.TRANSFORMS.read_text()


def test_seven_rules_with_upstream_ids_in_metadata():
    names = {k[len("Malicious Image - ") : -len(" - Rule")]: v for k, v in RULES.items()}
    assert {
        n: json.loads(s["action.correlationsearch.metadata"])["detection_id"] for n, s in names.items()
    } == UPSTREAM_IDS


@pytest.mark.parametrize("name", ["medium", "low_informational_unknown"])
def test_scanning_rule_ids_match_the_2024_snapshot(name):
    upstream = snapshot_detection(f"detections/cloud/aws_ecr_container_scanning_findings_{name}.yml")
    assert UPSTREAM_IDS[upstream["name"]] == upstream["id"]


@pytest.mark.parametrize("stanza", sorted(RULES))
def test_every_rule_has_escu_keys_risk_and_schedule(stanza):
    conf = RULES[stanza]
    assert conf["cron_schedule"] == "0 * * * *"
    window = ("-190m@m", "-10m@m") if "Correlation" in stanza else ("-70m@m", "-10m@m")
    assert (conf["dispatch.earliest_time"], conf["dispatch.latest_time"]) == window
    assert conf["disabled"] == "1" and conf["enableSched"] == "1" and conf["realtime_schedule"] == "0"
    assert conf["action.correlationsearch.label"] == stanza
    annotations = json.loads(conf["action.correlationsearch.annotations"])
    assert annotations["mitre_attack"] == ["T1204.003", "T1204"]
    assert annotations["analytic_story"] == ["Dev Sec Ops"]
    risk = json.loads(conf["action.risk.param._risk"])
    assert any("risk_object_field" in r for r in risk) and any("threat_object_field" in r for r in risk)
    assert conf["action.risk"] == "1"
    assert json.loads(conf["action.notable.param.drilldown_searches"])
    assert conf["action.malicious_image_notable"] == "1"
    assert conf["action.malicious_image_notable.param.risk"] == conf["action.risk.param._risk"]
    notable = conf["action.correlationsearch.annotations"].find('"type": "Anomaly"') == -1
    assert (conf.get("action.notable") == "1") is notable
    filter_macro = re.findall(r"`(\w+_filter)`", conf["search"])
    assert filter_macro and conf["search"].rstrip().endswith(f"`{filter_macro[-1]}`")
    assert filter_macro[-1] in MACROS and MACROS[filter_macro[-1]]["definition"] == "search *"


def test_no_scheduled_search_breaks_appinspect_rules():
    for stanza, conf in SAVED.items():
        if conf.get("enableSched") == "1":
            assert conf.get("dispatch.earliest_time"), stanza
            assert not conf.get("dispatch.earliest_time", "").startswith("rt"), stanza
            assert conf.get("realtime_schedule", "0") == "0", stanza
            assert conf.get("cron_schedule"), stanza
        assert not any(key.startswith("action.populate_lookup") for key in conf), stanza


def _called_macros(text: str) -> set[str]:
    return {
        f"{name}({len(args.split(','))})" if args else name
        for name, args in re.findall(r"`(\w+)(?:\(([^)`]*)\))?`", text)
    }


def test_every_macro_and_lookup_the_searches_use_is_defined():
    texts = [c["search"] for c in SAVED.values()] + [m["definition"] for m in MACROS.values()]
    called = set().union(*(_called_macros(t) for t in texts))
    assert called - set(MACROS) == set()
    lookups = set()
    for text in texts:
        lookups |= set(re.findall(r"\b(?:lookup|inputlookup append=t|outputlookup)\s+(\w+)", text))
    assert lookups and lookups - set(TRANSFORMS) == set()
    for name in lookups:
        assert (render.APP / "lookups" / TRANSFORMS[name]["filename"]).exists(), name


def test_every_custom_savedsearch_key_is_documented_in_the_spec():
    spec = (render.APP / "README" / "savedsearches.conf.spec").read_text()
    documented = set(re.findall(r"^(action\.[\w.]+) =", spec, flags=re.M))
    used = {key for conf in SAVED.values() for key in conf if key.startswith("action.")}
    assert used - documented == set()


def test_rules_render_the_contentctl_risk_mapping():
    detections, _ = rules_model.load_rules()
    by_name = {d.name: d for d in detections}
    assert by_name["AWS ECR Container Upload Unknown User"].risk == [
        {"threat_object_field": "src_ip", "threat_object_type": "ip_address"},
        {"risk_object_field": "user", "risk_object_type": "user", "risk_score": 49},
    ]
    assert [d.severity for d in detections] == [
        "high",
        "informational",
        "low",
        "medium",
        "medium",
        "high",
        "high",
    ]


def test_a_rule_without_its_filter_macro_is_rejected(tmp_path):
    for sub in ("detections", "baselines"):
        (tmp_path / sub).mkdir()
    source = next((rules_model.RULES_DIR / "detections").glob("aws_ecr_container_upload_unknown_user.yml"))
    text = source.read_text().replace("| `malicious_image_aws_ecr_container_upload_unknown_user_filter`", "")
    (tmp_path / "detections" / source.name).write_text(text)
    with pytest.raises(rules_model.RuleFileError, match="_filter"):
        rules_model.load_rules(tmp_path)


def test_merge_block_keeps_the_other_lookups():
    existing = "[malicious_image_detections]\nexternal_type = kvstore\n"
    merged = render.merge_block(existing, render.render_transforms_block(rules_model.load_lookups()))
    again = render.merge_block(merged, render.render_transforms_block(rules_model.load_lookups()))
    assert merged == again and "malicious_image_detections" in parse_conf(merged)


def test_the_apps_content_reader_reads_the_rules_as_the_renderer_does():
    reader = pytest.importorskip("malicious_image.content.reader")
    detections, _ = rules_model.load_rules()
    for rule in detections:
        result = reader.read_member(f"detections/cloud/{rule.path.name}", rule.path.read_bytes())
        assert result.rejection is None and result.record.era == "B"
        assert rules_model._record_view(result.record) == rules_model.reader_view(rule)
    for path in sorted((rules_model.RULES_DIR / "macros").glob("*.yml")):
        assert reader.read_member(f"macros/{path.name}", path.read_bytes()).rejection is None
