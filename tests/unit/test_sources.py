"""Sources: GitHub over the emulator (conditional requests, redirects, retries, rate limits,
secrets), local tarballs and folders."""

from __future__ import annotations

import logging
import os
from types import SimpleNamespace

import pytest

from malicious_image.content.archive import NotGzipError
from malicious_image.content.github import GitHubSource, parse_repository
from malicious_image.content.source_base import (
    HTTPStatusError,
    NetworkError,
    RateLimitError,
    RedirectRefusedError,
    RetryPolicy,
    ServerError,
    SourceNotFoundError,
    call_with_retries,
)
from malicious_image.content.source_spec import source_from_spec
from malicious_image.content.sources import DirectorySource, TarballSource, git_head
from tests.emulators.github_server import GitHubEmulator, make_tarball
from tests.secrets_audit import GITHUB_TOKEN
from tests.support.paths import SNAPSHOTS

pytestmark = pytest.mark.runtime
TOKEN = GITHUB_TOKEN
SHA_2024 = "b13b314aed0e1778335a55620474e7d27289a20a"
SHA_2023 = "fe159f03aff7a3295c3766535cc00f5d04b2a7fe"


class FakeSleep:
    def __init__(self):
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def gh():
    with GitHubEmulator() as server:
        server.set_ref("develop", SNAPSHOTS / "splunk-security_content-b13b314.tar.gz")
        yield server


@pytest.fixture
def sleep():
    return FakeSleep()


def _source(gh, sleep, **kwargs) -> GitHubSource:
    policy = RetryPolicy(attempts=3, backoff=1.0, max_rate_limit_wait=60, sleep=sleep)
    return GitHubSource(api_url=gh.url, retry_policy=policy, timeout=(2, 5), **kwargs)


def _state(source, resolution):
    return SimpleNamespace(repository=source.repository, ref=source.ref, commit=resolution.commit,
                           etag=resolution.etag)  # fmt: skip


def _download(source, resolution) -> list[str]:
    with source.open(resolution, lambda p: p.startswith("macros/")) as stream:
        return [m.path for m in stream]


# -- resolve ---------------------------------------------------------------------------------------
def test_resolve_is_one_request_and_304_means_unchanged(gh, sleep):
    source = _source(gh, sleep)
    first = source.resolve(None)
    assert first.commit == SHA_2024 and first.etag and not first.unchanged
    again = source.resolve(_state(source, first))
    assert again.unchanged and again.commit == SHA_2024
    assert [(r.endpoint, r.status) for r in gh.requests] == [("commits", 200), ("commits", 304)]
    assert gh.requests[0].headers["accept"] == "application/vnd.github.sha"
    assert gh.requests[1].headers["if-none-match"] == first.etag
    assert source.requests_made == 2


def test_new_commit_upstream_is_not_unchanged(gh, sleep):
    source = _source(gh, sleep)
    first = source.resolve(None)
    gh.set_ref("develop", SNAPSHOTS / "splunk-security_content-fe159f0.tar.gz")
    second = source.resolve(_state(source, first))
    assert second.commit == SHA_2023 and not second.unchanged


def test_same_sha_with_another_etag_is_unchanged(gh, sleep):
    source = _source(gh, sleep)
    first = source.resolve(None)
    stale = SimpleNamespace(repository=source.repository, ref="develop", commit=SHA_2024, etag='"stale"')
    assert source.resolve(stale).unchanged and source.resolve(stale).etag == first.etag


def test_etag_of_another_ref_is_not_sent(gh, sleep):
    source = _source(gh, sleep)
    other = SimpleNamespace(repository=source.repository, ref="main", commit=SHA_2024, etag='"x"')
    assert not source.resolve(other).unchanged
    assert "if-none-match" not in gh.requests[0].headers


def test_unknown_ref_names_the_ref(gh, sleep):
    with pytest.raises(SourceNotFoundError, match="'no-such-branch'"):
        _source(gh, sleep, ref="no-such-branch").resolve(None)


# -- download -------------------------------------------------------------------------------------
def test_tarball_follows_redirect_and_streams(gh, sleep):
    source = _source(gh, sleep)
    resolution = source.resolve(None)
    paths = _download(source, resolution)
    assert len(paths) == 189 and all(p.startswith("macros/") for p in paths)
    assert [r.endpoint for r in gh.requests] == ["commits", "redirect", "tarball"]
    assert gh.requests[1].path.endswith(f"/tarball/{SHA_2024}")
    assert source.bytes_downloaded > 13_000_000


@pytest.mark.parametrize(
    "location",
    ["https://evil.example.com/archive.tar.gz", "http://codeload.github.com/splunk/security_content/x"],
)
def test_redirect_off_github_or_to_plain_http_is_refused(gh, sleep, location):
    source = _source(gh, sleep)
    resolution = source.resolve(None)
    gh.fault("redirect", endpoint="redirect", location=location)
    with pytest.raises(RedirectRefusedError, match=r"not one of GitHub's hosts|refused"):
        _download(source, resolution)


def test_connection_dropped_mid_tarball_is_a_network_error(gh, sleep):
    source = _source(gh, sleep)
    resolution = source.resolve(None)
    gh.fault("drop", after_bytes=3_000_000)
    with pytest.raises(NetworkError, match=r"broke off after \d+ bytes|closed after \d+ of 13261170 bytes"):
        _download(source, resolution)


def test_whole_download_retried_after_a_drop(gh, sleep):
    source = _source(gh, sleep)
    resolution = source.resolve(None)
    gh.fault("drop", times=1)
    paths = call_with_retries(lambda: _download(source, resolution), source.retry_policy, what="download")
    assert len(paths) == 189 and sleep.calls == [1.0]


def test_html_instead_of_tarball_is_not_gzip(gh, sleep):
    source = _source(gh, sleep)
    resolution = source.resolve(None)
    gh.fault("not_gzip", endpoint="tarball")
    with pytest.raises(NotGzipError):
        _download(source, resolution)


def test_slow_body_past_the_read_timeout_is_a_network_error(gh, sleep):
    policy = RetryPolicy(attempts=1, sleep=sleep)
    source = GitHubSource(api_url=gh.url, retry_policy=policy, timeout=(2, 0.2))
    resolution = source.resolve(None)
    gh.fault("slow", delay=0.5)
    with pytest.raises(NetworkError):
        _download(source, resolution)


# -- retries and rate limits ------------------------------------------------------------------------
def test_5xx_is_retried_with_exponential_backoff(gh, sleep):
    gh.fault("status", endpoint="commits", times=2, code=502)
    assert _source(gh, sleep).resolve(None).commit == SHA_2024
    assert sleep.calls == [1.0, 2.0] and gh.count("commits") == 3


def test_persistent_500_fails_after_the_attempts(gh, sleep):
    gh.fault("status", endpoint="commits", code=500)
    with pytest.raises(ServerError, match="HTTP 500"):
        _source(gh, sleep).resolve(None)
    assert gh.count("commits") == 3


def test_short_rate_limit_is_waited_out(gh, sleep):
    gh.fault("rate_limit", endpoint="commits", times=1, code=429, retry_after=5)
    assert _source(gh, sleep).resolve(None).commit == SHA_2024
    assert sleep.calls == [6.0]


def test_long_rate_limit_fails_at_once_saying_when_it_resets(gh, sleep):
    gh.fault("rate_limit", endpoint="commits", code=403, reset_in=1800)
    expected = r"resets at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(in (29|30) min"
    with pytest.raises(RateLimitError, match=expected):
        _source(gh, sleep).resolve(None)
    assert sleep.calls == [] and gh.count() == 1


def test_bad_token_is_401_and_not_retried(gh, sleep):
    gh.fault("status", endpoint="commits", code=401, message="Bad credentials")
    with pytest.raises(HTTPStatusError, match="401"):
        _source(gh, sleep, token=TOKEN).resolve(None)
    assert gh.count() == 1


def test_refused_connection_is_a_network_error(sleep):
    source = GitHubSource(api_url="http://127.0.0.1:9", retry_policy=RetryPolicy(attempts=2, sleep=sleep))
    with pytest.raises(NetworkError, match=r"could not reach 127\.0\.0\.1 \(connection refused\)"):
        source.resolve(None)
    assert sleep.calls == [2.0]


# -- secrets ------------------------------------------------------------------------------------------
def test_token_is_sent_only_as_authorization_and_never_shown(gh, sleep, caplog):
    caplog.set_level(logging.DEBUG)
    source = _source(gh, sleep, token=TOKEN)
    resolution = source.resolve(None)
    _download(source, resolution)
    assert gh.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert all(TOKEN not in r.path for r in gh.requests)
    messages = [repr(source)]
    for kind, params in [("status", {"code": 500}), ("rate_limit", {"reset_in": 7200}), ("drop", {})]:
        gh.clear_faults()
        gh.fault(kind, endpoint="any", **params)
        with pytest.raises(Exception) as caught:
            _download(source, source.resolve(None))
        messages.append(str(caught.value))
    assert all(TOKEN not in m for m in messages + [r.getMessage() for r in caplog.records])


def test_parse_repository_forms():
    assert parse_repository("https://github.com/splunk/security_content") == ("splunk", "security_content")
    assert parse_repository("https://github.com/splunk/security_content.git/") == (
        "splunk",
        "security_content",
    )
    assert parse_repository("splunk/security_content") == ("splunk", "security_content")
    for bad in ("https://github.com/splunk", "https://user:pw@github.com/a/b", "a/b/c", "a b/c"):
        with pytest.raises(ValueError):
            parse_repository(bad)


# -- local sources ------------------------------------------------------------------------------------
def test_tarball_source_is_unchanged_for_the_same_file(tmp_path):
    path = make_tarball(tmp_path / "c.tar.gz", {"macros/a.yml": b"name: a\n"}, commit="a" * 40)
    source = TarballSource(path)
    first = source.resolve(None)
    with source.open(first, lambda p: True) as stream:
        assert [m.path for m in stream] == ["macros/a.yml"] and stream.commit == "a" * 40
    state = SimpleNamespace(repository=source.repository, ref="", commit="a" * 40, etag=first.etag)
    assert source.resolve(state).unchanged
    make_tarball(path, {"macros/a.yml": b"name: b\n"}, commit="b" * 40)
    assert not source.resolve(state).unchanged


def test_missing_tarball_is_source_not_found(tmp_path):
    with pytest.raises(SourceNotFoundError, match="cannot read the tarball"):
        TarballSource(tmp_path / "nope.tar.gz").resolve(None)


def test_directory_source_skips_links_and_reads_head(tmp_path):
    (tmp_path / "macros").mkdir()
    (tmp_path / "macros" / "a.yml").write_bytes(b"name: a\n")
    os.symlink("/etc/passwd", tmp_path / "macros" / "evil.yml")
    (tmp_path / ".git" / "refs" / "heads").mkdir(parents=True)
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/develop\n")
    (tmp_path / ".git" / "refs" / "heads" / "develop").write_text("c" * 40 + "\n")
    source = DirectorySource(tmp_path)
    resolution = source.resolve(None)
    assert resolution.commit == "c" * 40 == git_head(tmp_path)
    with source.open(resolution, lambda p: p.endswith(".yml")) as stream:
        assert {m.path: m.data for m in stream} == {"macros/a.yml": b"name: a\n"}
    assert [(s.path, "symbolic link" in s.reason) for s in stream.skipped] == [("macros/evil.yml", True)]


def test_directory_source_reads_inside_an_unpacked_tarball_folder(tmp_path):
    top = tmp_path / "splunk-security_content-b13b314" / "macros"
    top.mkdir(parents=True)
    (top / "a.yml").write_bytes(b"name: a\n")
    source = DirectorySource(tmp_path)
    with source.open(source.resolve(None), lambda p: True) as stream:
        assert [m.path for m in stream] == ["macros/a.yml"]


def test_source_from_spec_picks_the_kind(tmp_path):
    tarball = make_tarball(tmp_path / "c.tar.gz", {"macros/a.yml": b"name: a\n"})
    assert isinstance(source_from_spec(str(tarball)), TarballSource)
    assert isinstance(source_from_spec(str(tmp_path)), DirectorySource)
    github = source_from_spec("https://github.com/splunk/security_content", ref="main")
    assert isinstance(github, GitHubSource) and github.ref == "main"
    with pytest.raises(SourceNotFoundError):
        source_from_spec(str(tmp_path / "missing.tar.gz"))
    with pytest.raises(ValueError, match="--ref"):
        source_from_spec(str(tarball), ref="develop")
