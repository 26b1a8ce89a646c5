"""pytest fixtures shared by the dashboard tests (imported by name into each test module).

The emulated site (see emulated_site.py) is built once per session: about 10 s for three real
syncs, the replay and the confs. Tests read the snapshots in ../shared; without them they skip.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest
from datasources import ATTACK_COVERAGE, run_data_source
from emulated_site import Site, build_site, snapshots_dir


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """The emulated site the dashboard's searches run against."""
    if not (snapshots_dir() / "splunk-security_content-b13b314.tar.gz").is_file():
        pytest.skip("the security_content snapshots of ../shared are not here (set SHARED_DIR)")
    return build_site(tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="session")
def definition() -> Dict[str, Any]:
    """The attack_coverage Dashboard Studio definition (the JSON source)."""
    return json.loads(ATTACK_COVERAGE.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def results(site: Site, definition: Dict[str, Any]) -> Dict[str, List[dict]]:
    """Every data source's rows, from its own SPL over the emulated site."""
    return {name: run_data_source(definition, name, site.events, site.context) for name in definition["dataSources"]}


@pytest.fixture(scope="session")
def standalone_site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """The same site without Enterprise Security: the app's alert action writes notables and risk
    to its own indexes, which the index macros name."""
    if not (snapshots_dir() / "splunk-security_content-b13b314.tar.gz").is_file():
        pytest.skip("the security_content snapshots of ../shared are not here (set SHARED_DIR)")
    return build_site(tmp_path_factory.mktemp("standalone"), mode="standalone")


@pytest.fixture(scope="session")
def standalone_results(standalone_site: Site, definition: Dict[str, Any]) -> Dict[str, List[dict]]:
    """Every data source's rows over the standalone site."""
    return {
        name: run_data_source(definition, name, standalone_site.events, standalone_site.context)
        for name in definition["dataSources"]
    }


@pytest.fixture(scope="session")
def v19_site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """The site with its ATT&CK catalogue from an enterprise-like ATT&CK v19 STIX bundle
    (tests/attack_bundles.py: 15 tactics, T1204.003, a revoked chain, a deprecated technique,
    groups) instead of security_content's CSV: issue 10's "Done when"."""
    if not (snapshots_dir() / "splunk-security_content-b13b314.tar.gz").is_file():
        pytest.skip("the security_content snapshots of ../shared are not here (set SHARED_DIR)")
    from tests.attack_bundles import v19_bundle

    workdir = tmp_path_factory.mktemp("v19")
    bundle = workdir / "enterprise-attack-19.0.json"
    bundle.write_bytes(v19_bundle())
    return build_site(workdir, attack_source=bundle)


@pytest.fixture(scope="session")
def v19_results(v19_site: Site, definition: Dict[str, Any]) -> Dict[str, List[dict]]:
    """Every data source's rows over the ATT&CK v19 site."""
    return {name: run_data_source(definition, name, v19_site.events, v19_site.context)
            for name in definition["dataSources"]}
