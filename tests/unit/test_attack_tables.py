"""Tables built from MITRE's catalogue (a generated enterprise-like v19 bundle): techniques with
their own rows for sub-techniques, 15 tactics in the bundle's order, groups, and detections on
revoked or deprecated techniques kept and resolved (issue 10 items 1-2)."""

from __future__ import annotations

import dataclasses

import pytest

from malicious_image.content.model import GROUP_FIELDS, TACTIC_FIELDS, TECHNIQUE_FIELDS, Detection
from malicious_image.content.stix import read_bundle
from malicious_image.sync.tables import attack_mapping, build_tables
from tests import attack_bundles as B
from tests.unit.test_tables import fixture_records

pytestmark = pytest.mark.runtime
COMMIT = "c0ffee" * 6 + "c0ff"


@pytest.fixture(scope="module")
def v19_tables():
    catalogue = read_bundle(B.v19_bundle())
    records = fixture_records()
    base = next(r for r in records if isinstance(r, Detection))
    moved = dataclasses.replace(
        base, name="On a moved technique", id="moved-0001", source_path="detections/cloud/moved.yml",
        mitre_attack_id=("T1562.001", "T1064", "T1204.003", "t1685.002", "T9999"),
    )  # fmt: skip
    return build_tables([*records, moved], [], [], COMMIT, catalogue=catalogue)


def test_fifteen_tactics_in_bundle_order(v19_tables):
    rows = v19_tables["tactics"]
    assert [r["tactic"] for r in rows] == [name for name, _, _ in B.V19_TACTICS]
    assert [r["tactic_order"] for r in rows] == list(range(1, 16))
    assert rows[7] | {"source_commit": ""} == {
        "tactic": "Defense Impairment", "tactic_id": "TA0112", "shortname": "defense-impairment", "tactic_order": 8,
        "technique_count": 2, "source_commit": "",  # T1685, T1685.002; the revoked T1562* are not counted
    }  # fmt: skip
    assert all(tuple(r) == TACTIC_FIELDS for r in rows)


def test_t1204_003_has_its_own_row_and_revoked_rows_are_kept(v19_tables):
    rows = {r["technique_id"]: r for r in v19_tables["techniques"]}
    assert all(tuple(r) == TECHNIQUE_FIELDS for r in rows.values())
    image = rows["T1204.003"]
    assert (image["is_subtechnique"], image["parent_technique_id"], image["tactics"]) == (1, "T1204", ["Execution"])
    assert image["attack_version"] == "19.0" and image["platforms"] == ["Containers", "IaaS"]
    assert (rows["T1562.001"]["revoked"], rows["T1562.001"]["revoked_by"]) == (1, "T1685.002")
    assert (rows["T1064"]["deprecated"], rows["T1064"]["revoked"]) == (1, 0)


def test_a_detection_on_a_revoked_technique_counts_under_its_successor(v19_tables):
    row = next(r for r in v19_tables["detections"] if r["id"] == "moved-0001")
    assert row["mitre_attack_id"] == ["T1562.001", "T1064", "T1204.003", "t1685.002", "T9999"]  # as annotated
    assert row["attack_technique_id"] == ["T1685.002", "T1064", "T1204.003", "T9999"]
    assert row["attack_mapping_note"] == [
        "mapped to T1562.001, revoked in ATT&CK 19.0 by T1685.002",
        "mapped to T1064, deprecated in ATT&CK 19.0",
    ]


def test_groups_rows(v19_tables):
    rows = {r["group_id"]: r for r in v19_tables["groups"]}
    assert list(rows) == ["G0007", "G0106", "G0139"]
    assert all(tuple(r) == GROUP_FIELDS for r in rows.values())
    assert rows["G0139"]["technique_id"] == ["T1204.003", "T1496", "T1610"]
    assert rows["G0139"]["url"] == "https://attack.mitre.org/groups/G0139" and rows["G0139"]["attack_version"] == "19.0"


def test_mapping_follows_the_resolved_successor_and_ignores_blanks():
    catalogue = read_bundle(B.v19_bundle())
    by_id = {t.technique_id: t for t in catalogue.techniques}
    assert attack_mapping(["T1089", " ", "T1685.002"], by_id, "19.0") == (
        ["T1685.002"], ["mapped to T1089, revoked in ATT&CK 19.0 by T1685.002"],
    )  # fmt: skip
    assert attack_mapping(["T1204"], {}, "") == (["T1204"], [])
