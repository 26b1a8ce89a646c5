"""The Navigator layer of the app (malicious_image.navigator) from tables built with a generated
enterprise-like v19 catalogue: valid against the layer format 4.5 schema, read back by
mitreattack-python's layer classes, T1204.003 its own entry, releases named, names capped."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from malicious_image.content.stix import read_bundle
from malicious_image.navigator import MAX_NAMES, layer_from_tables, layer_json
from malicious_image.sync.tables import build_tables
from tests import attack_bundles as B

pytestmark = pytest.mark.runtime
SCHEMA = json.loads((Path(__file__).parents[1] / "dashboard" / "navigator_layer_4_5.schema.json").read_text())


@pytest.fixture(scope="module")
def layer():
    tables = build_tables([], [], [], "c0ffee", catalogue=read_bundle(B.v19_bundle("19.0")))
    detections = [{"name": f"Detection {n:02d}", "attack_technique_id": ["T1204.003"]} for n in range(12)]
    detections.append({"name": "Old annotation", "mitre_attack_id": "T1610\nT1562.001"})  # a CSV-style row
    return layer_from_tables(
        tables["techniques"], tables["tactics"], detections,
        enabled=[("Malicious Image - Rule A - Rule", ["T1204.003"])], fired=[("Rule B", ["T1496"])],
    )  # fmt: skip


def test_valid_and_names_its_release(layer) -> None:
    jsonschema.validate(layer, SCHEMA)
    assert layer["versions"] == {"attack": "19", "navigator": "5.1.0", "layer": "4.5"}
    assert {"name": "ATT&CK release", "value": "19.0"} in layer["metadata"]


def test_every_current_technique_and_subtechnique_has_its_own_score(layer) -> None:
    entries = {}
    for entry in layer["techniques"]:
        entries.setdefault(entry["techniqueID"], []).append(entry)
    assert set(entries) == {t for t, _, _, _, flag in B.V19_TECHNIQUES if not flag}  # no revoked/deprecated entry
    assert [e["score"] for e in entries["T1204.003"]] == [2] and [e["score"] for e in entries["T1204"]] == [0]
    assert entries["T1204"][0]["showSubtechniques"] is True
    assert sorted(e["tactic"] for e in entries["T1610"]) == ["execution", "stealth"]
    assert entries["T1496"][0]["score"] == 3 and entries["T1610"][0]["score"] == 1
    metadata = entries["T1204.003"][0]["metadata"]
    assert metadata[0] == {"name": "detections", "value": f"13 ({MAX_NAMES} listed)"}
    assert len(metadata) == 1 + MAX_NAMES and metadata[1] == {
        "name": "enabled",
        "value": "Malicious Image - Rule A - Rule",
    }


def test_mitreattack_python_reads_the_layer(layer) -> None:
    navlayers = pytest.importorskip("mitreattack.navlayers", reason="mitreattack-python is not installed")
    loaded = navlayers.Layer()
    loaded.from_str(layer_json(layer))
    again = loaded.to_dict()
    assert again["versions"]["attack"] == "19" and len(again["techniques"]) == len(layer["techniques"])
    assert {(t["techniqueID"], t.get("tactic"), t["score"]) for t in again["techniques"]} == {
        (t["techniqueID"], t.get("tactic"), t["score"]) for t in layer["techniques"]
    }
