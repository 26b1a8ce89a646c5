"""GitHub as a security_content source: one conditional request to resolve the ref, then the tarball.

GitHub REST API, as documented:

- "Get a commit" (``GET {api}/repos/{owner}/{repo}/commits/{ref}``) with
  ``Accept: application/vnd.github.sha`` answers the bare SHA; with ``If-None-Match: <etag>`` it
  answers 304 when nothing changed ("conditional requests"; a 304 does not count against the
  primary rate limit when the request is authorised).
- "Download a repository archive (tar)" (``GET {api}/repos/{owner}/{repo}/tarball/{ref}``) answers
  302 to ``codeload.github.com``; redirects are followed by hand, only to GitHub's hosts (plus the
  configured API host, for GitHub Enterprise and tests), never from https down to http, and the
  ``Authorization`` header is sent only to the API origin.
- Rate limits: 403/429 with ``x-ratelimit-remaining: 0`` and ``x-ratelimit-reset`` (epoch), or with
  ``retry-after`` (seconds); a 429 without either means "wait at least a minute".

TLS verification is always on (a CA bundle may be configured); environment proxies and netrc
are ignored (only the configured proxy is used); the token never appears in a log line or an
exception message, and temporary download URLs are stripped of their query strings in messages.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import re
import time
from typing import Any, Iterator, Tuple
from urllib.parse import quote, urljoin, urlsplit

from malicious_image.content.archive import SHA_RE, ArchiveLimits, TarballReader, Wanted
from malicious_image.content.source_base import (
    DEFAULT_API_URL,
    DEFAULT_REF,
    DEFAULT_REPOSITORY,
    HTTPStatusError,
    NetworkError,
    ProxyAuthError,
    RateLimitError,
    RedirectRefusedError,
    Resolution,
    RetryPolicy,
    ServerError,
    SourceError,
    SourceNotFoundError,
    TLSError,
    outbound_session,
    retried,
    same_origin,
)

LOG = logging.getLogger("malicious_image.sources")

GITHUB_HOSTS = frozenset({"api.github.com", "codeload.github.com", "github.com", "objects.githubusercontent.com"})
SHA_MEDIA_TYPE = "application/vnd.github.sha"
USER_AGENT = "malicious_image-security-content-sync/1"
_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_MAX_REDIRECTS = 5
_MAX_SHA_ANSWER = 4096  # the "Get a commit" answer in the sha media type is 40 bytes


def parse_repository(repository: str) -> Tuple[str, str]:
    """Split ``https://github.com/owner/repo(.git)`` or ``owner/repo`` into (owner, repo).

    Raises:
        ValueError: when it is not a GitHub repository reference.
    """
    text = repository.strip()
    if "://" in text:
        parts = urlsplit(text)
        if parts.username or parts.password:
            raise ValueError("the repository URL must not contain credentials; use the token setting")
        text = parts.path
    elif text.startswith("github.com/"):
        text = text[len("github.com/") :]
    pieces = [p for p in text.split("/") if p]
    if len(pieces) != 2:
        raise ValueError(f"{repository!r} is not a GitHub repository (expected https://github.com/OWNER/REPO)")
    owner, repo = pieces[0], pieces[1][:-4] if pieces[1].endswith(".git") else pieces[1]
    if not (_NAME_RE.match(owner) and _NAME_RE.match(repo)):
        raise ValueError(f"{repository!r} is not a GitHub repository (expected https://github.com/OWNER/REPO)")
    return owner, repo


def _redact(text: str, secret: str | None = None) -> str:
    """Drop credentials and query strings (temporary download tokens) from a message."""
    text = re.sub(r"(\w+://)[^/@\s'\"]+@", r"\1***@", text)
    text = re.sub(r"\?[^\s'\")]*", "?…", text)
    if secret:
        text = text.replace(secret, "***")
    return text


class _Body:
    """A file object over an HTTP response body that turns transport failures into NetworkError."""

    def __init__(self, response: Any, expected: int | None, secret: str | None):
        self._response = response
        self._expected = expected
        self._secret = secret
        self.received = 0

    def read(self, size: int = -1, *, decode: bool = False) -> bytes:
        """Up to ``size`` bytes of the body as sent (``decode``: undo a Content-Encoding)."""
        import requests  # vendored in app/lib
        import urllib3

        try:
            chunk = self._response.raw.read(size if size > 0 else 64 * 1024, decode_content=decode)
        except (
            OSError,
            urllib3.exceptions.HTTPError,
            http.client.HTTPException,
            requests.RequestException,
        ) as exc:
            raise NetworkError(
                f"the download broke off after {self.received} bytes ({type(exc).__name__}: "
                f"{_redact(str(exc), self._secret)[:200]})"
            ) from None
        self.received += len(chunk)
        if not chunk and self._expected is not None and self.received < self._expected:
            raise NetworkError(f"the connection closed after {self.received} of {self._expected} bytes of the tarball")
        return chunk

    def read_at_most(self, limit: int) -> bytes:
        """The whole (small) body, or SourceError when it is longer than ``limit`` bytes; closes it."""
        try:
            data = b""
            while len(data) <= limit:
                chunk = self.read(limit + 1 - len(data), decode=True)
                if not chunk:
                    return data
                data += chunk
            raise SourceError(
                f"GitHub's answer is longer than {limit} bytes; it is not a commit SHA (check the API URL)"
            )
        finally:
            self._response.close()


class GitHubSource:
    """security_content from a GitHub repository, resolved by ref and streamed as a tarball.

    Arguments:
        repository: ``https://github.com/OWNER/REPO`` (default splunk/security_content).
        ref: branch, tag or SHA (default ``develop``).
        token: optional GitHub token; sent as ``Authorization: Bearer``, never logged.
        api_url: REST API base (``https://api.github.com``; GitHub Enterprise ``https://HOST/api/v3``;
            tests: the emulator on 127.0.0.1). Its host is added to the hosts redirects may reach.
        proxy: ``http(s)://[user:pass@]host:port`` for both schemes; environment proxies are ignored.
        ca_bundle: a PEM file of CAs to trust instead of the bundled ones (TLS is always verified).
        timeout: (connect, read) seconds.
        retry_policy: see :class:`RetryPolicy`.
        limits: archive caps (see :class:`~malicious_image.content.archive.ArchiveLimits`).

    Raises:
        ValueError: on a repository or ref that cannot be a GitHub reference.
    """

    def __init__(
        self,
        repository: str = DEFAULT_REPOSITORY,
        ref: str = DEFAULT_REF,
        *,
        token: str | None = None,
        api_url: str = DEFAULT_API_URL,
        proxy: str | None = None,
        ca_bundle: str | None = None,
        timeout: Tuple[float, float] = (10.0, 60.0),
        retry_policy: RetryPolicy | None = None,
        limits: ArchiveLimits | None = None,
        session: Any = None,
    ):
        self.owner, self.repo = parse_repository(repository)
        self.repository = f"https://github.com/{self.owner}/{self.repo}"
        if not ref or any(c.isspace() for c in ref) or ".." in ref or ref.startswith("/"):
            raise ValueError(f"{ref!r} is not a valid git ref")
        self.ref = ref
        self.api_url = api_url.rstrip("/")
        api = urlsplit(self.api_url)
        if api.scheme not in ("https", "http") or not api.hostname:
            raise ValueError(f"{api_url!r} is not an http(s) URL")
        self._api_origin = (api.scheme, api.netloc.lower())
        self.allowed_hosts = GITHUB_HOSTS | {api.hostname.lower()}
        self.retry_policy = retry_policy or RetryPolicy()
        self.limits = limits or ArchiveLimits()
        self.timeout = timeout
        self._token = token or None
        self.requests_made = 0
        self.bytes_downloaded = 0
        self._session = session or self._new_session(proxy, ca_bundle)

    def __repr__(self) -> str:
        return f"GitHubSource({self.repository!r}, ref={self.ref!r}, api_url={self.api_url!r})"

    @staticmethod
    def _new_session(proxy: str | None, ca_bundle: str | None) -> Any:
        return outbound_session(proxy, ca_bundle, {"User-Agent": USER_AGENT, "X-GitHub-Api-Version": "2022-11-28"})

    # -- resolve ---------------------------------------------------------------------------------
    @retried
    def resolve(self, previous: Any = None) -> Resolution:
        """Resolve the ref to a commit SHA with one conditional request.

        Arguments:
            previous: the last :class:`~malicious_image.sync.state.SyncState` (or None); its ETag
                is sent as ``If-None-Match`` when it is for the same repository and ref.

        Raises:
            RateLimitError, NetworkError, ServerError (after retries), HTTPStatusError,
            SourceNotFoundError (unknown repository or ref), RedirectRefusedError, TLSError.
        """
        headers = {"Accept": SHA_MEDIA_TYPE}
        same = same_origin(previous, self.repository, self.ref)
        if same and previous.etag and previous.commit:
            headers["If-None-Match"] = previous.etag
        url = f"{self.api_url}/repos/{self.owner}/{self.repo}/commits/{quote(self.ref, safe='/')}"
        response = self._get(url, headers, stream=True)
        if response.status_code == 304:
            response.close()
            return Resolution(previous.commit, previous.etag, unchanged=True)
        content = _Body(response, None, self._token).read_at_most(_MAX_SHA_ANSWER)
        sha = content.decode("ascii", "replace").strip().lower()
        self.bytes_downloaded += len(content)
        if not SHA_RE.match(sha):
            raise SourceError(
                f"GitHub's answer for {self.repository} ref {self.ref!r} is not a commit SHA "
                f"(content type {response.headers.get('Content-Type', 'none')!r}); check the API URL"
            )
        etag = response.headers.get("ETag", "")
        return Resolution(sha, etag, unchanged=same and sha == previous.commit)

    # -- download ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def open(self, resolution: Resolution, wanted: Wanted) -> Iterator[TarballReader]:
        """Stream the tarball of ``resolution.commit`` and yield a :class:`TarballReader` over it.

        Not retried here: a failure may come mid-body, so the caller retries the whole download
        with :func:`call_with_retries` and ``self.retry_policy`` (the engine does).

        Raises:
            NetworkError, ServerError, RateLimitError, HTTPStatusError, RedirectRefusedError,
            TLSError; iterating raises the archive errors and NetworkError for a body cut short.
        """
        url = f"{self.api_url}/repos/{self.owner}/{self.repo}/tarball/{resolution.commit or quote(self.ref)}"
        response = self._get(url, {"Accept": "application/vnd.github+json"}, stream=True)
        length = response.headers.get("Content-Length", "")
        body = _Body(response, int(length) if length.isdigit() else None, self._token)
        try:
            yield TarballReader(body, wanted=wanted, limits=self.limits)
        finally:
            self.bytes_downloaded += body.received
            response.close()

    # -- HTTP ----------------------------------------------------------------------------------
    def _get(self, url: str, headers: dict, *, stream: bool) -> Any:
        """GET ``url``, following redirects only to GitHub's hosts; raise typed errors."""
        for _ in range(_MAX_REDIRECTS + 1):
            response = self._send(url, headers, stream=stream)
            if response.status_code not in (301, 302, 303, 307, 308):
                self._check(response)
                return response
            location = response.headers.get("Location", "")
            response.close()
            url = self._redirect_target(url, location)
        raise RedirectRefusedError(f"more than {_MAX_REDIRECTS} redirects from GitHub for {self.repository}")

    def _redirect_target(self, current: str, location: str) -> str:
        target = urljoin(current, location)
        parts = urlsplit(target)
        host = (parts.hostname or "").lower()
        same_api = (parts.scheme, parts.netloc.lower()) == self._api_origin
        if host not in self.allowed_hosts or (parts.scheme != "https" and not same_api):
            raise RedirectRefusedError(
                f"GitHub redirected the download to {parts.scheme}://{host}, which is not one of GitHub's "
                f"hosts ({', '.join(sorted(self.allowed_hosts))}); refused"
            )
        return target

    def _send(self, url: str, headers: dict, *, stream: bool) -> Any:
        import requests  # vendored in app/lib

        parts = urlsplit(url)
        send_headers = dict(headers)
        if self._token and (parts.scheme, parts.netloc.lower()) == self._api_origin:
            send_headers["Authorization"] = f"Bearer {self._token}"
        self.requests_made += 1
        LOG.debug("action=http_get host=%s path=%s", parts.hostname, parts.path)
        try:
            return self._session.get(
                url, headers=send_headers, stream=stream, timeout=self.timeout, allow_redirects=False
            )
        except requests.exceptions.SSLError:
            raise TLSError(
                f"TLS certificate verification failed for {parts.hostname}; if a proxy re-signs TLS, "
                "configure its CA bundle (verification is never turned off)"
            ) from None
        except requests.exceptions.ProxyError as exc:
            text = _redact(str(exc), self._token)
            if "407" in text:
                raise ProxyAuthError(_PROXY_407) from None
            raise NetworkError(f"could not connect through the proxy to {parts.hostname} ({text[:200]})") from None
        except requests.exceptions.Timeout:
            raise NetworkError(f"timed out talking to {parts.hostname} (timeouts {self.timeout} s)") from None
        except requests.exceptions.RequestException as exc:
            raise NetworkError(
                f"could not reach {parts.hostname} ({_network_cause(_redact(str(exc), self._token))})"
            ) from None

    def _check(self, response: Any) -> None:
        status = response.status_code
        if status < 400 or status == 304:
            return
        host = urlsplit(response.url).hostname if isinstance(response.url, str) else "GitHub"
        detail = _redact(_error_detail(response), self._token)
        if status == 407:  # a plain-http request through the proxy gets the proxy's answer
            response.close()
            raise ProxyAuthError(_PROXY_407)
        if status in (403, 429):
            wait = _rate_limit_wait(response.headers, status)
            if wait is not None:
                reset_at = time.time() + wait
                when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(reset_at))
                raise RateLimitError(
                    f"GitHub rate limit reached (HTTP {status}) on {host}; it resets at {when} "
                    f"(in {int(wait // 60)} min {int(wait % 60)} s). "
                    + ("" if self._token else "Configure a token for a higher limit, or ")
                    + "let the next scheduled run pick it up",
                    wait,
                    reset_at,
                )
        if status >= 500:
            raise ServerError(f"GitHub answered HTTP {status} on {host} ({detail or 'server error'})", status)
        if status == 401:
            raise HTTPStatusError("GitHub refused the token (HTTP 401): it is wrong, expired or revoked", status)
        if status in (404, 422):
            raise SourceNotFoundError(
                f"GitHub does not know {self.repository} ref {self.ref!r} "
                f"(HTTP {status}: {detail or 'not found'}); "
                "check the repository, the ref, and that the token can read a private repository"
            )
        raise HTTPStatusError(f"GitHub refused the request (HTTP {status} on {host}: {detail or 'no detail'})", status)


_PROXY_407 = (
    "proxy authentication failed: the proxy refused the credentials (HTTP 407 Proxy Authentication "
    "Required); check the user in the proxy setting and the proxy password in storage/passwords"
)

_CAUSES = (
    (("NameResolutionError", "Name or service not known", "getaddrinfo", "nodename nor servname",
      "Temporary failure in name resolution"), "the name could not be resolved: check DNS or configure a proxy"),
    (("Connection refused", "ECONNREFUSED"), "connection refused"),
    (("Connection reset", "ECONNRESET", "RemoteDisconnected"), "the connection was closed by the other end"),
    (("timed out", "Timeout"), "timed out"),
    (("Network is unreachable", "No route to host"), "no route to the host: check the network or the proxy"),
)  # fmt: skip


def _network_cause(text: str) -> str:
    """A short cause for a connection error (urllib3's own text is long and nested)."""
    for needles, cause in _CAUSES:
        if any(needle in text for needle in needles):
            return cause
    return text[:160]


def _error_detail(response: Any) -> str:
    """GitHub's ``message`` from a small JSON error body ("" otherwise); closes the response."""
    try:
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) <= 64 * 1024:
            return str(response.json().get("message", ""))[:200]
        return ""
    except (ValueError, AttributeError):
        return ""
    finally:
        response.close()


def _rate_limit_wait(headers: Any, status: int) -> float | None:
    """Seconds to wait for a rate limit per GitHub's docs, or None when it is not a rate limit."""
    retry_after = headers.get("Retry-After", "")
    if retry_after.strip().isdigit():
        return float(retry_after.strip())
    if headers.get("x-ratelimit-remaining", "") == "0":
        reset = headers.get("x-ratelimit-reset", "")
        if reset.strip().isdigit():
            return max(0.0, float(reset) - time.time())
        return 60.0
    return 60.0 if status == 429 else None
