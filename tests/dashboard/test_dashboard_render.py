"""The dashboard rendered by Splunk's dashboard framework in headless Chromium, each data source
fed with what its own SPL returned over the emulated site: no panel may show an error, or "no
results" where its search returned rows, and the matrix must show the computed coverage.

Set UPDATE_SCREENSHOTS=1 to rewrite the screenshots in docs/ from this run (apt-get install pngquant
first to keep them small).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from browser import bundle, chromium_path, npm_ready, run_chromium, serve, write_page_data
from conftest import ROOT
from datasources import ATTACK_COVERAGE, as_test_definition
from dom import panels, preset_validation

pytest_plugins = ["dashboard_fixtures"]
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not npm_ready(), reason="run npm ci in tests/dashboard first"),
    pytest.mark.skipif(chromium_path() is None, reason="apt-get install -y chromium"),
]
WIDTH = 1600
# (file under docs/, panel at the top of the picture, height in pixels)
SCREENSHOTS = (
    ("dashboard-coverage.png", None, 1560),
    ("dashboard-t1204.png", "viz_by_tactic", 1780),
)
STATE_COLORS = {
    "▲": "rgb(217, 130, 43)",
    "●": "rgb(30, 138, 76)",
    "○": "rgb(47, 85, 119)",
    "·": "rgb(42, 45, 51)",
}


@pytest.fixture(scope="session")
def page_dir(tmp_path_factory):
    """The bundled render page (bundle.js, bundle.css, index.html); about 3 s."""
    out = tmp_path_factory.mktemp("render")
    seconds = bundle(out)
    print(f"bundle: {seconds:.1f} s")
    return out


@pytest.fixture(scope="session")
def rendered(page_dir, definition, results, tmp_path_factory):
    """(DOM, screenshot paths) of the dashboard with the emulated site's data."""
    write_page_data(page_dir, as_test_definition(definition, results), definition)
    shots = tmp_path_factory.mktemp("shots")
    started = time.monotonic()
    with serve(page_dir) as url:
        dom = run_chromium(f"{url}/index.html", shots / "profile", width=WIDTH, height=1600)
        for name, section, height in SCREENSHOTS:
            query = f"?section={section}" if section else ""
            run_chromium(
                f"{url}/index.html{query}",
                shots / "profile",
                screenshot=shots / name,
                width=WIDTH,
                height=height,
            )
    print(f"chromium: {time.monotonic() - started:.1f} s for the DOM and {len(SCREENSHOTS)} screenshots")
    if os.environ.get("UPDATE_SCREENSHOTS"):
        for name, _, _ in SCREENSHOTS:
            _publish(shots / name, ROOT / "docs" / name)
    return dom, shots


def _publish(shot: Path, target: Path) -> None:
    """Copy a screenshot into docs/, through Debian's pngquant when it is installed (about 3x smaller)."""
    if shutil.which("pngquant"):
        subprocess.run(
            ["pngquant", "--quality=70-95", "--speed=1", "--force", "--output", str(target), str(shot)], check=True
        )
    else:
        shutil.copyfile(shot, target)


def test_preset_schema_accepts_the_definition(rendered):
    dom, _ = rendered
    assert preset_validation(dom) == []


def test_every_panel_rendered_without_error(rendered, definition):
    dom, _ = rendered
    shown = panels(dom)
    assert set(shown) == set(definition["visualizations"])
    assert {viz: p.problems for viz, p in shown.items() if p.problems} == {}


def test_no_panel_says_no_results_where_its_search_returned_rows(rendered, definition, results):
    dom, _ = rendered
    shown = panels(dom)
    for viz_id, viz in definition["visualizations"].items():
        source = viz.get("dataSources", {}).get("primary")
        if source is None:
            continue
        assert results[source], f"{source} returned no rows"
        assert not shown[viz_id].shows_no_data, f"{viz_id} shows no results though {source} returned rows"


def test_matrix_shows_the_tactics_in_order_and_colours_cells_by_state(rendered, results):
    dom, _ = rendered
    matrix = panels(dom)["viz_matrix"]
    assert matrix.headers == list(results["ds_matrix"][0])
    assert "▲ T1204 User Execution [8/46]" in matrix.cells
    for glyph, color in STATE_COLORS.items():
        cell = next(c for c in matrix.cells if c.startswith(glyph + " "))
        assert f"background-color: {color}" in matrix.cell_style(cell), (glyph, matrix.cell_style(cell))


def test_headline_figures_are_shown(rendered, results):
    dom, _ = rendered
    shown = panels(dom)
    for viz_id, source in (("viz_head_enabled", "ds_head_enabled"), ("viz_head_total", "ds_head_total")):
        assert results[source][0]["techniques"] in shown[viz_id].text


def test_screenshots_are_written_and_reasonably_small(rendered):
    _, shots = rendered
    for name, _, _ in SCREENSHOTS:
        size = (shots / name).stat().st_size
        assert 50_000 < size < 1_500_000, (name, size)


def test_a_panel_without_rows_or_with_an_error_is_caught(page_dir, definition, results, tmp_path):
    broken = dict(results, ds_rules=[])
    rendered_definition = as_test_definition(definition, broken)
    rendered_definition["dataSources"]["ds_ecr_data"]["options"]["error"] = "Error in 'search' command"
    page = tmp_path / "page"
    shutil.copytree(page_dir, page)
    write_page_data(page, rendered_definition, definition)
    with serve(page) as url:
        dom = run_chromium(f"{url}/index.html", tmp_path / "profile", width=WIDTH, height=1600)
    shown = panels(dom)
    assert shown["viz_rules"].shows_no_data
    assert shown["viz_ecr_data"].problems or "Error in 'search' command" in shown["viz_ecr_data"].text


def test_definition_source_is_what_was_rendered():
    assert ATTACK_COVERAGE.is_file() and Path(ROOT / "app/default/data/ui/views/attack_coverage.xml").is_file()
