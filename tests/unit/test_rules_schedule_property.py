"""Correlations meet whatever the skews (issue 12 item 2): a property test over the scheduler.

For any installation (the seed draws every search's skew within its allow_skew), any push minute
and any scan delay up to 40 minutes: a push by an unknown user outside business hours raises Correlation by User
exactly once for that user, and the scan's High finding plus the upload risk on the repository
raise Correlation by Repository exactly once. Each run is the shipped savedsearches.conf through
devtools/replay_schedule.py (risk events read back as Splunk reads them, throttling applied).
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devtools import replay_schedule
from devtools.cloudtrail import fields as ct_fields
from devtools.cloudtrail import records as r
from tests.rules_support import BY_REPO, BY_USER, at, fresh_app, ids

SATURDAY_NIGHT = at("2026-11-21T01:00:00")  # outside business hours whatever the minute
APP = fresh_app()


def scenario(push_second: int, scan_delay: int) -> list:
    i = ids(21)
    pushed = SATURDAY_NIGHT + timedelta(seconds=push_second)
    push = r.put_image(i, pushed, r.iam_user(i, "mallory"), "payments/api")
    digest = push["responseElements"]["image"]["imageId"]["imageDigest"]
    scan = r.describe_scan_findings(
        i,
        pushed + timedelta(seconds=scan_delay),
        r.iam_user(i, "ci-scanner"),
        "payments/api",
        digest,
        findings=[
            r.basic_finding("CVE-2026-0001", "CRITICAL", "remote code execution"),
            r.basic_finding("CVE-2026-0002", "MEDIUM", "denial of service"),
            r.basic_finding("CVE-2026-0003", "LOW", "information disclosure"),
        ],
    )
    return [ct_fields.to_splunk_event(record) for record in (push, scan)]


def run(seed: int, push_second: int, scan_delay: int, app=APP):
    events = scenario(push_second, scan_delay)
    start = SATURDAY_NIGHT.timestamp() - 3600
    return replay_schedule.replay_schedule(events, start=start, hours=9, seed=seed, app=app)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    push_second=st.integers(min_value=0, max_value=3599),
    scan_delay=st.integers(min_value=0, max_value=2400),
)
def test_each_correlation_fires_exactly_once_for_any_skews(seed, push_second, scan_delay):
    outcome = run(seed, push_second, scan_delay)
    by_user = outcome.notables(BY_USER)
    by_repo = outcome.notables(BY_REPO)
    assert [n["user"] for n in by_user] == ["mallory"]
    assert [n["repository"] for n in by_repo] == ["payments/api"]
    assert by_user[0]["total_risk_score"] == "98" and int(by_repo[0]["total_risk_score"]) > 80
    correlation_risk = [x for x in outcome.risks() if x["source"] in (BY_USER, BY_REPO)]
    # the nine hours end well after the 5-hour throttle of either notable: no repeat was hidden
    assert sorted(x["risk_score"] for x in correlation_risk) == [70, 70]  # the configured score


def test_the_old_one_hour_correlation_window_misses_for_some_skews():
    """The control: with upstream's -70m@m window (and no throttling) the same push is missed or
    doubled for some installations; the property above would have caught it."""
    app = fresh_app()
    app.savedsearches = {name: dict(stanza) for name, stanza in app.savedsearches.items()}
    for name in (BY_USER, BY_REPO):
        app.savedsearches[name]["dispatch.earliest_time"] = "-70m@m"
        app.savedsearches[name]["alert.suppress"] = "0"
    counts = {len(run(seed, 3000, 600, app=app).notables(BY_USER)) for seed in range(12)}
    assert counts != {1}
