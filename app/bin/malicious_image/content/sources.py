"""Where security_content comes from: a GitHub repository, a local ``.tar.gz``, or a local folder.

Every source (:class:`TarballSource`, :class:`DirectorySource` here, ``GitHubSource`` in
:mod:`malicious_image.content.github`, importable from here too) has ``repository``, ``ref``,
``retry_policy`` (None when retrying makes no sense), ``bytes_downloaded``, ``requests_made``, and
answers two questions for the sync engine (:mod:`malicious_image.sync.engine`):

- :meth:`resolve`: which commit is current, and is it the one already synced? For GitHub this is
  ONE conditional request to "Get a commit" (``GET {api}/repos/{owner}/{repo}/commits/{ref}`` with
  ``Accept: application/vnd.github.sha`` and ``If-None-Match``); a 304 or the same SHA means
  nothing else is downloaded.
- :meth:`open`: a context manager giving a member stream (iterable of
  :class:`~malicious_image.content.archive.Member`, with ``commit``, ``skipped`` and byte counts).
  For GitHub the tarball of the resolved SHA is streamed from ``GET {api}/repos/{o}/{r}/tarball/{sha}``
  (302 to codeload.github.com); redirects are followed only to GitHub's hosts.

Errors are :class:`SourceError` subclasses with messages an admin can act on. The one retry helper
(:func:`call_with_retries`, or the :func:`retried` method decorator) retries network errors and 5xx
with exponential backoff and waits out a short rate limit, or fails with the reset time.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import re
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator, List, TypeVar

from malicious_image.content.archive import (
    MB,
    ArchiveLimits,
    Member,
    SkippedMember,
    TarballReader,
    Wanted,
)

LOG = logging.getLogger("malicious_image.sources")
T = TypeVar("T")
_SHA_RE = re.compile(r"^[0-9a-f]{40}$")


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


def same_origin(previous: Any, repository: str, ref: str) -> bool:
    return previous is not None and previous.repository == repository and previous.ref == ref


# -- local tarball -----------------------------------------------------------------------------
class _LocalSource:
    """What the two local sources share: a path, no ref, no network, no retries."""

    def __init__(self, path: str | os.PathLike, *, limits: ArchiveLimits | None = None):
        self.path = self._locate(Path(path).expanduser().resolve())
        self.repository = str(self.path)
        self.ref = ""
        self.limits = limits or ArchiveLimits()
        self.retry_policy: RetryPolicy | None = None
        self.requests_made = 0
        self.bytes_downloaded = 0

    def _locate(self, path: Path) -> Path:
        return path

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"


class TarballSource(_LocalSource):
    """security_content from a local ``.tar.gz`` (e.g. dropped on an air-gapped host).

    The file's SHA-256 is the validator: the same file again is "unchanged" without parsing.

    Raises (from resolve/open):
        SourceNotFoundError: when the file does not exist or cannot be read.
    """


    def _open_file(self) -> BinaryIO:
        try:
            return self.path.open("rb")
        except OSError as exc:
            raise SourceNotFoundError(f"cannot read the tarball {self.path} ({exc.strerror})") from None

    def resolve(self, previous: Any = None) -> Resolution:
        """Digest the file; unchanged when it is the file synced last time."""
        digest = hashlib.sha256()
        with self._open_file() as handle:
            for chunk in iter(lambda: handle.read(1024 * 1024), b""):
                digest.update(chunk)
        etag = "sha256:" + digest.hexdigest()
        same = same_origin(previous, self.repository, self.ref) and previous.etag == etag and previous.commit
        return Resolution(previous.commit if same else "", etag, unchanged=bool(same))

    @contextlib.contextmanager
    def open(self, resolution: Resolution, wanted: Wanted) -> Iterator[TarballReader]:
        """Yield a :class:`TarballReader` over the file."""
        with self._open_file() as handle:
            reader = TarballReader(handle, wanted=wanted, limits=self.limits)
            try:
                yield reader
            finally:
                self.bytes_downloaded += reader.compressed_bytes


# -- local folder ------------------------------------------------------------------------------
@dataclass
class DirectoryReader:
    """Iterate over the wanted files of a checkout, with the same attributes as TarballReader."""

    root: Path
    wanted: Wanted
    limits: ArchiveLimits
    commit: str = ""
    skipped: List[SkippedMember] = field(default_factory=list)
    compressed_bytes: int = 0
    decompressed_bytes: int = 0

    def __iter__(self) -> Iterator[Member]:
        for folder, dirs, files in os.walk(self.root, followlinks=False):
            dirs[:] = sorted(d for d in dirs if d != ".git")
            for name in sorted(files):
                full = Path(folder) / name
                path = full.relative_to(self.root).as_posix()
                if not self.wanted(path):
                    continue
                info = full.lstat()
                if stat.S_ISLNK(info.st_mode):
                    self.skipped.append(SkippedMember(path, "symbolic link is not followed; skipped"))
                    continue
                if not stat.S_ISREG(info.st_mode):
                    self.skipped.append(SkippedMember(path, "device, FIFO or other special file; skipped"))
                    continue
                if info.st_size > self.limits.max_member_bytes:
                    self.skipped.append(
                        SkippedMember(
                            path,
                            f"{info.st_size} bytes, over the {self.limits.max_member_bytes // MB} MB limit "
                            "for one file; skipped",
                        )
                    )
                    continue
                data = full.read_bytes()
                self.compressed_bytes += len(data)
                self.decompressed_bytes += len(data)
                yield Member(path, data)


def git_head(root: Path) -> str:
    """The commit SHA checked out in ``root`` (reads ``.git/HEAD`` and refs), or "" when unknown."""
    git = root / ".git"
    try:
        head = (git / "HEAD").read_text(encoding="ascii").strip()
        if head.startswith("ref: "):
            ref = head[5:].strip()
            ref_file = git / ref
            if ref_file.is_file():
                head = ref_file.read_text(encoding="ascii").strip()
            else:
                packed = (git / "packed-refs").read_text(encoding="ascii") if (git / "packed-refs").is_file() else ""
                head = next((ln.split()[0] for ln in packed.splitlines() if ln.endswith(" " + ref)), "")
    except (OSError, UnicodeDecodeError):
        return ""
    return head.lower() if _SHA_RE.match(head.lower()) else ""


_CONTENT_FOLDERS = ("detections", "stories", "macros", "lookups")


def _content_root(folder: Path) -> Path:
    """``folder``, or its only sub-folder when that is where the content is (an unpacked tarball)."""
    try:
        if any((folder / name).is_dir() for name in _CONTENT_FOLDERS):
            return folder
        entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
    except OSError:
        return folder
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        if any((entries[0] / name).is_dir() for name in _CONTENT_FOLDERS):
            return entries[0]
    return folder


class DirectorySource(_LocalSource):
    """security_content from a local folder (a checkout or an unpacked tarball).

    The commit is the checkout's HEAD when there is a ``.git`` folder, else "". Every run reads
    the files; the engine reports "unchanged" when their blob hashes match the last run. A
    folder holding only the top folder of an unpacked GitHub tarball
    (``splunk-security_content-<sha7>/``) is read from inside that folder.
    """

    def _locate(self, path: Path) -> Path:
        return _content_root(path)

    def resolve(self, previous: Any = None) -> Resolution:
        """Read the checkout's HEAD; never "unchanged" before the files are hashed.

        Raises:
            SourceNotFoundError: when the folder does not exist.
        """
        if not self.path.is_dir():
            raise SourceNotFoundError(f"the content folder {self.path} does not exist")
        return Resolution(git_head(self.path))

    @contextlib.contextmanager
    def open(self, resolution: Resolution, wanted: Wanted) -> Iterator[DirectoryReader]:
        """Yield a :class:`DirectoryReader` over the folder."""
        reader = DirectoryReader(self.path, wanted, self.limits, commit=resolution.commit)
        try:
            yield reader
        finally:
            self.bytes_downloaded += reader.compressed_bytes


def source_from_spec(spec: str, *, ref: str | None = None, limits: ArchiveLimits | None = None, **github: Any) -> Any:
    """Build the source an admin named: a local ``.tar.gz``, a local folder, or a GitHub URL.

    Arguments:
        spec: path of a tarball or folder, or ``https://github.com/OWNER/REPO`` / ``OWNER/REPO``.
        ref: the GitHub ref (default ``develop``); not allowed for local sources.
        limits: archive caps for every kind of source (default :class:`ArchiveLimits`).
        github: keyword arguments for :class:`GitHubSource` (token, api_url, proxy, ...).

    Raises:
        SourceNotFoundError: a path that looks local but does not exist.
        ValueError: a GitHub reference that cannot be parsed.
    """
    path = Path(spec).expanduser()
    if "://" not in spec and path.exists():
        if ref:
            raise ValueError("--ref applies only to a GitHub source")
        return DirectorySource(path, limits=limits) if path.is_dir() else TarballSource(path, limits=limits)
    if spec.endswith((".tar.gz", ".tgz")) or spec.startswith((".", "/", "~")):
        raise SourceNotFoundError(f"{spec} does not exist")
    from malicious_image.content.github import DEFAULT_REF, GitHubSource

    return GitHubSource(spec, ref or DEFAULT_REF, limits=limits, **github)


def __getattr__(name: str) -> Any:
    """Import :class:`GitHubSource` lazily (it needs ``requests``; local sources do not)."""
    if name in ("GitHubSource", "DEFAULT_REPOSITORY", "DEFAULT_REF", "DEFAULT_API_URL"):
        from malicious_image.content import github

        return getattr(github, name)
    raise AttributeError(name)
