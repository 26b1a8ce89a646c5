"""build_tables: the rows of every lookup table, exactly the contract's fields, in a stable order."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest

from malicious_image.content.catalogue import load_tactic_ids, load_tactic_order, read_catalogue, read_catalogue_groups
from malicious_image.content.model import (
    DETECTION_FIELDS,
    GROUP_FIELDS,
    MACRO_FIELDS,
    STORY_FIELDS,
    TACTIC_FIELDS,
    TECHNIQUE_FIELDS,
)
from malicious_image.content.reader import read_member
from malicious_image.sync.tables import (
    DATA_SOURCE_FIELDS,
    TABLE_NAMES,
    TABLES,
    build_tables,
    cloudtrail_event_name,
    duplicate_detection_ids,
)

pytestmark = pytest.mark.runtime

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "content"
COMMIT = "feedfacefeedfacefeedfacefeedfacefeedface"

CATALOGUE = b"""mitre_id,technique,tactics,groups
T1610,Deploy Container,Defense Evasion|Execution,TeamTNT
T1204.003,Malicious Image,Execution,TeamTNT
T1204,User Execution,Execution,APT28
T9999,Invented,Zeta Tactic,no
"""


def fixture_records():
    records = []
    for path in sorted(FIXTURES.rglob("*.yml")):
        era_dir = path.relative_to(FIXTURES).parts[0]
        rel = path.relative_to(FIXTURES / era_dir).as_posix()
        result = read_member(rel, path.read_bytes(), commit="old-commit")
        assert result.rejection is None, result.rejection
        records.append(result.record)
    return records


@pytest.fixture(scope="module")
def tables():
    order = load_tactic_order()
    return build_tables(
        fixture_records(), read_catalogue(CATALOGUE, order), order, COMMIT,
        groups=read_catalogue_groups(CATALOGUE), tactic_ids=load_tactic_ids(),
    )  # fmt: skip


def test_every_table_has_exactly_the_contract_fields(tables):
    assert tuple(tables) == TABLES
    expected = {
        "detections": DETECTION_FIELDS, "techniques": TECHNIQUE_FIELDS, "tactics": TACTIC_FIELDS,
        "groups": GROUP_FIELDS, "stories": STORY_FIELDS, "macros": MACRO_FIELDS,
        "data_sources": DATA_SOURCE_FIELDS,
    }
    for name, rows in tables.items():
        assert rows, name
        for row in rows:
            assert tuple(row) == expected[name], name
            assert row["source_commit"] == COMMIT  # the synced commit, not the cached record's


def test_detection_rows(tables):
    rows = tables["detections"]
    names = [row["name"] for row in rows]
    assert names == sorted(names, key=str.casefold)
    # the same rule in four eras gives four rows that differ only in era
    same = [row for row in rows if row["name"] == "Container Image Pulled From Unlisted Registry"]
    assert sorted(row["era"] for row in same) == ["A", "B", "C1", "C2"]
    for row in same:
        assert row["mitre_attack_id"] == ["T1204.003", "T1204"]
        assert (row["risk_object_field"], row["risk_object_type"], row["risk_score"]) == (
            ["dest", "user"], ["system", "user"], 56)
        assert (row["threat_object_field"], row["threat_object_type"]) == (["process_name"], ["process"])
    removed = next(row for row in rows if row["status"] == "removed")
    assert (removed["search"], removed["risk_score"], removed["risk_object_field"]) == ("", None, [])
    for row in rows:
        for field in ("mitre_attack_id", "analytic_story", "data_source", "risk_object_field",
                      "risk_object_type", "threat_object_field", "threat_object_type"):
            assert isinstance(row[field], list)
        assert len(row["risk_object_field"]) == len(row["risk_object_type"])


def test_technique_and_tactic_rows(tables):
    techniques = tables["techniques"]
    assert [row["technique_id"] for row in techniques] == ["T1204", "T1204.003", "T1610", "T9999"]
    assert techniques[2]["tactics"] == ["Execution", "Defense Evasion"]
    parents = [(r["parent_technique_id"], r["is_subtechnique"]) for r in techniques[:2]]
    assert parents == [("", 0), ("T1204", 1)]
    assert [(r["tactic"], r["tactic_order"], r["technique_count"]) for r in tables["tactics"]] == [
        ("Execution", 1, 3), ("Defense Evasion", 2, 1), ("Zeta Tactic", 3, 1),
    ]


def test_story_and_macro_rows(tables):
    assert [row["name"] for row in tables["macros"]] == ["container_registries_allowed", "fixture_ctime(1)"]
    assert tables["macros"][1]["arguments"] == ["field"]
    assert [row["name"] for row in tables["stories"]] == ["Fixture Images", "Fixture Images"]
    assert tables["stories"][0]["references"] == ["https://attack.mitre.org/techniques/T1204/003/"]


def test_data_source_rows_name_the_sourcetype_and_the_cloudtrail_event():
    assert TABLES is TABLE_NAMES and TABLE_NAMES[-1] == "data_sources"
    [row] = tables_rows = build_tables(fixture_records(), [], load_tactic_order(), COMMIT)["data_sources"]
    assert tables_rows == [row]
    assert (row["name"], row["sourcetype"], row["source"], row["event_name"]) == (
        "Fixture CloudTrail PutImage", "aws:cloudtrail", "aws_cloudtrail", "PutImage")
    assert row["supported_ta"] == ["Splunk Add-on for AWS"]
    assert row["source_path"] == "data_sources/fixture_putimage.yml"


@pytest.mark.parametrize("name, sourcetype, expected", [
    ("AWS CloudTrail PutImage", "aws:cloudtrail", "PutImage"),
    ("AWS CloudTrail", "aws:cloudtrail", ""),                    # the generic source
    ("AWS CloudTrail GetObject Data Event", "aws:cloudtrail", ""),  # not one eventName word
    ("Sysmon EventID 1", "xmlwineventlog", ""),
    ("CloudTrail PutImage", "aws:s3", ""),                     # not CloudTrail's sourcetype
])
def test_cloudtrail_event_name(name, sourcetype, expected):
    assert cloudtrail_event_name(name, sourcetype) == expected


def test_output_does_not_depend_on_input_order():
    order = load_tactic_order()
    records = fixture_records()
    techniques = read_catalogue(CATALOGUE, order)
    first = build_tables(records, techniques, order, COMMIT)
    shuffled = records[:]
    random.Random(7).shuffle(shuffled)
    assert build_tables(shuffled, list(reversed(techniques)), order, COMMIT) == first


def test_duplicate_ids_are_kept_and_reported():
    records = fixture_records()
    original = next(r for r in records if getattr(r, "era", "") == "B" and r.status == "production")
    twin = dataclasses.replace(original, name="Twin", source_path="detections/endpoint/twin.yml")
    rows = build_tables([*records, twin], [], [], COMMIT)["detections"]
    assert sum(row["id"] == original.id for row in rows) == 5  # four eras + the twin
    dupes = duplicate_detection_ids([original, twin])
    assert dupes == {original.id: [original.source_path, "detections/endpoint/twin.yml"]}
