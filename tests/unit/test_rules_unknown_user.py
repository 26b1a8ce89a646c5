"""AWS ECR Container Upload Unknown User and its baseline search, replayed as shipped."""

from __future__ import annotations

import pytest

from devtools import replay
from devtools.cloudtrail import fields as ct_fields
from devtools.cloudtrail import sample as s
from tests.rules_support import BASELINE, UNKNOWN, at, example_log, fresh_app, ids, run_rule, write_lookup

PUSH_TIME = "2026-11-18T10:00:00"
PUSH_EPOCH = int(at(PUSH_TIME).timestamp())
DAY = 86400
ARN_ROLE = "arn:aws:iam::111111111111:role/ci-deployer"
ARN_SESSION = "arn:aws:sts::111111111111:assumed-role/ci-deployer/codebuild-1"


def push(who=None, when=PUSH_TIME, **kwargs):
    i = ids()
    return s.put_image(
        i, at(when), who or s.iam_user(i, "alice"), "payments/api", digest="sha256:" + "12" * 32, **kwargs
    )


def role(session="codebuild-1"):
    return s.assumed_role(ids(), "ci-deployer", session)


def users(records, tmp_path, allowed=(), known=()):
    write_lookup(
        tmp_path,
        "malicious_image_ecr_allowed_pushers.csv",
        [{"identity": a, "comment": "test"} for a in allowed],
        ["identity", "comment"],
    )
    write_lookup(
        tmp_path,
        "malicious_image_ecr_known_pushers.csv",
        [{"user": u, "firstTime": f, "lastTime": la} for u, f, la in known],
        ["user", "firstTime", "lastTime"],
    )
    rows = run_rule(UNKNOWN, records, lookup_dir=tmp_path, app=fresh_app(), now="2026-11-18T11:05:00Z").rows
    return [r["user"] for r in rows]


def test_nobody_known_every_pusher_is_unknown(tmp_path):
    assert users([push(), push(role())], tmp_path) == ["alice", "ci-deployer"]


def test_exact_row_keeps_image_and_adds_repository(tmp_path):
    write_lookup(tmp_path, "malicious_image_ecr_known_pushers.csv", [], ["user", "firstTime", "lastTime"])
    rows = run_rule(UNKNOWN, [push(tag="v9")], lookup_dir=tmp_path, app=fresh_app()).rows
    assert rows == [
        {
            "awsRegion": "eu-central-1",
            "eventName": "PutImage",
            "eventSource": "ecr.amazonaws.com",
            "user": "alice",
            "userName": "alice",
            "src_ip": "203.0.113.10",
            "imageTag": "v9",
            "registryId": "111111111111",
            "repository": "payments/api",
            "image": "payments/api",
            "phase": "release",
            "severity": "high",
            "firstTime": "2026-11-18T10:00:00",
            "lastTime": "2026-11-18T10:00:00",
            "imageDigest": "sha256:" + "12" * 32,
        }
    ]


@pytest.mark.parametrize(
    ("allowed", "expected"),
    [
        (["alice"], ["ci-deployer"]),  # IAM user name
        (["ci-deployer"], ["alice"]),  # role name: every session of the role
        ([ARN_ROLE], ["alice"]),  # role ARN
        ([ARN_SESSION], ["alice", "ci-deployer"]),  # one session only (the other is codebuild-2)
        (["arn:aws:iam::111111111111:user/alice"], ["ci-deployer"]),  # IAM user ARN
    ],
)
def test_allow_list_matches_names_and_arns(tmp_path, allowed, expected):
    records = [
        push(),
        push(role("codebuild-1"), when="2026-11-18T10:01:00"),
        push(role("codebuild-2"), when="2026-11-18T10:02:00"),
    ]
    assert users(records, tmp_path, allowed=allowed) == expected


def test_known_pusher_seen_before_within_the_window(tmp_path):
    recent = (PUSH_EPOCH - 10 * DAY, PUSH_EPOCH - DAY)
    assert users([push()], tmp_path, known=[("alice", *recent)]) == []


def test_pusher_whose_first_push_is_this_one_is_unknown(tmp_path):
    # the baseline already recorded this very push: still the first time we see alice push
    assert users([push()], tmp_path, known=[("alice", PUSH_EPOCH, PUSH_EPOCH)]) == ["alice"]


def test_pusher_not_seen_within_the_window_is_unknown_again(tmp_path):
    stale = (PUSH_EPOCH - 90 * DAY, PUSH_EPOCH - 40 * DAY)
    assert users([push()], tmp_path, known=[("alice", *stale)]) == ["alice"]


def test_window_is_a_setting(tmp_path):
    stale = (PUSH_EPOCH - 90 * DAY, PUSH_EPOCH - 40 * DAY)
    write_lookup(
        tmp_path,
        "malicious_image_ecr_known_pushers.csv",
        [{"user": "alice", "firstTime": stale[0], "lastTime": stale[1]}],
        ["user", "firstTime", "lastTime"],
    )
    app = fresh_app(malicious_image_aws_ecr_known_pushers_window='"-60d@d"')
    assert run_rule(UNKNOWN, [push()], lookup_dir=tmp_path, app=app).rows == []


def test_failed_and_aws_service_pushes_are_not_uploads(tmp_path):
    i = ids()
    records = [
        push(error="ImageAlreadyExistsException"),
        s.put_image(i, at(PUSH_TIME), s.aws_service("ecr.amazonaws.com"), "cache/nginx"),
    ]
    assert users(records, tmp_path) == []


def test_ecr_public_push(tmp_path):
    assert users([push(public=True)], tmp_path) == ["alice"]


def test_real_putimage_sample(tmp_path):
    write_lookup(tmp_path, "malicious_image_ecr_known_pushers.csv", [], ["user", "firstTime", "lastTime"])
    rows = run_rule(
        UNKNOWN, [example_log("aws_cloudtrail_putimage")], lookup_dir=tmp_path, app=fresh_app()
    ).rows
    assert [(r["user"], r["src_ip"], r["image"], r["repository"]) for r in rows] == [
        ("test", "AWS Internal", "devsecops/cat_dog_server", "devsecops/cat_dog_server")
    ]


def _baseline(records, now, tmp_path, known=()):
    write_lookup(
        tmp_path,
        "malicious_image_ecr_known_pushers.csv",
        [{"user": u, "firstTime": f, "lastTime": la} for u, f, la in known],
        ["user", "firstTime", "lastTime"],
    )
    app = fresh_app()
    app.extra_lookup_dirs = [tmp_path]
    replayer = replay.Replayer(app)
    events = [ct_fields.to_splunk_event(r) for r in records]
    stanza = app.savedsearches[BASELINE]
    context = replayer.context(replay.parse_now(now), None, None)
    rows = replay.run_search(stanza["search"], events, context)
    return rows, replayer.store.read("malicious_image_ecr_known_pushers")


def test_baseline_is_safe_on_an_empty_lookup_and_no_events(tmp_path):
    rows, written = _baseline([], "2026-11-18T11:30:00Z", tmp_path)
    assert rows == [] and written == []


def test_baseline_merges_new_pushers_and_drops_expired_ones(tmp_path):
    known = [
        ("bob", PUSH_EPOCH - 20 * DAY, PUSH_EPOCH - 5 * DAY),  # kept
        ("carol", PUSH_EPOCH - 80 * DAY, PUSH_EPOCH - 45 * DAY),  # expired (> 30 days)
        ("alice", PUSH_EPOCH - 3 * DAY, PUSH_EPOCH - 3 * DAY),
    ]  # first seen earlier, kept
    records = [push(), push(role(), when="2026-11-18T10:20:00")]
    rows, written = _baseline(records, "2026-11-18T11:30:00Z", tmp_path, known)
    assert rows == written
    assert sorted((r["user"], int(r["firstTime"]), int(r["lastTime"])) for r in written) == [
        ("alice", PUSH_EPOCH - 3 * DAY, PUSH_EPOCH),
        ("bob", PUSH_EPOCH - 20 * DAY, PUSH_EPOCH - 5 * DAY),
        ("ci-deployer", PUSH_EPOCH + 1200, PUSH_EPOCH + 1200),
    ]


def test_baseline_schedule_leaves_no_gap():
    stanza = fresh_app().savedsearches[BASELINE]
    assert (stanza["cron_schedule"], stanza["dispatch.earliest_time"], stanza["dispatch.latest_time"]) == (
        "30 * * * *",
        "-70m@m",
        "-10m@m",
    )
    assert "outputlookup malicious_image_ecr_known_pushers" in stanza["search"]
    assert "populate_lookup" not in " ".join(stanza)
