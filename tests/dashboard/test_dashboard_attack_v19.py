"""Issue 10's "Done when" on the dashboard: the emulated site synced from the October 2024 snapshot
with its ATT&CK catalogue read from an enterprise-like ATT&CK v19 STIX bundle
(``build.py sync --attack-source``, bundle from tests/attack_bundles.py). The matrix follows the
bundle's 15 tactics in its matrix order, T1204.003 has its own row and state in the
sub-technique view, and a detection annotated with a revoked technique shows under the successor
with the revocation note in the technique drilldown. SPL level: every panel's own search in the
evaluator (the rendered picture is in test_dashboard_render.py)."""

from __future__ import annotations

import csv

import pytest
from datasources import data_source_spl, default_tokens, substitute
from emulated_site import build_site, snapshots_dir

from devtools.spl import run_search
from tests.attack_bundles import (
    V19_REVOKED_BY,
    V19_TACTICS,
    V19_TECHNIQUES,
    bundle_bytes,
    technique,
    v19_objects,
)

pytest_plugins = ["dashboard_fixtures"]

MARK = "\u2060"  # the invisible tactic-order prefix of the matrix columns


def _name(header):
    """The tactic name of a matrix column: its order prefix removed."""
    return header.lstrip(MARK)


def _synced(site, table):
    with open(site.sync_output / f"{table}.csv", newline="", encoding="utf-8") as source:
        return list(csv.DictReader(source))


def _cells(matrix):
    visible = [k for k in matrix[0] if not k.startswith("_")]
    return [(_name(column), row[column], row[f"_s{position:02d}"])
            for row in matrix[1:] for position, column in enumerate(visible, 1) if row.get(column)]


def _run(site, definition, name, **tokens):
    spl = substitute(data_source_spl(definition, name), {**default_tokens(definition), **tokens})
    return run_search(spl, site.events, site.context)


def test_the_site_reads_its_catalogue_from_the_v19_bundle(v19_site):
    techniques = _synced(v19_site, "techniques")
    assert {t["attack_version"] for t in techniques} == {"19.0"}
    assert len(techniques) == len(V19_TECHNIQUES)


def test_matrix_shows_the_bundles_fifteen_tactics_in_its_order(v19_results):
    matrix = v19_results["ds_matrix"]
    assert [_name(c) for c in matrix[0] if not c.startswith("_")] == [name for name, _, _ in V19_TACTICS]
    assert [matrix[0][c] for c in matrix[0] if not c.startswith("_")] == [name for name, _, _ in V19_TACTICS]
    cells = _cells(matrix)
    # a tactic the catalogue gives no technique keeps its column, with one "none" placeholder
    empty = {column for column, cell, _ in cells if cell == "· no technique shown"}
    assert "Resource Development" in empty and "Credential Access" in empty
    assert all(state == "none" for _, cell, state in cells if cell == "· no technique shown")
    by_column = {}
    for column, cell, _ in cells:
        by_column.setdefault(column, []).append(cell.split(" ")[1])
    assert by_column["Defense Impairment"] == ["T1685"]  # the successor; revoked T1562 and T1089 left out
    assert "T1610" in by_column["Stealth"] and "T1610" in by_column["Execution"]
    shown = {cell.split(" ")[1] for _, cell, _ in cells}
    assert not shown & {"T1562", "T1089", "T1064"}  # revoked and deprecated techniques get no cell


def test_t1204_003_has_its_own_row_and_state_in_the_subtechnique_view(v19_results):
    rows = {r["sub-technique"]: r for r in v19_results["ds_subtechniques"]}
    assert set(rows) == {"T1204.001", "T1204.002", "T1204.003"}
    assert rows["T1204.003"]["name"] == "Malicious Image"
    assert rows["T1204.003"]["state"] == "fed" and rows["T1204.003"]["activity"] == "fired (7 d)"
    assert rows["T1204.002"]["state"] != "fed"
    t1204 = next(cell for _, cell, _ in _cells(v19_results["ds_matrix"]) if " T1204 " in cell)
    assert t1204.startswith("● T1204 User Execution (sub 1/3)")


def test_headline_figures_count_the_bundles_current_techniques_and_subtechniques(v19_results):
    current = [t for t in V19_TECHNIQUES if not t[4]]
    parents = [t for t in current if "." not in t[0]]
    assert v19_results["ds_head_techniques"][0]["total"] == str(len(parents)) == "6"
    assert v19_results["ds_head_subtechniques"][0]["total"] == str(len(current) - len(parents)) == "5"


def test_a_detection_on_a_revoked_technique_shows_under_its_successor_with_the_note(v19_site, definition):
    rows = {r["detection"]: r for r in _run(v19_site, definition, "ds_technique_detail",
                                            technique="T1685 Impair Defenses")}
    content = {d["name"]: d for d in _synced(v19_site, "detections")}
    expected = {name for name, d in content.items() if "T1685" in d["attack_technique_id"]}
    assert set(rows) == expected and len(expected) > 50
    exclusion = rows["Add or Set Windows Defender Exclusion"]
    assert content["Add or Set Windows Defender Exclusion"]["mitre_attack_id"].split("\n") == ["T1562.001", "T1562"]
    assert exclusion["technique ids"] == ["T1685", "T1685.002"]
    assert exclusion["note"] == [f"mapped to T1562, revoked in ATT&CK 19.0 by {V19_REVOKED_BY['T1562']}",
                                 f"mapped to T1562.001, revoked in ATT&CK 19.0 by {V19_REVOKED_BY['T1562.001']}"]
    subs = {r["sub-technique"]: r for r in _run(v19_site, definition, "ds_subtechniques",
                                                technique="T1685 Impair Defenses")}
    assert set(subs) == {"T1685.002"} and subs["T1685.002"]["state"] != "none"
    # the revoked ids themselves count nowhere: no row of the coverage carries them
    coverage = {r["technique_id"] for r in _run(v19_site, definition, "ds_coverage")}
    assert not coverage & set(V19_REVOKED_BY)



EMPTY_RETIRED = "no synced detection is mapped to a deprecated technique"
# No October 2024 detection maps to the bundle's deprecated T1064, so a second v19 bundle also
# deprecates T1537 (Transfer Data to Cloud Account), which six real 2024 detections carry.
DEPRECATED_IN_USE = ("T1537", "Transfer Data to Cloud Account")


@pytest.fixture(scope="module")
def deprecated_site(tmp_path_factory):
    """The v19 site (about 15 s more) whose bundle also deprecates a technique content maps to."""
    if not (snapshots_dir() / "splunk-security_content-b13b314.tar.gz").is_file():
        pytest.skip("the security_content snapshots of ../shared are not here (set SHARED_DIR)")
    workdir = tmp_path_factory.mktemp("v19_deprecated")
    bundle = workdir / "enterprise-attack-19.0.json"
    extra = [technique(*DEPRECATED_IN_USE, ("exfiltration",), ("IaaS",), deprecated=True)]
    bundle.write_bytes(bundle_bytes(v19_objects("19.0", extra=extra)))
    return build_site(workdir, attack_source=bundle)


def _deprecated_mappings(site):
    """(detection, deprecated id, note) for every "deprecated in" note the sync wrote, and the
    catalogue's deprecated ids: what the retired-techniques panel must list, from the synced CSVs."""
    deprecated = {t["technique_id"] for t in _synced(site, "techniques") if t["deprecated"] == "1"}
    rows = set()
    for detection in _synced(site, "detections"):
        for note in filter(None, detection["attack_mapping_note"].split("\n")):
            if ", deprecated in ATT&CK " in note:
                rows.add((detection["name"], note.split(" ")[2].rstrip(","), note))
    return rows, deprecated


def _empty_state(rows):
    """One row, its detection cell the empty-state text, every other cell empty."""
    return [{k: v for k, v in row.items() if v not in (None, "")} for row in rows] == [{"detection": EMPTY_RETIRED}]


def test_retired_techniques_panel_lists_exactly_the_detections_on_deprecated_techniques(deprecated_site, definition):
    expected, deprecated = _deprecated_mappings(deprecated_site)
    assert deprecated == {"T1064", "T1537"}
    content = {d["name"]: d for d in _synced(deprecated_site, "detections")}
    on_deprecated = {n for n, d in content.items() if set(d["mitre_attack_id"].split("\n")) & deprecated}
    assert len(on_deprecated) == 6 and {tid for _, tid, _ in expected} == {"T1537"}
    rows = _run(deprecated_site, definition, "ds_retired_techniques")
    assert {r["detection"] for r in rows} == on_deprecated == {n for n, _, _ in expected}
    assert {(r["detection"], r["retired technique"].split(" ")[0], r["note"]) for r in rows} == expected
    assert all(r["retired technique"] == "T1537 Transfer Data to Cloud Account" for r in rows)
    assert all(r["note"] == "mapped to T1537, deprecated in ATT&CK 19.0" for r in rows)
    for row in rows:  # type and status as synced; enabled as the other panels compute it
        assert (row["type"], row["status"]) == (content[row["detection"]]["type"], content[row["detection"]]["status"])
    detections = {r["detection"]: r for r in _run(deprecated_site, definition, "ds_detections")}
    assert {r["detection"]: r["enabled"] for r in rows} == {
        n: "enabled" if detections[n]["enabled"] == "1" else "not enabled" for n in on_deprecated}


def test_retired_techniques_panel_is_empty_when_no_detection_maps_to_a_deprecated_technique(v19_site, v19_results):
    """The v19 bundle deprecates T1064, which no 2024 detection carries: the catalogue flag alone
    lists nothing, and the panel says so in its one row."""
    assert _deprecated_mappings(v19_site) == (set(), {"T1064"})
    assert _empty_state(v19_results["ds_retired_techniques"])


def test_retired_techniques_panel_is_empty_with_the_content_csv_catalogue(site, results):
    """The October 2024 CSV catalogue (mitre_enrichment.csv) flags no technique deprecated."""
    assert _deprecated_mappings(site) == (set(), set())
    assert _empty_state(results["ds_retired_techniques"])
