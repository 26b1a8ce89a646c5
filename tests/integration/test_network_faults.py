"""Network faults during a sync from "GitHub": each gives a clear status, retries where that helps,
and leaves the previous CSV tables byte-identical (the core with the CSV writer, as ``build.py
sync`` runs it). Servers: the GitHub emulator and small fault servers, all on 127.0.0.1.

Backoff is kept short with the RetryPolicy parameters (``build.py sync --retries/--backoff``);
sleeps are recorded instead of slept where the wait itself is what is checked.
"""

from __future__ import annotations

import gzip
import json
import shutil
import socket
import time
from pathlib import Path

import pytest

from malicious_image.content.github import GitHubSource
from malicious_image.content.source_base import RetryPolicy
from malicious_image.sync.csv_writer import CsvTableWriter, JsonStateStore
from malicious_image.sync.engine import run_sync
from malicious_image.sync.tables import TABLE_NAMES
from tests import hostile_archives as H
from tests.emulators.fault_servers import LocalServer, Proxy407, make_certificates, openssl_available
from tests.emulators.github_server import GitHubEmulator

pytestmark = pytest.mark.runtime

TABLES = TABLE_NAMES  # the one list (malicious_image.sync.tables)
OLD_SHA, NEW_SHA = "1" * 40, "2" * 40
PASSWORD = "Pr0xyS3cret-do-not-leak"
TOKEN = "ghp_HOSTILEtestTOKEN0123456789abcdefABCD"


class Sleeps:
    """RetryPolicy.sleep that records the waits and sleeps only a token amount."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def _policy(sleeps: Sleeps, attempts: int = 3) -> RetryPolicy:
    return RetryPolicy(attempts=attempts, backoff=0.5, factor=2.0, max_rate_limit_wait=30.0, sleep=sleeps)


@pytest.fixture(scope="module")
def gh():
    with GitHubEmulator() as server:
        yield server


@pytest.fixture(scope="module")
def synced(gh, tmp_path_factory) -> Path:
    gh.set_ref_bytes("develop", H.tarball([], commit=OLD_SHA), OLD_SHA)
    out = tmp_path_factory.mktemp("faults") / "out"
    report = _run(out, GitHubSource(api_url=gh.url, retry_policy=_policy(Sleeps())))
    assert report.outcome == "updated", report.message
    return out


@pytest.fixture
def out(synced, gh, tmp_path) -> Path:
    copy = tmp_path / "out"
    shutil.copytree(synced, copy, symlinks=True)
    extra = H.regular("detections/cloud/new.yml", H.detection_yaml("New", ident="22222222-2222-4333-8444-000000000001"))
    gh.set_ref_bytes("develop", H.tarball([extra], commit=NEW_SHA), NEW_SHA)  # upstream moved on
    gh.clear_faults()
    gh.clear_log()
    return copy


def _run(out: Path, source: GitHubSource):
    writer = CsvTableWriter(out)
    with writer.lock():
        return run_sync(source, writer, JsonStateStore(out / "sync_state.json"))


def _tables(out: Path) -> dict[str, bytes]:
    return {name: (out / f"{name}.csv").read_bytes() for name in TABLES}


def _failed_untouched(out: Path, source: GitHubSource, *fragments: str):
    before = _tables(out)
    report = _run(out, source)
    assert report.outcome == "failed", report.message
    for fragment in fragments:
        assert fragment in report.message, report.message
    assert "previous tables were left in place" in report.message
    assert _tables(out) == before
    state = json.loads((out / "sync_state.json").read_text())
    assert state["commit"] == OLD_SHA and state["outcome"] == "failed"
    return report


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- connection failures ---------------------------------------------------------------------------
def test_name_resolution_failure_is_retried_then_clear(out):
    sleeps = Sleeps()
    source = GitHubSource(api_url="https://api.github.invalid", retry_policy=_policy(sleeps))
    _failed_untouched(out, source, "api.github.invalid", "name could not be resolved")
    assert sleeps.waits == [0.5, 1.0]  # three attempts, exponential backoff


def test_refused_connection_is_retried_then_clear(out):
    sleeps = Sleeps()
    source = GitHubSource(api_url=f"http://127.0.0.1:{_free_port()}", retry_policy=_policy(sleeps))
    _failed_untouched(out, source, "connection refused")
    assert sleeps.waits == [0.5, 1.0]


def test_a_body_that_stalls_mid_download_times_out_and_is_retried(out, gh):
    gh.fault("stall", endpoint="tarball", after_bytes=500, seconds=1.5)
    sleeps = Sleeps()
    source = GitHubSource(api_url=gh.url, timeout=(2.0, 0.3), retry_policy=_policy(sleeps, attempts=2))
    started = time.monotonic()
    _failed_untouched(out, source, "the download broke off", "timed out")
    assert time.monotonic() - started < 10
    assert gh.count("tarball") == 2 and sleeps.waits == [0.5]


def test_a_stall_once_then_a_good_download_syncs(out, gh):
    gh.fault("stall", endpoint="tarball", after_bytes=500, seconds=1.5, times=1)
    source = GitHubSource(api_url=gh.url, timeout=(2.0, 0.3), retry_policy=_policy(Sleeps(), attempts=2))
    report = _run(out, source)
    assert report.outcome == "updated" and report.commit == NEW_SHA, report.message


# -- HTTP status faults ----------------------------------------------------------------------------------
@pytest.mark.parametrize("code", [500, 502, 503])
def test_5xx_is_retried_with_backoff_then_a_clear_status(out, gh, code):
    gh.fault("status", endpoint="commits", code=code)
    sleeps = Sleeps()
    _failed_untouched(out, GitHubSource(api_url=gh.url, retry_policy=_policy(sleeps)), f"HTTP {code}")
    assert gh.count("commits") == 3 and sleeps.waits == [0.5, 1.0]


@pytest.mark.parametrize("code", [502, 503])
def test_5xx_twice_then_success_syncs(out, gh, code):
    gh.fault("status", endpoint="tarball", code=code, times=2)
    sleeps = Sleeps()
    report = _run(out, GitHubSource(api_url=gh.url, retry_policy=_policy(sleeps)))
    assert report.outcome == "updated" and report.commit == NEW_SHA, report.message
    assert sleeps.waits == [0.5, 1.0]


@pytest.mark.parametrize(
    ("code", "params"), [(403, {"reset_in": 2}), (429, {"retry_after": 3})], ids=["403-reset", "429-retry-after"]
)
def test_short_rate_limit_is_waited_out_and_succeeds(out, gh, code, params):
    gh.fault("rate_limit", endpoint="commits", code=code, times=1, **params)
    sleeps = Sleeps()
    report = _run(out, GitHubSource(api_url=gh.url, retry_policy=_policy(sleeps)))
    assert report.outcome == "updated", report.message
    assert len(sleeps.waits) == 1 and 1.0 <= sleeps.waits[0] <= 4.5  # the reset, plus a second


@pytest.mark.parametrize(
    ("code", "params"), [(403, {"reset_in": 3600}), (429, {"retry_after": 900})], ids=["403-reset", "429-retry-after"]
)
def test_long_rate_limit_fails_at_once_saying_when_it_resets(out, gh, code, params):
    gh.fault("rate_limit", endpoint="commits", code=code, **params)
    sleeps = Sleeps()
    report = _failed_untouched(out, GitHubSource(api_url=gh.url, retry_policy=_policy(sleeps)),
                               f"rate limit reached (HTTP {code})", "it resets at", "UTC")  # fmt: skip
    assert sleeps.waits == [] and gh.count("commits") == 1
    assert time.strftime("%Y-%m-%d", time.gmtime()) in report.message


def test_304_is_one_request_and_nothing_written(out, gh):
    gh.set_ref_bytes("develop", H.tarball([], commit=OLD_SHA), OLD_SHA)
    before = _tables(out)
    report = _run(out, GitHubSource(api_url=gh.url, retry_policy=_policy(Sleeps())))
    assert report.outcome == "unchanged"
    assert [(r.endpoint, r.status) for r in gh.requests] == [("commits", 304)]
    assert _tables(out) == before


# -- redirects ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["localhost", "evil.example.com"])
def test_redirect_to_another_host_is_refused_and_never_requested(out, gh, host):
    with LocalServer(lambda h: (200, {"Content-Type": "application/x-gzip"}, H.tarball([]))) as elsewhere:
        gh.fault("redirect", endpoint="redirect", location=f"{elsewhere.url(host)}/evil.tar.gz")
        source = GitHubSource(api_url=gh.url, token=TOKEN, retry_policy=_policy(Sleeps()))
        report = _failed_untouched(out, source, f"redirected the download to http://{host}", "refused")
        assert elsewhere.seen == []  # no request, so no token, ever went there
    assert TOKEN not in json.dumps(report.to_event())


def test_redirect_to_a_github_download_host_is_followed(out, gh):
    """codeload.github.com is one of GitHub's hosts: the redirect is followed (here it cannot be
    reached, so it fails as a network error, not as a refused redirect)."""
    gh.fault("redirect", endpoint="redirect", location="https://codeload.github.invalid/x.tar.gz")
    report = _failed_untouched(out, GitHubSource(api_url=gh.url, retry_policy=_policy(Sleeps(), attempts=1)),
                               "codeload.github.invalid")  # fmt: skip
    assert "not one of GitHub's hosts" in report.message  # .invalid is not codeload.github.com


# -- a gzip-encoded answer to the commits request (GitHub compresses API answers) ---------------------
def test_gzip_content_encoding_of_the_sha_answer_is_decoded(tmp_path):
    sha = "3" * 40

    def respond(handler):
        return 200, {"Content-Type": "application/vnd.github.sha", "Content-Encoding": "gzip", "ETag": '"e"'}, \
            gzip.compress(sha.encode())

    with LocalServer(respond) as api:
        resolution = GitHubSource(api_url=api.url(), retry_policy=_policy(Sleeps())).resolve(None)
    assert resolution.commit == sha


def test_an_endless_answer_to_the_commits_request_is_cut_off(tmp_path):
    with LocalServer(lambda h: (200, {"Content-Type": "text/plain"}, b"a" * (1024 * 1024))) as api:
        source = GitHubSource(api_url=api.url(), retry_policy=_policy(Sleeps(), attempts=1))
        with pytest.raises(Exception, match="longer than 4096 bytes"):
            source.resolve(None)


# -- TLS --------------------------------------------------------------------------------------------------
needs_openssl = pytest.mark.skipif(not openssl_available(), reason="the openssl command line tool is missing")


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    if not openssl_available():
        pytest.skip("the openssl command line tool is missing")
    return make_certificates(tmp_path_factory.mktemp("tls"))


def _sha_answer(handler):
    return 200, {"Content-Type": "application/vnd.github.sha", "ETag": '"x"'}, NEW_SHA.encode()


@needs_openssl
def test_self_signed_certificate_fails_verification_with_a_clear_message(out, certs):
    with LocalServer(_sha_answer, certfile=certs.server_cert, keyfile=certs.server_key) as api:
        source = GitHubSource(api_url=api.url(), retry_policy=_policy(Sleeps()))
        _failed_untouched(out, source, "TLS certificate verification failed for 127.0.0.1",
                          "verification is never turned off")  # fmt: skip
        assert api.seen == []  # no HTTP request was sent over the unverified connection


@needs_openssl
def test_the_right_ca_bundle_makes_it_succeed(certs):
    with LocalServer(_sha_answer, certfile=certs.server_cert, keyfile=certs.server_key) as api:
        source = GitHubSource(api_url=api.url(), ca_bundle=str(certs.ca), retry_policy=_policy(Sleeps()))
        assert source.resolve(None).commit == NEW_SHA
        assert source._session.verify == str(certs.ca)


@needs_openssl
def test_a_host_name_mismatch_fails_even_with_the_right_ca(out, certs):
    with LocalServer(_sha_answer, certfile=certs.other_cert, keyfile=certs.other_key) as api:
        source = GitHubSource(api_url=api.url(), ca_bundle=str(certs.ca), retry_policy=_policy(Sleeps()))
        _failed_untouched(out, source, "TLS certificate verification failed for 127.0.0.1")
        assert api.seen == []


def test_verification_cannot_be_turned_off():
    source = GitHubSource(ca_bundle=None)
    assert source._session.verify is True
    with pytest.raises(TypeError):
        GitHubSource(verify=False)  # type: ignore[call-arg]


# -- proxy authentication -----------------------------------------------------------------------------------
@pytest.mark.parametrize("scheme", ["https", "http"], ids=["CONNECT", "GET"])
def test_proxy_authentication_failure_is_clear_and_never_shows_the_password(out, gh, scheme, caplog):
    with Proxy407() as proxy:
        api_url = "https://api.github.com" if scheme == "https" else gh.url
        proxy_url = f"http://sync-user:{PASSWORD}@127.0.0.1:{proxy.port}"
        sleeps = Sleeps()
        source = GitHubSource(api_url=api_url, proxy=proxy_url, token=TOKEN, retry_policy=_policy(sleeps))
        report = _failed_untouched(out, source, "proxy authentication failed", "HTTP 407")
        assert [s.method for s in proxy.seen] == ["CONNECT" if scheme == "https" else "GET"]  # not retried
        assert "proxy-authorization" in proxy.seen[0].headers  # the credentials were offered
        assert sleeps.waits == []
    assert gh.count() == 0  # nothing reached "GitHub" around the proxy
    shown = json.dumps(report.to_event()) + caplog.text + (out / "sync_state.json").read_text()
    assert PASSWORD not in shown and TOKEN not in shown
