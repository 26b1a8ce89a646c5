"""The GitHub emulator behaves as GitHub documents (the sync tests rely on it)."""

from __future__ import annotations

import pytest
import requests

from tests.emulators.github_server import GitHubEmulator
from tests.support.paths import SNAPSHOTS

SHA_2024 = "b13b314aed0e1778335a55620474e7d27289a20a"


@pytest.fixture
def gh():
    with GitHubEmulator() as server:
        server.set_ref("develop", SNAPSHOTS / "splunk-security_content-b13b314.tar.gz")
        yield server


def _commit(gh, **headers):
    return requests.get(
        f"{gh.url}/repos/splunk/security_content/commits/develop",
        headers={"Accept": "application/vnd.github.sha", **headers},
        timeout=5,
    )


def test_commit_sha_media_type_etag_and_304(gh):
    first = _commit(gh)
    assert first.status_code == 200 and first.text == SHA_2024
    again = _commit(gh, **{"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""
    assert [r.status for r in gh.requests] == [200, 304]


def test_tarball_redirects_to_download_host(gh):
    answer = requests.get(
        f"{gh.url}/repos/splunk/security_content/tarball/{SHA_2024}", allow_redirects=False, timeout=5
    )
    assert answer.status_code == 302
    assert "/codeload/splunk/security_content/legacy.tar.gz/" in answer.headers["Location"]


def test_unknown_ref_is_422(gh):
    answer = requests.get(f"{gh.url}/repos/splunk/security_content/commits/nope", timeout=5)
    assert answer.status_code == 422 and "No commit found" in answer.json()["message"]


def test_faults_wear_off_after_times(gh):
    gh.fault("rate_limit", endpoint="commits", times=1, code=403, reset_in=120)
    limited = _commit(gh)
    assert limited.status_code == 403 and limited.headers["x-ratelimit-remaining"] == "0"
    assert _commit(gh).status_code == 200


def test_drop_cuts_the_body(gh):
    gh.fault("drop", after_bytes=1000)
    url = f"{gh.url}/codeload/splunk/security_content/legacy.tar.gz/{SHA_2024}"
    answer = requests.get(url, stream=True, timeout=5)
    expected = int(answer.headers["Content-Length"])
    received = 0
    try:  # urllib3 2 raises on a short body; urllib3 1.26 (vendored for Splunk) just ends it
        for chunk in answer.iter_content(65536):
            received += len(chunk)
    except requests.exceptions.ChunkedEncodingError:
        pass
    assert received == 1000 < expected
