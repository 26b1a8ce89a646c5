"""AWS ECR Container Upload Outside Business Hours, replayed as shipped (and with local settings)."""

from __future__ import annotations

import pytest

from devtools.cloudtrail import sample as s
from tests.rules_support import HOURS, at, example_log, fresh_app, ids, run_rule

DIGEST = "sha256:" + "ef" * 32


def push(when, *, who=None, **kwargs):
    i = ids()
    kwargs.setdefault("digest", DIGEST)
    return s.put_image(i, at(when), who or s.iam_user(i, "alice"), "payments/api", **kwargs)


def settings(tz="UTC", start="08:00", end="20:00", days="monday,tuesday,wednesday,thursday,friday"):
    return fresh_app(
        malicious_image_aws_ecr_business_hours=(
            f'eval bh_tz="{tz}", bh_start="{start}", bh_end="{end}", bh_days="{days}"'
        )
    )


def fired(when, app=None, **kwargs) -> bool:
    return bool(run_rule(HOURS, [push(when, **kwargs)], app=app).rows)


@pytest.mark.parametrize(
    ("when", "outside"),
    [
        ("2026-11-20T19:59:59", False),  # Friday, last second of business hours
        ("2026-11-20T20:00:00", True),  # Friday, end is exclusive
        ("2026-11-16T07:59:59", True),  # Monday, one second early
        ("2026-11-16T08:00:00", False),  # Monday, start is inclusive
        ("2026-11-18T12:00:00", False),  # Wednesday noon
        ("2026-11-18T03:00:00", True),  # Wednesday night
        ("2026-11-21T12:00:00", True),  # Saturday noon
        ("2026-11-22T12:00:00", True),  # Sunday noon
    ],
)
def test_default_is_monday_to_friday_8_to_20_utc(when, outside):
    assert fired(when) is outside


def test_exact_row_with_upstream_field_names():
    rows = run_rule(HOURS, [push("2026-11-21T02:05:00", tag="hotfix-1")]).rows
    assert rows == [
        {
            "awsRegion": "eu-central-1",
            "eventName": "PutImage",
            "eventSource": "ecr.amazonaws.com",
            "user": "alice",
            "userName": "alice",
            "src_ip": "203.0.113.10",
            "imageTag": "hotfix-1",
            "registryId": "111111111111",
            "repository": "payments/api",
            "image": "payments/api",
            "phase": "release",
            "severity": "medium",
            "firstTime": "2026-11-21T02:05:00",
            "lastTime": "2026-11-21T02:05:00",
            "imageDigest": DIGEST,
        }
    ]


@pytest.mark.parametrize(
    ("when", "outside"),
    [
        ("2026-07-01T06:30:00", False),  # Wednesday 08:30 CEST: inside, though 06:30 UTC
        ("2026-01-07T06:30:00", True),  # Wednesday 07:30 CET: outside
        ("2026-03-30T06:00:00", False),  # Monday after the switch to CEST: 08:00 local, inside
        ("2026-03-27T06:59:59", True),  # Friday before the switch: 07:59:59 CET
        ("2026-03-27T07:00:00", False),  # 08:00:00 CET
        ("2026-10-26T18:59:59", False),  # Monday after the switch back: 19:59:59 CET
        ("2026-10-23T18:00:00", True),  # Friday before it: 20:00:00 CEST
    ],
)
def test_time_zone_follows_daylight_saving(when, outside):
    assert fired(when, app=settings(tz="Europe/Berlin")) is outside


def test_weekday_is_the_local_weekday():
    app = settings(tz="America/New_York")
    assert fired("2026-11-21T00:30:00", app=app) is False  # Saturday UTC = Friday 19:30 EST
    assert fired("2026-11-17T01:30:00", app=app) is True  # Tuesday UTC = Monday 20:30 EST


def test_half_hour_zone_and_custom_days_and_hours():
    app = settings(tz="Asia/Kolkata", start="09:30", end="18:00", days="sunday, monday,tuesday,wednesday,thursday")
    assert fired("2026-11-22T04:00:00", app=app) is False  # Sunday 09:30 IST, a working day there
    assert fired("2026-11-22T03:59:59", app=app) is True  # Sunday 09:29:59 IST
    assert fired("2026-11-20T06:00:00", app=app) is True  # Friday 11:30 IST, not a working day


def test_night_shift_across_midnight():
    app = settings(start="22:00", end="06:00")
    assert fired("2026-11-18T23:00:00", app=app) is False
    assert fired("2026-11-18T05:59:59", app=app) is False
    assert fired("2026-11-18T12:00:00", app=app) is True


def test_unknown_time_zone_falls_back_to_utc():
    app = settings(tz="Mars/Olympus_Mons")
    assert fired("2026-11-18T12:00:00", app=app) is False
    assert fired("2026-11-18T21:00:00", app=app) is True


def test_assumed_role_push_by_digest():
    i = ids()
    role = s.assumed_role(i, "contractor-role", "mallory")
    rows = run_rule(HOURS, [push("2026-11-21T02:12:00", who=role, by_digest=True)]).rows
    assert [(r["user"], r["userName"], r["imageTag"], r["imageDigest"]) for r in rows] == [
        ("contractor-role", "contractor-role", "unknown", DIGEST)
    ]


def test_ecr_public_counts_errors_and_aws_services_do_not():
    i = ids()
    records = [
        push("2026-11-21T02:20:00", public=True, tag="latest"),
        push("2026-11-21T02:21:00", error="ImageTagAlreadyExistsException"),
        s.put_image(i, at("2026-11-21T02:25:00"), s.aws_service("ecr.amazonaws.com"), "cache/nginx"),
    ]
    rows = run_rule(HOURS, records).rows
    assert [(r["eventSource"], r["awsRegion"]) for r in rows] == [("ecr-public.amazonaws.com", "us-east-1")]


def test_aws_internal_source_is_kept():
    rows = run_rule(HOURS, [push("2026-11-21T02:00:00", ip="AWS Internal")]).rows
    assert rows[0]["src_ip"] == "AWS Internal"


def test_pushes_of_one_user_to_one_tag_are_one_row():
    rows = run_rule(HOURS, [push("2026-11-21T02:00:00"), push("2026-11-21T02:30:00")]).rows
    assert [(r["firstTime"], r["lastTime"]) for r in rows] == [("2026-11-21T02:00:00", "2026-11-21T02:30:00")]


def test_real_putimage_sample_wednesday_23_17_utc():
    rows = run_rule(HOURS, [example_log("aws_cloudtrail_putimage")]).rows
    assert rows == [
        {
            "awsRegion": "eu-central-1",
            "eventName": "PutImage",
            "eventSource": "ecr.amazonaws.com",
            "user": "test",
            "userName": "test",
            "src_ip": "AWS Internal",
            "imageTag": "latest",
            "registryId": "111111111112",
            "repository": "devsecops/cat_dog_server",
            "image": "devsecops/cat_dog_server",
            "phase": "release",
            "severity": "medium",
            "firstTime": "2021-08-18T23:17:30",
            "lastTime": "2021-08-18T23:17:30",
            "imageDigest": "sha256:b7798f35949cc1a2d435c9ac59ab69e857fe635a359c96e4f56a8498ce02019c",
        }
    ]
    assert run_rule(HOURS, [example_log("aws_cloudtrail_putimage")], app=settings(tz="Asia/Tokyo")).rows == []
