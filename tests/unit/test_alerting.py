"""The notable/risk builder shared by the alert action and the replay."""

from __future__ import annotations

import json

import pytest

from malicious_image import alerting

pytestmark = pytest.mark.runtime

RISK = json.dumps(
    [
        {"threat_object_field": "src_ip", "threat_object_type": "ip_address"},
        {"threat_object_field": "imageDigest", "threat_object_type": "file_hash"},
        {"risk_object_field": "user", "risk_object_type": "user", "risk_score": 49},
    ]
)
PARAMS = {
    "rule_name": "AWS ECR Container Upload Unknown User",
    "detection_id": "300688e4",
    "notable": "1",
    "rule_title": "Container uploaded from unknown user $user$",
    "severity": "high",
    "risk_message": "Upload by $user$ to $repository$ ($missing$)",
    "risk": RISK,
    "mitre_attack": "T1204.003, T1204",
    "analytic_story": "Dev Sec Ops",
    "drilldown_searches": json.dumps(
        [
            {
                "name": "Results for $user$",
                "search": "index=x user=$user$",
                "earliest_offset": "$info_min_time$",
                "latest_offset": "$info_max_time$",
            }
        ]
    ),
}
SETTINGS = alerting.settings_from_params("Malicious Image - X - Rule", PARAMS)
ROW = {
    "user": "eve",
    "repository": "tools/miner",
    "src_ip": "192.0.2.99",
    "imageDigest": ["sha256:1", "sha256:2"],
    "severity": "high",
    "risk_score": "12",
}


def test_tokens_are_replaced_missing_ones_empty_multivalues_joined():
    assert (
        alerting.substitute_tokens("$user$ pushed $imageDigest$ $nope$!", ROW)
        == "eve pushed sha256:1, sha256:2 !"
    )


def test_risk_event_carries_es_fields_and_aligned_threat_objects():
    (event,) = alerting.build_risk_events(ROW, SETTINGS, time=100.0)
    assert {
        k: event[k]
        for k in (
            "risk_object",
            "risk_object_type",
            "risk_score",
            "risk_message",
            "threat_object",
            "threat_object_type",
            "search_name",
            "source",
            "annotations.mitre_attack",
        )
    } == {
        "risk_object": "eve",
        "risk_object_type": "user",
        "risk_score": 49,
        "risk_message": "Upload by eve to tools/miner ()",
        "threat_object": ["192.0.2.99", "sha256:1", "sha256:2"],
        "threat_object_type": ["ip_address", "file_hash", "file_hash"],
        "search_name": "Malicious Image - X - Rule",
        "source": "Malicious Image - X - Rule",
        "annotations.mitre_attack": ["T1204.003", "T1204"],
    }
    assert event["repository"] == "tools/miner" and event["orig_risk_score"] == "12"


def test_one_risk_event_per_value_of_a_multivalue_risk_object_none_without_value():
    assert [
        e["risk_object"] for e in alerting.build_risk_events(dict(ROW, user=["a", "b"]), SETTINGS, time=1)
    ] == ["a", "b"]
    assert alerting.build_risk_events(dict(ROW, user=""), SETTINGS, time=1) == []


def test_notable_fields():
    notable = alerting.build_notable(ROW, SETTINGS, time=5.0, sid="sid1")
    assert {
        k: notable[k]
        for k in (
            "rule_name",
            "rule_title",
            "severity",
            "risk_object",
            "risk_object_type",
            "mitre_attack_technique",
            "detection_id",
            "orig_sid",
            "status",
        )
    } == {
        "rule_name": "AWS ECR Container Upload Unknown User",
        "rule_title": "Container uploaded from unknown user eve",
        "severity": "high",
        "risk_object": "eve",
        "risk_object_type": "user",
        "mitre_attack_technique": "T1204.003",
        "detection_id": "300688e4",
        "orig_sid": "sid1",
        "status": "new",
    }
    assert notable["drilldown_searches"] == [
        {
            "name": "Results for eve",
            "search": "index=x user=eve",
            "earliest_offset": "$info_min_time$",
            "latest_offset": "$info_max_time$",
        }
    ]
    assert notable["imageDigest"] == ["sha256:1", "sha256:2"]


def test_row_severity_wins_when_es_knows_it():
    assert alerting.build_notable(dict(ROW, severity="critical"), SETTINGS, time=0)["severity"] == "critical"
    assert alerting.build_notable(dict(ROW, severity="bogus"), SETTINGS, time=0)["severity"] == "high"


def test_anomaly_settings_give_risk_only():
    settings = alerting.settings_from_params("S", dict(PARAMS, notable="0"))
    notables, risks = alerting.build_events([ROW, ROW], settings, time=0)
    assert notables == [] and len(risks) == 2


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"risk": "{not json"}, "param.risk is not valid JSON"),
        ({"risk": '{"a": 1}'}, "must be a JSON list"),
        ({"risk": '[{"x": 1}]'}, "risk_object_field or threat_object_field"),
        ({"risk": '[{"risk_object_field": "u", "risk_score": "high"}]'}, "is not a number"),
        ({"drilldown_searches": "[oops"}, "drilldown_searches is not valid JSON"),
    ],
)
def test_bad_settings_say_which_parameter(params, message):
    with pytest.raises(alerting.AlertSettingsError, match=message):
        alerting.settings_from_params("S", dict(PARAMS, **params))


def test_settings_from_savedsearch_reads_the_action_params():
    stanza = {alerting.PARAM_PREFIX + k: v for k, v in PARAMS.items()}
    stanza["action.risk.param._risk"] = "ignored"
    assert alerting.settings_from_savedsearch("Malicious Image - X - Rule", stanza) == SETTINGS
