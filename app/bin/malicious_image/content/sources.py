"""Local security_content sources: a ``.tar.gz`` or a folder on this host (no network).

Every source (:class:`TarballSource`, :class:`DirectorySource` here, ``GitHubSource`` in
:mod:`malicious_image.content.github`) implements
:class:`~malicious_image.content.source_base.ContentSource`: it has ``repository``, ``ref``,
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

Errors are :class:`SourceError` subclasses with messages an admin can act on; they, the retry helper
(:func:`call_with_retries`, :func:`retried`) and :class:`Resolution` live in
:mod:`malicious_image.content.source_base` and are importable from here too.
:func:`malicious_image.content.source_spec.source_from_spec` builds the source an admin named.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Iterator, List

from malicious_image.content.archive import (
    MB,
    SHA_RE,
    ArchiveLimits,
    Member,
    SkippedMember,
    TarballReader,
    Wanted,
)
from malicious_image.content.source_base import (
    Resolution,
    RetryPolicy,
    SourceNotFoundError,
    same_origin,
)

LOG = logging.getLogger("malicious_image.sources")


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
    return head.lower() if SHA_RE.match(head.lower()) else ""


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
