"""Stream a GitHub-style ``.tar.gz`` and keep only the members the sync reads, in memory.

GitHub's tarball endpoint (and ``git archive``) writes a gzip-compressed POSIX tar whose members
all sit under one top folder ``<owner>-<repo>-<sha7>/`` and whose pax global header carries the
commit SHA as ``comment``. :class:`TarballReader` reads such a stream front to back (it never
seeks, so an HTTP response body works), strips the top folder, and yields a :class:`Member`
(repository-relative path and bytes) for each file the caller wants. Nothing is written to disk.

The archive comes from the internet and is treated as hostile (caps in :class:`ArchiveLimits`):

- a body that is not gzip raises :class:`NotGzipError`; a gzip stream that ends early raises
  :class:`TruncatedArchiveError`; a damaged one (bad deflate data, CRC) :class:`CorruptArchiveError`;
- more decompressed bytes than ``max_total_bytes`` (a gzip bomb) raises :class:`ArchiveTooLargeError`
  as soon as the cap is crossed, with memory bounded by one decompression chunk; so do more
  compressed bytes than that (bytes after the end of the gzip stream are read, to check the
  stream ends, but not without end);
- a pax or GNU long-name header larger than ``MAX_HEADER_BYTES`` (tarfile would read it whole into
  memory) raises :class:`CorruptArchiveError`; a member declaring more bytes than
  ``max_total_bytes`` raises :class:`ArchiveTooLargeError` at its header;
- absolute paths, ``..`` components and paths outside the top folder are skipped and reported;
- symbolic links, hard links, devices and FIFOs under a wanted path are skipped and reported;
- a wanted member larger than ``max_member_bytes`` is skipped (not read) and reported.

Skipped members are collected in :attr:`TarballReader.skipped` as :class:`SkippedMember` (path,
reason) for the status event.
"""

from __future__ import annotations

import hashlib
import re
import tarfile
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Iterator, List

GZIP_MAGIC = b"\x1f\x8b"
MB = 1024 * 1024
_READ_CHUNK = 64 * 1024
_INFLATE_CHUNK = 256 * 1024
SHA_RE = re.compile(r"^[0-9a-f]{40}$")  # a full git commit SHA (the one pattern for every source)
MAX_HEADER_BYTES = 1024 * 1024
"""Largest pax or GNU long-name header data read (GitHub's are under 1 kB)."""
_EXTENDED_HEADER_TYPES = frozenset(
    (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE, tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK)
)

Wanted = Callable[[str], bool]


class ArchiveError(Exception):
    """The archive cannot be read; nothing from it should be used."""


class NotGzipError(ArchiveError):
    """The body is not a gzip stream (e.g. an HTML error page or a proxy's login page)."""


class TruncatedArchiveError(ArchiveError):
    """The gzip stream ended before its end marker (download cut short or file truncated)."""


class CorruptArchiveError(ArchiveError):
    """The gzip or tar data is damaged (bad deflate data, CRC mismatch, bad tar header)."""


class ArchiveTooLargeError(ArchiveError):
    """The archive decompresses to more than the configured cap (possibly a gzip bomb)."""


@dataclass(frozen=True)
class ArchiveLimits:
    """Caps applied while reading an archive.

    Arguments:
        max_member_bytes: a wanted member larger than this is skipped and reported (default 10 MB).
        max_total_bytes: decompressed bytes of the whole tar stream (default 512 MB; the October
            2024 snapshot is about 60 MB).
    """

    max_member_bytes: int = 10 * MB
    max_total_bytes: int = 512 * MB


@dataclass(frozen=True)
class Member:
    """One file of the repository: ``path`` relative to the repository root, and its bytes."""

    path: str
    data: bytes

    @property
    def blob_sha(self) -> str:
        """The git blob SHA-1 of the bytes (what ``git hash-object`` prints)."""
        return git_blob_sha(self.data)


@dataclass(frozen=True)
class SkippedMember:
    """A member left out of the sync, with the reason an admin will see."""

    path: str
    reason: str


def git_blob_sha(data: bytes) -> str:
    """Return the git blob SHA-1 of ``data`` (``sha1(b"blob <len>\\0" + data)``)."""
    digest = hashlib.sha1(b"blob %d\0" % len(data))  # noqa: S324 - git's object id, not a security hash
    digest.update(data)
    return digest.hexdigest()


def _everything(path: str) -> bool:
    return True


def _checked_tarinfo(max_total_bytes: int) -> type:
    """A TarInfo class that remembers a damaged header and refuses impossible sizes.

    In stream mode ``tarfile`` ends the iteration silently when a header after the first one is
    invalid or cut short (as if the archive ended there); this class records why, so that a
    damaged archive is reported instead of being taken for a shorter one.

    A member declaring more bytes than the whole archive may hold is refused at its header:
    ``tarfile`` skips an unread member by reading block after block, and keeps calling ``read``
    after the stream has ended, so a declared size of 2**80 bytes would spin for ever.
    """

    class CheckedTarInfo(tarfile.TarInfo):
        damage = ""

        def _proc_member(self, tar: tarfile.TarFile) -> tarfile.TarInfo:
            # tarfile reads a pax or GNU long-name header's data whole into memory before using
            # it: refuse one larger than any real header (a 500 MB pax header is a memory bomb).
            if self.type in _EXTENDED_HEADER_TYPES and self.size > MAX_HEADER_BYTES:
                raise CorruptArchiveError(
                    f"the archive has an extended header of {self.size} bytes at offset {self.offset} "
                    f"(more than {MAX_HEADER_BYTES // 1024} kB); it is damaged or hostile"
                )
            if self.size > max_total_bytes:
                raise ArchiveTooLargeError(
                    f"the archive decompresses to more than {max_total_bytes // MB} MB (the configured cap): "
                    f"it declares a member of {self.size} bytes at offset {self.offset}; it is not a "
                    "security_content snapshot, or it is damaged or hostile"
                )
            return super()._proc_member(tar)  # type: ignore[misc]

        @classmethod
        def fromtarfile(cls, tar: tarfile.TarFile) -> tarfile.TarInfo:
            try:
                return super().fromtarfile(tar)
            except (tarfile.InvalidHeaderError, tarfile.TruncatedHeaderError) as exc:  # type: ignore[attr-defined]
                cls.damage = str(exc) or type(exc).__name__
                raise

    return CheckedTarInfo


class _Gunzip:
    """A read-only, forward-seekable file object that inflates a gzip stream with a cap on the
    output size.

    ``tarfile`` reads it in its seekable mode ("r:"), which reads each header and member straight
    from here and skips unwanted members with :meth:`seek` (the skipped bytes are inflated, as
    they must be, but never copied); its stream mode ("r|") copies its read-ahead buffer on every
    header. Seeking backwards is refused (only a damaged or hostile header asks for it).
    """

    def __init__(self, raw: BinaryIO, max_total_bytes: int):
        self._raw = raw
        self._max = max_total_bytes
        self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._buffer = b""
        self._offset = 0  # next unread byte of _buffer (no copying of the rest on each read)
        self._started = False
        self._done = False
        self.compressed_bytes = 0
        self.decompressed_bytes = 0

    def _read_raw(self) -> bytes:
        chunk = self._raw.read(_READ_CHUNK)
        self.compressed_bytes += len(chunk)
        if self.compressed_bytes > self._max:  # e.g. endless bytes after the end of the gzip stream
            raise ArchiveTooLargeError(
                f"the download is larger than {self._max // MB} MB (the configured cap); "
                "it is not a security_content snapshot"
            )
        return chunk

    def _inflate(self, data: bytes) -> bytes:
        try:
            out = self._inflater.decompress(data, _INFLATE_CHUNK)
        except zlib.error as exc:
            raise CorruptArchiveError(
                f"the archive is damaged after {self.compressed_bytes} compressed bytes ({exc}); download it again"
            ) from None
        self.decompressed_bytes += len(out)
        if self.decompressed_bytes > self._max:
            raise ArchiveTooLargeError(
                f"the archive decompresses to more than {self._max // MB} MB (the configured cap); "
                "it is not a security_content snapshot or it is a decompression bomb"
            )
        return out

    def _fill(self) -> None:
        while self._offset >= len(self._buffer) and not self._done:
            if self._inflater.unconsumed_tail:
                self._buffer, self._offset = self._inflate(self._inflater.unconsumed_tail), 0
                continue
            if self._inflater.eof:
                self._done = True
                while self._read_raw():  # count (and ignore) trailing bytes after the gzip member
                    pass
                return
            raw = self._read_raw()
            if not self._started:
                while len(raw) < 2:
                    more = self._read_raw()
                    if not more:
                        break
                    raw += more
                if raw[:2] != GZIP_MAGIC:
                    raise NotGzipError(
                        "the archive is not gzip-compressed (it starts with bytes "
                        f"{raw[:4].hex() or 'none'}); "
                        "expected a .tar.gz such as GitHub's tarball download"
                    )
                self._started = True
            if not raw:
                raise TruncatedArchiveError(
                    f"the archive ends after {self.compressed_bytes} bytes, before the end of the gzip "
                    "stream; the download was cut short or the file is incomplete"
                )
            self._buffer, self._offset = self._inflate(raw), 0

    def drain_padding(self) -> None:
        """Read to the end of the gzip stream after the tar end marker: this checks the gzip CRC
        and length, and that only zero padding follows the end of the archive.

        Raises:
            CorruptArchiveError, TruncatedArchiveError, ArchiveTooLargeError.
        """
        while True:
            chunk = self._read_some(_INFLATE_CHUNK)
            if not chunk:
                return
            if chunk.count(0) != len(chunk):
                raise CorruptArchiveError(
                    "data follows the end of the tar archive; the archive is damaged or not a plain tarball"
                )

    def _read_some(self, size: int) -> bytes:
        """Up to ``size`` bytes from the current buffer (b"" at the end)."""
        self._fill()
        start = self._offset
        if start >= len(self._buffer):
            return b""
        end = min(len(self._buffer), start + size)
        self._offset = end
        if start == 0 and end == len(self._buffer):
            return self._buffer
        return self._buffer[start:end]

    def read(self, size: int = -1) -> bytes:
        """Return ``size`` decompressed bytes (fewer only at the end; all the rest when negative)."""
        if size < 0:
            size = self._max + 1
        first = self._read_some(size)
        if len(first) == size or not first:
            return first
        pieces = [first]
        wanted = size - len(first)
        while wanted > 0:
            piece = self._read_some(wanted)
            if not piece:
                break
            pieces.append(piece)
            wanted -= len(piece)
        return b"".join(pieces)

    def tell(self) -> int:
        """The offset of the next decompressed byte."""
        return self.decompressed_bytes - (len(self._buffer) - self._offset)

    def seek(self, position: int, whence: int = 0) -> int:
        """Move forward to ``position`` (``whence`` 0) or by ``position`` (``whence`` 1).

        Raises:
            CorruptArchiveError: asked to move backwards (a damaged header).
        """
        here = self.tell()
        target = position if whence == 0 else here + position if whence == 1 else -1
        if whence not in (0, 1) or target < here:
            raise CorruptArchiveError(
                f"the tar data is damaged after {here} bytes (a header points backwards); download it again"
            )
        remaining = target - here
        while remaining > 0:
            self._fill()
            available = len(self._buffer) - self._offset
            if available <= 0:
                break  # at the end: the next read returns b""
            step = min(available, remaining)
            self._offset += step
            remaining -= step
        return self.tell()

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True


@dataclass
class TarballReader:
    """Iterate over the wanted members of a GitHub-style ``.tar.gz`` stream.

    Arguments:
        stream: a binary file object positioned at the start of the gzip data (a file or an HTTP
            response body); it is read sequentially and never seeked.
        wanted: predicate on the repository-relative path; members for which it returns False are
            skipped without being read. Default: every member.
        limits: size caps (see :class:`ArchiveLimits`).

    After (or during) iteration, ``commit`` holds the SHA from the pax ``comment`` header ("" when
    absent), ``skipped`` the members left out with reasons, ``top_folder`` the stripped folder.

    Raises (from iteration):
        NotGzipError, TruncatedArchiveError, CorruptArchiveError, ArchiveTooLargeError.
    """

    stream: BinaryIO
    wanted: Wanted = _everything
    limits: ArchiveLimits = field(default_factory=ArchiveLimits)
    commit: str = field(default="", init=False)
    top_folder: str = field(default="", init=False)
    skipped: List[SkippedMember] = field(default_factory=list, init=False)
    _gunzip: _Gunzip | None = field(default=None, init=False, repr=False)

    @property
    def compressed_bytes(self) -> int:
        """Compressed bytes read from the stream so far."""
        return self._gunzip.compressed_bytes if self._gunzip else 0

    @property
    def decompressed_bytes(self) -> int:
        """Decompressed tar bytes produced so far."""
        return self._gunzip.decompressed_bytes if self._gunzip else 0

    def __iter__(self) -> Iterator[Member]:
        gunzip = self._gunzip = _Gunzip(self.stream, self.limits.max_total_bytes)
        checked = _checked_tarinfo(self.limits.max_total_bytes)
        try:
            with tarfile.open(fileobj=gunzip, mode="r:", tarinfo=checked) as tar:  # type: ignore[call-overload]
                comment = str(tar.pax_headers.get("comment", "")).strip().lower()
                self.commit = comment if SHA_RE.match(comment) else ""
                for info in tar:
                    member = self._accept(info)
                    if member is None:
                        continue
                    if info.sparse is None:  # a plain member: its bytes follow the header(s)
                        gunzip.seek(info.offset_data)
                        data = gunzip.read(info.size)
                    else:
                        handle = tar.extractfile(info)
                        data = handle.read() if handle is not None else b""
                    if len(data) != info.size:
                        raise TruncatedArchiveError(f"the archive ends inside {member}; the download was cut short")
                    yield Member(member, data)
                if checked.damage:
                    raise CorruptArchiveError(
                        f"the tar data is damaged after {tar.offset} bytes ({checked.damage}); download it again"
                    )
                # tarfile stops at the first zero block; what follows must be zero padding too.
                gunzip.drain_padding()
        except tarfile.ReadError as exc:
            if gunzip.decompressed_bytes == 0:
                raise CorruptArchiveError(f"the archive holds no tar data ({exc})") from None
            if str(exc) == "unexpected end of data":  # the tar ends inside a member it skipped
                raise TruncatedArchiveError(
                    f"the tar data ends early after {gunzip.decompressed_bytes} bytes; "
                    "the download was cut short or the file is incomplete"
                ) from None
            raise CorruptArchiveError(
                f"the tar data is damaged after {gunzip.decompressed_bytes} bytes ({exc})"
            ) from None
        except EOFError:
            raise TruncatedArchiveError(
                f"the tar data ends early after {gunzip.decompressed_bytes} bytes; "
                "the download was cut short or the file is incomplete"
            ) from None

    def _skip(self, path: str, reason: str) -> None:
        self.skipped.append(SkippedMember(path, reason))

    def _accept(self, info: tarfile.TarInfo) -> str | None:
        """Return the repository-relative path to read, or None (skipped, maybe with a reason)."""
        name = info.name
        if name.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", name):
            self._skip(name, "absolute path in the archive; skipped")
            return None
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if ".." in parts:
            self._skip(name, "path traversal ('..') in the archive; skipped")
            return None
        if not parts:
            return None
        if not self.top_folder:
            self.top_folder = parts[0]
        if parts[0] != self.top_folder:
            self._skip(name, f"outside the archive's top folder {self.top_folder!r}; skipped")
            return None
        path = "/".join(parts[1:])
        if not path or info.isdir() or not self.wanted(path):
            return None
        if info.issym() or info.islnk():
            kind = "symbolic link" if info.issym() else "hard link"
            self._skip(path, f"{kind} (to {info.linkname!r}) is not followed; skipped")
            return None
        if not info.isreg():
            self._skip(path, "device, FIFO or other special file; skipped")
            return None
        if info.size > self.limits.max_member_bytes:
            self._skip(
                path,
                f"{info.size} bytes, over the {self.limits.max_member_bytes // MB} MB limit for one file; skipped",
            )
            return None
        return path
