"""The two correlation rules over risk events, as ES's risk index (or the alert action) holds them."""

from __future__ import annotations

from devtools import replay
from tests.rules_support import BY_REPO, BY_USER, HIGH, HOURS, UNKNOWN, fresh_app

NOW = replay.parse_now("2026-11-21T04:10:00Z")


def risk(source, risk_object, score, *, kind="user", user=None, repository=None, image=None, when=NOW - 3000):
    event = {
        "_time": str(when),
        "source": source,
        "search_name": source,
        "risk_object": risk_object,
        "risk_object_type": kind,
        "risk_score": str(score),
        "index": "risk",
        "sourcetype": "stash",
    }
    for key, value in (("user", user), ("repository", repository), ("image", image)):
        if value is not None:
            event[key] = value
    event["_raw"] = str(event)
    return event


def correlate(stanza, events, app=None, now=NOW):
    replayer = replay.Replayer(app or fresh_app())
    return replayer.run_rule(stanza, events, now, windowed=True)


def test_by_user_sums_the_risk_attributed_to_users():
    events = [
        risk(HOURS, "eve", 49, repository="tools/miner", user="eve"),
        risk(UNKNOWN, "eve", 49, repository="tools/miner", image="tools/miner", user="eve"),
        risk(HOURS, "alice", 49, repository="payments/api", user="alice"),
    ]
    assert correlate(BY_USER, events).rows == [
        {
            "user": "eve",
            "total_risk_score": "98",
            "repository": "tools/miner",
            "signals": [HOURS, UNKNOWN],
        }
    ]


def test_threshold_is_strictly_greater_than_80_and_configurable():
    events = [risk(HOURS, "eve", 40, user="eve"), risk(UNKNOWN, "eve", 40, user="eve")]
    assert correlate(BY_USER, events).rows == []
    lowered = fresh_app(malicious_image_correlation_threshold="79")
    assert [r["user"] for r in correlate(BY_USER, events, app=lowered).rows] == ["eve"]


def test_by_user_ignores_scanning_risk_on_repositories_and_foreign_sources():
    events = [
        risk(HIGH, "payments/api", 70, kind="other", user="security-audit", repository="payments/api"),
        risk(HIGH, "payments/api", 70, kind="other", user="security-audit", repository="payments/api"),
        risk("ESCU - Some Other Rule - Rule", "eve", 90, user="eve"),
        risk(BY_USER, "eve", 70, user="eve"),
    ]
    assert correlate(BY_USER, events).rows == []


def test_by_repository_sums_all_five_rules_and_reads_image_of_unknown_user():
    events = [
        risk(HIGH, "payments/api", 70, kind="other", user="security-audit", repository="payments/api"),
        risk(UNKNOWN, "contractor-role", 49, user="contractor-role", image="payments/api"),
        risk(BY_REPO, "payments/api", 70, kind="other", repository="payments/api"),
    ]
    rows = correlate(BY_REPO, events).rows
    assert rows == [
        {
            "repository": "payments/api",
            "total_risk_score": "119",
            "signals": [HIGH, UNKNOWN],
            "user": ["contractor-role", "security-audit"],
        }
    ]


def test_risk_events_without_a_repository_are_not_summed_under_a_placeholder():
    events = [risk(HOURS, "eve", 49, user="eve"), risk(UNKNOWN, "eve", 49, user="eve")]
    assert correlate(BY_REPO, events).rows == []


def test_sorted_by_risk_score_descending():
    events = [
        risk(HIGH, "a", 70, kind="other", repository="a"),
        risk(HIGH, "a", 70, kind="other", repository="a"),
        risk(HIGH, "b", 70, kind="other", repository="b"),
        risk(HIGH, "b", 70, kind="other", repository="b"),
        risk(HIGH, "b", 70, kind="other", repository="b"),
    ]
    assert [(r["repository"], r["total_risk_score"]) for r in correlate(BY_REPO, events).rows] == [
        ("b", "210"),
        ("a", "140"),
    ]


def test_window_only_sees_the_last_three_hours_of_risk():
    """-190m@m to -10m@m: wide enough that the two risk events of one push (up to an hour apart
    whatever the rules' skews) meet in one run; older risk is out of the window."""
    old = [
        risk(HOURS, "eve", 49, user="eve", when=NOW - 4 * 3600),
        risk(UNKNOWN, "eve", 49, user="eve", when=NOW - 4 * 3600),
    ]
    assert correlate(BY_USER, old).rows == []
    apart = [
        risk(HOURS, "eve", 49, user="eve", when=NOW - 2 * 3600),
        risk(UNKNOWN, "eve", 49, user="eve", when=NOW - 3600 - 900),
    ]
    assert [r["total_risk_score"] for r in correlate(BY_USER, apart).rows] == ["98"]
