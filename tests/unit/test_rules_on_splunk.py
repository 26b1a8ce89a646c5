"""What a real Splunk and ES read from the rendered conf (issue 12 items 2-6): names and indexes
that agree, ES 8's keys, throttling, quoted drilldowns, flat alert fields, the visibility macro."""

from __future__ import annotations

import json
import re
import sys

import pytest

from devtools import render, replay
from devtools.cloudtrail import fields as ct_fields
from devtools.cloudtrail import records as r
from devtools.conffile import read_conf
from devtools.spl import SearchContext, run_search
from tests.rules_support import BASELINE, BY_REPO, BY_USER, HIGH, HOURS, UNKNOWN, at, fresh_app, ids

sys.path.insert(0, str(render.APP / "bin"))
from malicious_image import alerting

try:  # the seams branch moves the transport into malicious_image.splunkd
    from malicious_image.splunkd import alert_action as alert_notable  # type: ignore[import-not-found]
except ImportError:
    from malicious_image import alert_notable

SAVED = read_conf(render.SAVEDSEARCHES)
MACROS = read_conf(render.MACROS)
RULES = {k: v for k, v in SAVED.items() if k.endswith(" - Rule")}
META = read_conf(render.APP / "metadata" / "default.meta")
PROPS = read_conf(render.APP / "default" / "props.conf")
ACTIONS = read_conf(render.APP / "default" / "alert_actions.conf")


def test_every_macro_is_app_unique_and_exported_system_wide():
    """ESCU exports cloudtrail, risk_index and <rule>_filter system-wide; ES opens drilldowns in
    its own app, where a macro exported only to this app is not found."""
    names = {stanza.split("(")[0] for stanza in MACROS}
    assert names and all(name.startswith("malicious_image_") for name in names)
    assert META["macros"]["export"] == "system"
    used = {m for conf in SAVED.values() for m in re.findall(r"`(\w+)", conf.get("search", ""))}
    drill = {
        m
        for conf in RULES.values()
        for d in json.loads(conf["action.notable.param.drilldown_searches"])
        for m in re.findall(r"`(\w+)", d["search"])
    }
    assert (used | drill) <= names


def test_index_macros_are_the_one_setting_the_action_follows(tmp_path):
    assert MACROS["malicious_image_notable_index"]["definition"] == "index=notable"
    assert MACROS["malicious_image_risk_index"]["definition"] == "index=risk"
    action = ACTIONS["malicious_image_notable"]
    assert action["param.notable_index"] == "" and action["param.risk_index"] == ""
    assert alert_notable.app_macro_index(alerting.NOTABLE_INDEX_MACRO, str(render.APP)) == "notable"
    assert alert_notable.app_macro_index(alerting.RISK_INDEX_MACRO, str(render.APP)) == "risk"
    (tmp_path / "default").mkdir()
    (tmp_path / "local").mkdir()
    (tmp_path / "default" / "macros.conf").write_text(render.MACROS.read_text())
    (tmp_path / "local" / "macros.conf").write_text(
        '[malicious_image_risk_index]\ndefinition = index="sec_risk" sourcetype=malicious_image:risk\n'
    )
    assert alert_notable.app_macro_index(alerting.RISK_INDEX_MACRO, str(tmp_path)) == "sec_risk"
    (tmp_path / "local" / "macros.conf").write_text("[malicious_image_risk_index]\ndefinition = index=a OR index=b\n")
    with pytest.raises(alerting.AlertSettingsError, match="exactly one index"):
        alert_notable.app_macro_index(alerting.RISK_INDEX_MACRO, str(tmp_path))


def test_correlations_read_the_risk_index_macro_and_never_output_risk_score():
    for name in (BY_USER, BY_REPO):
        search = RULES[name]["search"]
        assert search.startswith("`malicious_image_risk_index`")
        assert "as total_risk_score" in search and not re.search(r"as risk_score\b", search)
        assert "$total_risk_score$" in RULES[name]["action.notable.param.rule_title"]


def test_correlations_write_the_same_risk_score_in_es_and_standalone_modes():
    for name in (BY_USER, BY_REPO):
        es_risk = json.loads(RULES[name]["action.risk.param._risk"])
        standalone = alerting.settings_from_savedsearch(name, RULES[name])
        row = {"user": "eve", "repository": "a/b", "total_risk_score": "98"}
        (risk,) = alerting.build_risk_events(row, standalone, time=0.0)
        es_score = [e["risk_score"] for e in es_risk if "risk_object_field" in e]
        assert es_score == [70] and risk["risk_score"] == 70 and "risk_score" not in row


def test_throttling_keys_es_reads_and_the_correlation_window():
    for name, field in ((BY_USER, "user"), (BY_REPO, "repository")):
        conf = RULES[name]
        assert (conf["alert.suppress"], conf["alert.suppress.fields"], conf["alert.suppress.period"]) == (
            "1",
            field,
            "5h",
        )
        assert conf["alert.digest_mode"] == "0"  # per result: one user's alert never silences another's
        assert (conf["dispatch.earliest_time"], conf["dispatch.latest_time"]) == ("-190m@m", "-10m@m")


def test_every_scheduled_search_never_skips():
    for name in [*RULES, BASELINE]:
        assert SAVED[name]["realtime_schedule"] == "0", name


@pytest.mark.parametrize("stanza", sorted(RULES))
def test_es8_event_based_detection_keys(stanza):
    """ES 8 lists a correlation search as an event-based detection (detection_type ebd); a TTP or
    Correlation rule emits findings (action.notable), every rule intermediate findings (action.risk)."""
    conf = RULES[stanza]
    assert conf["action.correlationsearch.enabled"] == "1"
    assert conf["action.correlationsearch.detection_type"] == "ebd"
    assert conf["action.correlationsearch.label"] == stanza
    annotations = json.loads(conf["action.correlationsearch.annotations"])
    assert "T1204.003" in annotations["mitre_attack"]
    finding = conf.get("action.notable") == "1"
    assert finding == (annotations["type"] in ("TTP", "Correlation"))
    assert conf["action.risk"] == "1" and json.loads(conf["action.risk.param._risk"])
    if finding:
        assert conf["action.notable.param.rule_title"] and conf["action.notable.param.severity"]


def test_drilldown_tokens_are_quoted():
    for name, conf in RULES.items():
        for drill in json.loads(conf["action.notable.param.drilldown_searches"]):
            tokens = re.findall(r"\$([^$]+)\$", drill["search"])
            assert tokens and all(t.endswith("|s") for t in tokens), (name, tokens)
    row = {"user": 'x" OR index=*'}
    assert alerting.substitute_tokens("search user=$user|s$", row) == 'search user="x\\" OR index=*"'


def test_alert_multivalue_fields_read_flat_as_in_es():
    """The action writes JSON arrays; Splunk names them field{}; props.conf gives them back their
    names, and the replay reads them back through the same steps."""
    for sourcetype in (alerting.NOTABLE_SOURCETYPE, alerting.RISK_SOURCETYPE):
        evals = {k[len("EVAL-") :] for k in PROPS[sourcetype] if k.startswith("EVAL-")}
        assert evals == set(alerting.MULTIVALUE_FIELDS)
    settings = alerting.settings_from_savedsearch(HIGH, RULES[HIGH])
    row = {"repository": "a/b", "user": ["alice", "bob"], "finding": "x" * 6000, "severity": "high"}
    risks = alerting.build_risk_events(row, settings, time=1.0)
    (event,) = replay.risk_events_as_splunk(risks)
    assert event["threat_object"] == ["alice", "bob"] and "threat_object{}" in event
    assert event["user"] == ["alice", "bob"] and event["repository"] == "a/b"
    assert event["annotations.mitre_attack"] == ["T1204.003", "T1204"]
    assert "finding" not in event  # the long field went last and past the 5000-byte cutoff


SCANNING_HOW_TO = ("exclude_describe_events", "blacklist", "ingest actions", "malicious_image_scanning_visibility")


@pytest.mark.parametrize("stanza", [s for s in RULES if "Scanning" in s])
def test_scanning_rules_say_how_to_keep_describe_events(stanza):
    text = RULES[stanza]["action.escu.how_to_implement"]
    assert all(word in text for word in SCANNING_HOW_TO)


def _visibility(records):
    app = fresh_app()
    events = [ct_fields.to_splunk_event(x) for x in records]
    now = max(e["_time"] for e in events) + 60 if events else at("2026-11-21T03:00:00").timestamp()
    context = SearchContext(macros=app.macros, now=now)
    return run_search("`malicious_image_scanning_visibility`", events, context)


def test_scanning_visibility_says_blind_when_describe_events_are_dropped():
    i = ids(31)
    who = r.iam_user(i, "alice")
    push = r.put_image(i, at("2026-11-20T10:00:00"), who, "payments/api")
    digest = push["responseElements"]["image"]["imageId"]["imageDigest"]
    scan = r.describe_scan_findings(i, at("2026-11-20T10:05:00"), who, "payments/api", digest, findings=[])
    assert _visibility([push]) == [{"scanning_state": "scanning rules blind", "putimage_7d": "1", "describe_7d": "0"}]
    assert _visibility([push, scan])[0]["scanning_state"] == "scanning data present"
    assert _visibility([])[0]["scanning_state"] == "no ECR data"


def test_upload_rules_keep_the_stanzas_and_the_baseline_runs_after_them():
    assert SAVED[BASELINE]["cron_schedule"] == "30 * * * *"
    for name in (HOURS, UNKNOWN):
        assert "`malicious_image_aws_ecr_push_fields`" in RULES[name]["search"]


def test_alert_action_form_exists_and_names_only_documented_params():
    """Splunk Web shows default/data/ui/alerts/<action>.html when an admin edits the action."""
    form = (render.APP / "default" / "data" / "ui" / "alerts" / "malicious_image_notable.html").read_text()
    names = re.findall(r'name="action\.malicious_image_notable\.param\.(\w+)"', form)
    spec = (render.APP / "README" / "savedsearches.conf.spec").read_text()
    assert {"mode", "notable_index", "risk_index", "rule_title", "severity"} <= set(names)
    assert all(f"action.malicious_image_notable.param.{name} =" in spec for name in names)
    assert "edit_tcp" in form and "edit_tcp" in (render.APP / "README" / "alert_actions.conf.spec").read_text()


def test_throttled_rules_write_only_the_triggering_result():
    """alert.digest_mode = 0: splunkd runs the action once per unthrottled result; writing the
    whole results file each time would write every row N times, throttled ones included."""
    for name, conf in RULES.items():
        per_result = conf["action.malicious_image_notable.param.per_result"]
        assert per_result == ("1" if conf["alert.digest_mode"] == "0" else "0"), name
    every = [{"user": "eve"}, {"user": "bob"}]
    assert alerting.triggering_rows(True, {"user": "bob", "signals": ["a", "b"], "__mv_signals": "$a$;$b$"}, list) == [
        {"user": "bob", "signals": ["a", "b"]}
    ]
    assert alerting.triggering_rows(False, {"user": "bob"}, lambda: every) == every
    assert alerting.triggering_rows(True, {}, lambda: every) == every  # no result given: the file
