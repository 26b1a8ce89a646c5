"""``build.py coverage``: the offline ATT&CK Navigator layer, validated against the layer format 4.5."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest

from devtools.commands.coverage import main
from devtools.coverage.model import (
    CoverageState,
    Detection,
    Filters,
    SiteSearch,
    Technique,
    compute_coverage,
    detection_name,
)

pytest_plugins = ["dashboard_fixtures"]

SCHEMA = json.loads((Path(__file__).parent / "navigator_layer_4_5.schema.json").read_text(encoding="utf-8"))
T1204 = Technique("T1204", "User Execution", ("Execution",))
T1059 = Technique("T1059", "Command and Scripting Interpreter", ("Execution",))
T1595 = Technique("T1595", "Active Scanning", ("Reconnaissance",))


def _fired_file(site, tmp_path):
    path = tmp_path / "fired.jsonl"
    path.write_text(
        "".join(
            json.dumps({"search_name": e["search_name"]}) + "\n"
            for e in site.events
            if e.get("index") in ("risk", "notable")
        ),
        encoding="utf-8",
    )
    return path


def test_layer_of_the_emulated_site_is_valid_and_names_the_detections(site, tmp_path, capsys):
    out = tmp_path / "layer.json"
    status = main(
        [
            "--sync-output",
            str(site.sync_output),
            "--out",
            str(out),
            "--savedsearches",
            *site.conf_layers,
            "--fired",
            str(_fired_file(site, tmp_path)),
        ]
    )
    assert status == 0
    layer = json.loads(out.read_text(encoding="utf-8"))
    jsonschema.validate(layer, SCHEMA)
    assert layer["versions"]["layer"] == "4.5" and layer["domain"] == "enterprise-attack"
    assert layer["gradient"]["maxValue"] > layer["gradient"]["minValue"]
    # one entry per technique and sub-technique of the 2024 catalogue (202 + 435), one per tactic
    # where a technique sits under several
    ids = [t["techniqueID"] for t in layer["techniques"]]
    assert len(set(ids)) == 637 and len(ids) > 637
    assert all(t.get("tactic") for t in layer["techniques"] if ids.count(t["techniqueID"]) > 1)
    image = [t for t in layer["techniques"] if t["techniqueID"] == "T1204.003"]
    assert len(image) == 1 and image[0]["score"] == CoverageState.FIRED and "tactic" not in image[0]
    metadata = image[0]["metadata"]
    assert metadata[0]["name"] == "detections" and metadata[0]["value"].endswith("(10 listed)")
    assert int(metadata[0]["value"].split()[0]) > 10 and len(metadata) == 11
    assert {"name": "fired", "value": "AWS ECR Container Upload Unknown User"} in metadata  # fired listed first
    parent = next(t for t in layer["techniques"] if t["techniqueID"] == "T1204")
    assert parent["showSubtechniques"] is True and not image[0]["showSubtechniques"]
    for entry in layer["techniques"]:  # at most 10 names plus the count
        names = [m for m in entry.get("metadata", []) if m["name"] != "detections"]
        assert len(names) <= 10
    assert {"name": "security_content commit", "value": "b13b314aed0e1778335a55620474e7d27289a20a"} in layer["metadata"]
    assert "versions" in layer and "attack" not in layer["versions"]  # the content's CSV names no release
    out_text = capsys.readouterr().out
    assert "techniques: 50 of 202 covered" not in out_text and "of 202 covered by enabled detections" in out_text
    assert "of 435 covered by enabled detections" in out_text


def test_escu_alone_covers_nothing_because_it_ships_disabled(site, tmp_path):
    out = tmp_path / "layer.json"
    assert (
        main(
            [
                "--sync-output",
                str(site.sync_output),
                "--out",
                str(out),
                "--savedsearches",
                site.conf_layers[0],
            ]
        )
        == 0
    )
    scores = {t["score"] for t in json.loads(out.read_text(encoding="utf-8"))["techniques"]}
    assert scores == {CoverageState.NONE, CoverageState.AVAILABLE}


def test_missing_sync_output_is_an_error_an_admin_can_act_on(tmp_path, capsys):
    assert main(["--sync-output", str(tmp_path / "nope"), "--out", str(tmp_path / "l.json")]) == 2
    assert "build.py sync" in capsys.readouterr().err
    assert not (tmp_path / "l.json").exists()


def test_schema_rejects_what_navigator_would_not_read(site, tmp_path):
    out = tmp_path / "layer.json"
    main(["--sync-output", str(site.sync_output), "--out", str(out)])
    good = json.loads(out.read_text(encoding="utf-8"))
    for breakage in (
        lambda x: x["versions"].update(layer="4.4"),
        lambda x: x.pop("domain"),
        lambda x: x["techniques"][0].update(techniqueID="1204"),
        lambda x: x["techniques"][0].update(metadata=[{"name": "x"}]),
        lambda x: x.update(sorting=7),
        lambda x: x["gradient"].update(colors=["red", "blue"]),
    ):
        bad = copy.deepcopy(good)
        breakage(bad)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, SCHEMA)


def test_state_order_and_sub_technique_roll_up():
    detections = [
        Detection("d1", "Exec Thing", "production", "endpoint", ("T1059.001",)),
        Detection("d2", "Image Thing", "experimental", "cloud", ("T1204.003",)),
    ]
    searches = [
        SiteSearch("ESCU - Exec Thing - Rule", "escu", True, ("T1059.001",)),
        SiteSearch("Malicious Image - Image Thing - Rule", "mi", False, ("T1204.003",), "d2"),
    ]
    coverage = {
        c.technique.technique_id: c
        for c in compute_coverage([T1204, T1059, T1595], detections, searches, ["Malicious Image - Image Thing - Rule"])
    }
    assert coverage["T1059"].state == CoverageState.ENABLED
    assert coverage["T1204"].state == CoverageState.FIRED  # fired beats disabled
    assert coverage["T1595"].state == CoverageState.NONE
    experimental = compute_coverage([T1204, T1059], detections, searches, [], Filters(status="experimental"))
    assert [c.state for c in experimental] == [CoverageState.AVAILABLE, CoverageState.NONE]


def test_detection_name_strips_the_rendered_affixes():
    assert (
        detection_name("ESCU - AWS ECR Container Upload Unknown User - Rule") == "AWS ECR Container Upload Unknown User"
    )
    assert detection_name("Malicious Image - Correlation by User and Risk - Rule") == "Correlation by User and Risk"
    assert detection_name("My own search") == "My own search"
