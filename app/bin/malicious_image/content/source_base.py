"""What every content source shares: the error family, the retry policy, the answer of
``resolve`` and the :class:`ContentSource` protocol the sync engine is typed with.

A leaf module: it imports nothing from the project but the archive types, so that
:mod:`malicious_image.content.sources` (local tarball and folder),
:mod:`malicious_image.content.github` (GitHub) and any later source (the ATT&CK STIX source of
issue 8) depend on it and never on each other. :mod:`malicious_image.content.source_spec` builds
the source an admin named.

Exception tree::

    SourceError
    +-- SourceNotFoundError     local path or repository/ref unknown
    +-- NetworkError            refused, DNS, timeout, body cut short (retried)
    +-- ServerError             5xx (retried)
    +-- RateLimitError          rate limit; ``wait`` seconds to reset (short ones waited out)
    +-- HTTPStatusError         401, 403, 404, 422, ... (not retried)
    +-- RedirectRefusedError    redirect to a host GitHub does not use, or https -> http
    +-- ProxyAuthError          proxy answered 407 (not retried)
    +-- TLSError                certificate not verified (verification is never turned off)
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ContextManager, Iterable, Protocol, TypeVar

from malicious_image.content.archive import Member, Wanted

if TYPE_CHECKING:  # typing only: sync.state imports nothing from content at run time
    from malicious_image.sync.state import SyncState

LOG = logging.getLogger("malicious_image.sources")
T = TypeVar("T")

DEFAULT_REPOSITORY = "https://github.com/splunk/security_content"
DEFAULT_REF = "develop"
DEFAULT_API_URL = "https://api.github.com"


# -- errors ------------------------------------------------------------------------------------
class SourceError(Exception):
    """The content source could not be read; the message says what to check."""


class SourceNotFoundError(SourceError):
    """A local tarball or folder does not exist, or the repository/ref is unknown upstream."""


class NetworkError(SourceError):
    """Connection refused, name resolution, timeout, or a body cut short (retried)."""


class ServerError(SourceError):
    """GitHub answered 5xx (retried)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class RateLimitError(SourceError):
    """GitHub's rate limit is reached; ``wait`` seconds until it resets."""

    def __init__(self, message: str, wait: float, reset_at: float):
        super().__init__(message)
        self.wait = wait
        self.reset_at = reset_at


class HTTPStatusError(SourceError):
    """GitHub refused the request (401, 403, 404, 422, ...): not retried."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class RedirectRefusedError(SourceError):
    """A redirect pointed at a host GitHub does not use (or downgraded to plain HTTP)."""


class ProxyAuthError(SourceError):
    """The configured proxy refused the credentials (HTTP 407): not retried."""


class TLSError(SourceError):
    """The server's certificate could not be verified (verification is never turned off)."""


# -- retries -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry.

    Arguments:
        attempts: total tries (first one included).
        backoff: first wait in seconds; then multiplied by ``factor`` up to ``max_backoff``.
        max_rate_limit_wait: a rate limit resetting within this many seconds is waited out;
            a longer one fails at once with the reset time.
        sleep: the sleep function (tests pass a fake).
    """

    attempts: int = 4
    backoff: float = 2.0
    factor: float = 2.0
    max_backoff: float = 60.0
    max_rate_limit_wait: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)


def call_with_retries(action: Callable[[], T], policy: RetryPolicy, *, what: str) -> T:
    """Run ``action``, retrying network errors, 5xx and short rate limits as ``policy`` says.

    Arguments:
        action: the call to make; it raises :class:`NetworkError`, :class:`ServerError` or
            :class:`RateLimitError` for the failures worth retrying.
        policy: attempts and waits.
        what: a few words for the log ("resolve develop").

    Raises:
        The last error when attempts run out, a :class:`RateLimitError` at once when its reset is
        further away than ``policy.max_rate_limit_wait``, and any other error at once.
    """
    delay = policy.backoff
    for attempt in range(1, policy.attempts + 1):
        try:
            return action()
        except RateLimitError as exc:
            if exc.wait > policy.max_rate_limit_wait or attempt == policy.attempts:
                raise
            LOG.warning("action=retry what=%r attempt=%d reason=rate_limit wait_s=%.1f", what, attempt, exc.wait)
            policy.sleep(max(exc.wait, 0.0) + 1.0)
        except (NetworkError, ServerError) as exc:
            if attempt == policy.attempts:
                raise
            LOG.warning("action=retry what=%r attempt=%d reason=%r wait_s=%.1f", what, attempt, str(exc), delay)
            policy.sleep(delay)
            delay = min(delay * policy.factor, policy.max_backoff)
    raise AssertionError("unreachable")  # pragma: no cover


def retried(method: Callable[..., T]) -> Callable[..., T]:
    """Decorate a source method so that it runs under ``self.retry_policy``."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> T:
        return call_with_retries(lambda: method(self, *args, **kwargs), self.retry_policy, what=method.__name__)

    return wrapper


# -- what a source returns ---------------------------------------------------------------------
@dataclass(frozen=True)
class Resolution:
    """The answer of :meth:`resolve`: the current commit ("" if not known before reading), the
    validator to send next time (ETag or file digest), and whether it is the one already synced."""

    commit: str
    etag: str = ""
    unchanged: bool = False


def outbound_session(proxy: str | None, ca_bundle: str | None, headers: dict[str, str] | None = None) -> Any:
    """A ``requests`` session for GitHub (content or ATT&CK data): only the configured proxy (no
    environment proxies or netrc credentials), TLS verified against ``ca_bundle`` or the bundled
    CAs, never turned off."""
    import requests  # vendored in app/lib

    session = requests.Session()
    session.trust_env = False
    session.verify = ca_bundle or True
    if proxy:
        session.proxies = {"http": proxy, "https": proxy}
    session.headers.update(headers or {})
    return session


def same_origin(previous: Any, repository: str, ref: str) -> bool:
    """True when ``previous`` (a SyncState or None) was synced from the same repository and ref."""
    return previous is not None and previous.repository == repository and previous.ref == ref


class ContentSource(Protocol):
    """What the sync engine asks of a source (:func:`malicious_image.sync.engine.run_sync`).

    ``repository`` and ``ref`` name it in the status event and the state (``ref`` is "" for a local
    source); ``retry_policy`` is None when retrying makes no sense (local files);
    ``requests_made`` and ``bytes_downloaded`` are counters the engine reports.
    """

    repository: str
    ref: str
    retry_policy: RetryPolicy | None
    requests_made: int
    bytes_downloaded: int

    def resolve(self, previous: SyncState | None = None) -> Resolution:
        """The current commit, its validator, and whether it equals ``previous`` (no download)."""
        ...

    def open(self, resolution: Resolution, wanted: Wanted) -> ContextManager[Iterable[Member]]:
        """A context manager giving the members of ``resolution``'s commit that ``wanted`` keeps."""
        ...
