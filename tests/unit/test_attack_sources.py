"""ATT&CK providers (content/attack_sources.py) against an emulated attack-stix-data: one conditional
request when nothing changed, a download only for a new release, the last good catalogue kept
when a download fails, the content's CSV (said so) when there is no catalogue at all."""

from __future__ import annotations

import json

import pytest

from malicious_image.content.attack_sources import (
    AttackSourceError,
    GitHubAttack,
    LocalAttack,
    SecurityContentAttack,
    attack_provider,
    catalogue_from_json,
    catalogue_to_json,
    choose_release,
)
from malicious_image.content.stix import read_bundle
from tests import attack_bundles as B
from tests.emulators.attack_stix_server import AttackStixEmulator
from tests.support.paths import SHARED

pytestmark = pytest.mark.runtime
REAL_INDEX = SHARED / "attack-stix" / "index.json"


def test_choose_release_on_the_real_index() -> None:
    if not REAL_INDEX.is_file():
        pytest.skip(f"{REAL_INDEX} is absent")
    index = json.loads(REAL_INDEX.read_bytes())
    version, url = choose_release(index)
    assert version == "18.1" and url.endswith("/enterprise-attack/enterprise-attack-18.1.json")
    assert choose_release(index, "15.1")[0] == "15.1"
    assert choose_release(index, "17.1", domain="mobile-attack")[1].endswith("mobile-attack-17.1.json")
    with pytest.raises(AttackSourceError, match=r"ATT&CK 99.0 is not in index.json \(newest listed: 18.1"):
        choose_release(index, "99.0")
    with pytest.raises(AttackSourceError, match="no 'collections'"):
        choose_release({"objects": []})


def test_catalogue_cache_round_trip() -> None:
    catalogue = read_bundle(B.v19_bundle())
    assert catalogue_from_json(catalogue_to_json(catalogue)) == catalogue


def test_github_one_conditional_request_when_unchanged_and_download_on_a_new_release(tmp_path) -> None:
    with AttackStixEmulator() as server:
        server.add("19.0", B.v19_bundle("19.0"))
        provider = GitHubAttack(str(tmp_path), index_url=server.index_url)
        first = provider.load(provider.resolve())
        assert first.catalogue is not None and first.catalogue.version == "19.0" and not first.info["fallback"]
        assert first.key == "github:enterprise-attack:19.0"
        assert [code for _, code in server.requests] == [200, 200]  # index, bundle

        server.requests.clear()
        again = GitHubAttack(str(tmp_path), index_url=server.index_url)
        resolution = again.resolve()
        assert resolution.key == first.key and [code for _, code in server.requests] == [304]
        assert again.load(resolution).catalogue == first.catalogue  # from the cache: no download
        assert len(server.requests) == 1 and again.requests_made == 1

        server.requests.clear()
        server.add("19.1", B.v19_bundle("19.1"))
        newer = GitHubAttack(str(tmp_path), index_url=server.index_url)
        loaded = newer.load(newer.resolve())
        assert loaded.catalogue.version == "19.1" and loaded.key == "github:enterprise-attack:19.1"
        assert [code for _, code in server.requests] == [200, 200]

        pinned = GitHubAttack(str(tmp_path), index_url=server.index_url, version="19.0")
        assert pinned.load(pinned.resolve()).catalogue.version == "19.0"


@pytest.mark.parametrize("fault", [{"kind": "status", "code": 503}, {"kind": "drop"}])
def test_a_failed_download_keeps_the_last_good_catalogue(tmp_path, fault) -> None:
    with AttackStixEmulator() as server:
        server.add("19.0", B.v19_bundle("19.0"))
        provider = GitHubAttack(str(tmp_path), index_url=server.index_url)
        provider.load(provider.resolve())
        server.add("19.1", B.v19_bundle("19.1"))
        server.fault(fault.pop("kind"), **fault)
        loaded = provider.load(provider.resolve())
    assert loaded.catalogue is not None and loaded.catalogue.version == "19.0"
    assert loaded.key == "github:enterprise-attack:19.0" and not loaded.info["fallback"]
    assert (
        "ATT&CK 19.1 bundle not read" in loaded.info["message"]
        and "kept the last good catalogue" in loaded.info["message"]
    )


def test_no_catalogue_at_all_falls_back_to_the_csv_and_says_so(tmp_path) -> None:
    with AttackStixEmulator() as server:
        server.add("19.0", B.v19_bundle("19.0"))
        server.fault("status", code=500)
        provider = GitHubAttack(str(tmp_path), index_url=server.index_url)
        loaded = provider.load(provider.resolve())
    assert loaded.catalogue is None and loaded.key == "" and loaded.info["fallback"] is True
    assert "mitre_enrichment.csv is used" in loaded.info["message"]


def test_an_unreachable_index_keeps_the_cache(tmp_path) -> None:
    with AttackStixEmulator() as server:
        server.add("19.0", B.v19_bundle("19.0"))
        GitHubAttack(str(tmp_path), index_url=server.index_url).load(
            GitHubAttack(str(tmp_path), index_url=server.index_url).resolve()
        )
        url = server.index_url
    provider = GitHubAttack(str(tmp_path), index_url=url, timeout=(1.0, 1.0))  # the server is gone
    resolution = provider.resolve()
    assert resolution.key == "github:enterprise-attack:19.0" and "not read" in resolution.message
    loaded = provider.load(resolution)
    assert loaded.catalogue.version == "19.0" and "not read" in loaded.info["message"]


def test_local_bundle_and_index_never_touch_the_network(tmp_path) -> None:
    bundle = tmp_path / "enterprise-attack" / "enterprise-attack-19.0.json"
    bundle.parent.mkdir()
    bundle.write_bytes(B.v19_bundle())
    index = {
        "collections": [
            {
                "versions": [
                    {"version": "19.0", "url": "https://example.invalid/enterprise-attack/enterprise-attack-19.0.json"}
                ]
            }
        ]
    }
    (tmp_path / "index.json").write_text(json.dumps(index))
    for path in (bundle, tmp_path / "index.json"):
        provider = LocalAttack(str(path))
        resolution = provider.resolve()
        assert resolution.key.startswith("file:") and resolution.url == str(bundle)
        loaded = provider.load(resolution)
        assert loaded.catalogue.version == "19.0" and provider.requests_made == 0
    broken = tmp_path / "broken.json"
    broken.write_bytes(b'{"type": "bundle", "objects": [')
    loaded = LocalAttack(str(broken)).load(LocalAttack(str(broken)).resolve())
    assert loaded.catalogue is None and loaded.info["fallback"] and "invalid JSON" in loaded.info["message"]


def test_settings_are_checked() -> None:
    assert isinstance(attack_provider("security_content"), SecurityContentAttack)
    with pytest.raises(AttackSourceError, match="absolute path"):
        attack_provider("relative/bundle.json")
    with pytest.raises(AttackSourceError, match="cache folder"):
        attack_provider("github")
    with pytest.raises(AttackSourceError, match="release number"):
        attack_provider("github", cache_dir="/tmp", version="latest")


def test_settings_of_a_stanza(tmp_path) -> None:
    from malicious_image.content.attack_sources import attack_from_settings

    github = attack_from_settings({}, cache_dir=str(tmp_path))
    assert isinstance(github, GitHubAttack) and github.version == ""
    pinned = attack_from_settings({"attack_source": "github", "attack_version": " 19.0 "}, cache_dir=str(tmp_path))
    assert pinned.version == "19.0"
    assert isinstance(attack_from_settings({"attack_source": "security_content"}, cache_dir=""), SecurityContentAttack)
    assert isinstance(attack_from_settings({"attack_source": str(tmp_path / "b.json")}, cache_dir=""), LocalAttack)


def test_an_oversized_bundle_is_refused_and_the_cache_kept(tmp_path, monkeypatch) -> None:
    from malicious_image.content import attack_sources

    with AttackStixEmulator() as server:
        server.add("19.0", B.v19_bundle("19.0"))
        provider = GitHubAttack(str(tmp_path), index_url=server.index_url)
        provider.load(provider.resolve())
        server.add("19.1", B.v19_bundle("19.1"))
        monkeypatch.setattr(attack_sources, "MAX_BUNDLE_BYTES", 1000)
        loaded = provider.load(provider.resolve())
    assert loaded.catalogue.version == "19.0" and "larger than 1000 bytes" in loaded.info["message"]
