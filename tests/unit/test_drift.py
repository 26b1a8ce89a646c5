"""Content health and the format-drift guard (sync/drift.py) on hand-made rows."""

from __future__ import annotations

import pytest

from malicious_image.sync.drift import (
    MAX_UNMAPPED_LISTED,
    ContentHealth,
    FormatDriftError,
    check_drift,
    measure,
)

pytestmark = pytest.mark.runtime


def row(n, *, ids=("T1204.003",), type_="TTP", status="production"):
    return {"id": f"id-{n}", "source_path": f"detections/cloud/d{n}.yml", "type": type_, "status": status,
            "mitre_attack_id": list(ids)}


def test_only_rules_that_should_cover_a_technique_are_counted():
    rows = [row(1), row(2, ids=()), row(3, ids=(), type_="Baseline"), row(4, ids=(), status="deprecated"),
            row(5, ids=(), status="removed"), row(6, ids=(), type_="Hunting", status="experimental"),
            row(7, type_="Correlation"), row(8, type_="Anomaly")]
    health = measure(rows, [("MANUAL_REVIEW",), (), ("MANUAL_REVIEW", "new_key")])
    assert (health.counted, health.mapped, health.unmapped) == (5, 3, 2)
    assert health.unmapped_event() == {"count": 2, "first": [
        {"path": "detections/cloud/d2.yml", "id": "id-2"}, {"path": "detections/cloud/d6.yml", "id": "id-6"}]}
    assert health.unknown_keys == {"MANUAL_REVIEW": 2, "new_key": 1}


def test_at_most_100_unmapped_are_listed_but_all_are_counted():
    health = measure([row(n, ids=()) for n in range(250)], [])
    assert health.unmapped == 250 and len(health.unmapped_first) == MAX_UNMAPPED_LISTED == 100


def test_a_fall_of_20_points_passes_and_more_trips():
    before = ContentHealth(counted=100, mapped=100)
    check_drift(before, ContentHealth(counted=100, mapped=80))  # exactly 20 points: allowed
    with pytest.raises(FormatDriftError) as caught:
        check_drift(before, ContentHealth(counted=1712, mapped=72, unknown_keys={"MANUAL_REVIEW": 3}))
    assert str(caught.value).startswith(
        "the content format changed: 1,640 of 1,712 detections have no ATT&CK id "
        "(in the tables in place: 0 of 100); previous tables kept")
    assert "MANUAL_REVIEW (3 files)" in str(caught.value)
    check_drift(before, ContentHealth(counted=1712, mapped=72), accept_format_change=True)


def test_nothing_to_compare_with_never_trips():
    check_drift(None, ContentHealth(counted=10, mapped=0))
    check_drift(ContentHealth(), ContentHealth(counted=10, mapped=0))
    with pytest.raises(FormatDriftError):  # a content that now counts nothing lost everything
        check_drift(ContentHealth(counted=10, mapped=10), ContentHealth())


def test_state_round_trip_and_damaged_states():
    health = measure([row(1), row(2, ids=())], [("x",)])
    assert ContentHealth.from_state(health.to_state()) == health
    for damaged in (None, [], {"counted": "3", "mapped": 1}, {"counted": 2, "mapped": 3}, {"counted": 1}):
        assert ContentHealth.from_state(damaged) is None


def test_a_damaged_coverage_in_the_state_only_loses_the_guard_base():
    from malicious_image.sync.state import SyncState

    assert SyncState.from_dict({"commit": "c", "coverage": [1, 2]}).coverage == {}
    state = SyncState(commit="c", coverage=ContentHealth(3, 2).to_state())
    assert ContentHealth.from_state(SyncState.from_dict(state.to_dict()).coverage) == ContentHealth(3, 2)


def test_unknown_keys_are_bounded_for_the_status_event():
    keys = [(f"key{n:03}",) * 1 for n in range(80)] + [("common",)] * 5
    health = measure([], keys)
    assert len(health.unknown_keys) == 50 and health.unknown_keys["common"] == 5
