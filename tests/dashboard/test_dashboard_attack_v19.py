"""Issue 10's "Done when" on the dashboard: the emulated site synced from the October 2024 snapshot
with its ATT&CK catalogue read from an enterprise-like ATT&CK v19 STIX bundle
(``build.py sync --attack-source``, bundle from tests/attack_bundles.py). The matrix follows the
bundle's 15 tactics in its matrix order, T1204.003 has its own row and state in the
sub-technique view, and a detection annotated with a revoked technique shows under the successor
with the revocation note in the technique drilldown. SPL level: every panel's own search in the
evaluator (the rendered picture is in test_dashboard_render.py)."""

from __future__ import annotations

import csv

from datasources import data_source_spl, default_tokens, substitute

from devtools.spl import run_search
from tests.attack_bundles import V19_REVOKED_BY, V19_TACTICS, V19_TECHNIQUES

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
