"""What the sync remembers between runs: :class:`SyncState` and the parse cache.

- :class:`SyncState` is the state of the last run (repository, ref, commit, ETag, the git blob
  SHA-1 of every member read, the table generation, outcome, time, row counts, and the code
  fingerprint). The engine keeps commit/ETag/blobs/generation of the last run that wrote tables,
  so a failed run never makes the next one believe the tables are current.
- :class:`ParseCache` keeps the parsed result of every member by (blob SHA-1, path), in one JSON
  file in a folder, written atomically (temporary file, fsync, rename). A re-sync where a few
  files changed parses only those. The file carries :data:`CACHE_FORMAT` and the
  :func:`code_fingerprint` of the reader and table code: any change to either empties the cache.
  Records are frozen dataclasses (``malicious_image.content.model``); they are written as JSON
  with their class name and read back only into classes of that module (no pickle).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, Mapping, Tuple

LOG = logging.getLogger("malicious_image.sync")

CACHE_FORMAT = 2  # 2: ESCU 6 detection columns, RiskObject.message, ReadResult.unknown_keys
STATE_FORMAT = 1
CACHE_FILE = "parse-cache.json"
_PACKAGE = Path(__file__).resolve().parent.parent


class StateError(Exception):
    """The sync state cannot be read or written; the message names the file or collection."""


# fetch bytes; never change a parsed record
_NOT_PARSING = ("archive.py", "sources.py", "github.py", "attack_sources.py")


def code_fingerprint() -> str:
    """A digest of the code that turns files into rows (the reader's ``content/*.py`` modules and
    ``sync/tables.py``; not the download modules).

    A new app version that changes the reader or the tables changes it, which empties the parse
    cache and makes the next run rebuild the tables even when upstream did not change.
    """
    digest = hashlib.sha256(b"format %d" % CACHE_FORMAT)
    readers = [p for p in sorted((_PACKAGE / "content").glob("*.py")) if p.name not in _NOT_PARSING]
    files = [*readers, _PACKAGE / "sync" / "tables.py"]
    for path in files:
        try:
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        except OSError:
            digest.update(path.name.encode() + b"\0missing")
    return digest.hexdigest()[:16]


@dataclass
class SyncState:
    """The state of the last sync run (stored in the KV store, or a JSON file offline).

    ``blobs`` maps each repository-relative path read to its git blob SHA-1; ``generation`` is
    the table generation written last ("" before the first successful run); ``attack`` names the
    ATT&CK catalogue the tables were built from (a new release rebuilds them); ``outcome`` is
    ``updated``, ``unchanged`` or ``failed``; ``finished_at`` is ISO 8601 UTC. ``coverage`` holds
    the content health of the tables written (``drift.ContentHealth.to_state``): the format-drift
    guard compares the next sync with it, and an unchanged run reports it again.
    """

    repository: str = ""
    ref: str = ""
    commit: str = ""
    etag: str = ""
    blobs: Dict[str, str] = field(default_factory=dict)
    generation: str = ""
    outcome: str = ""
    finished_at: str = ""
    counts: Dict[str, int] = field(default_factory=dict)
    fingerprint: str = ""
    message: str = ""
    coverage: Dict[str, Any] = field(default_factory=dict)
    attack: str = ""  # the ATT&CK catalogue's key (attack_sources: '' = the content's CSV)

    def to_dict(self) -> Dict[str, Any]:
        """Return a JSON-ready dict (with ``format``)."""
        out = dataclasses.asdict(self)
        out["format"] = STATE_FORMAT
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SyncState:
        """Build a state from :meth:`to_dict` output; unknown keys are ignored.

        Raises:
            StateError: when ``data`` is not a mapping of the expected types.
        """
        if not isinstance(data, Mapping):
            raise StateError("the stored sync state is not a JSON object")
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        state = cls(**values)
        if not isinstance(state.blobs, dict) or not isinstance(state.counts, dict):
            raise StateError("the stored sync state has malformed blobs or counts")
        if not isinstance(state.coverage, dict):
            state.coverage = {}  # written by hand or damaged: only the drift guard loses its base
        return state


# -- parse cache --------------------------------------------------------------------------------
def _model_classes() -> Dict[str, type]:
    from malicious_image.content import model

    return {
        name: obj
        for name, obj in vars(model).items()
        if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == model.__name__
    }


_SCALARS = (str, int, float, bool, type(None))


def _encode(value: Any) -> Any:
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is tuple:
        return [v if type(v) in _SCALARS else _encode(v) for v in value]
    if kind is list:
        return {"__list__": [_encode(v) for v in value]}
    if kind is dict:
        return {"__map__": [[k, _encode(v)] for k, v in value.items()]}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {name: _encode(getattr(value, name)) for name in _field_names(kind)}
        out["__record__"] = kind.__name__
        return out
    raise TypeError(f"cannot cache a {kind.__name__}")


_FIELD_NAMES: Dict[type, Tuple[str, ...]] = {}


def _field_names(cls: type) -> Tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def _decode(value: Any, classes: Mapping[str, type]) -> Any:
    kind = type(value)
    if kind is list:
        return tuple([v if type(v) in _SCALARS else _decode(v, classes) for v in value])
    if kind is not dict:
        return value
    if "__record__" in value:
        cls = classes.get(value["__record__"])
        if cls is None:
            raise ValueError(f"unknown record type {value['__record__']!r}")
        fields = {k: (v if type(v) in _SCALARS else _decode(v, classes)) for k, v in value.items() if k != "__record__"}
        return cls(**fields)
    if "__list__" in value:
        return [_decode(v, classes) for v in value["__list__"]]
    if "__map__" in value:
        return {k: _decode(v, classes) for k, v in value["__map__"]}
    raise ValueError("unknown cache entry shape")


def cache_key(blob_sha: str, path: str) -> str:
    """The cache key of a member: its blob SHA-1 and path (a moved file is parsed again, since
    the path is part of the record)."""
    return f"{blob_sha}:{path}"


class ParseCache:
    """Parsed results (``ReadResult``) by blob SHA-1 and path, persisted in ``folder``.

    Use :meth:`get` / :meth:`put` during a run and :meth:`save` after a successful one: only the
    entries used by that run are written, so the file never grows beyond one snapshot.

    Arguments:
        folder: where ``parse-cache.json`` lives (created on save).
        classes: record classes that may be read back, by name (default: the dataclasses of
            ``malicious_image.content.model``).
    """

    def __init__(self, folder: str | os.PathLike, classes: Mapping[str, type] | None = None):
        self.folder = Path(folder)
        self.fingerprint = code_fingerprint()
        self._classes = dict(classes) if classes is not None else None
        self._loaded: Dict[str, Any] | None = None  # read from disk on first use
        self._used: Dict[str, Any] = {}
        self.hits = 0
        self.misses = 0

    @property
    def path(self) -> Path:
        """The cache file."""
        return self.folder / CACHE_FILE

    def __len__(self) -> int:
        return len(self._entries())

    def _entries(self) -> Dict[str, Any]:
        if self._loaded is None:
            self._loaded = self._load()
        return self._loaded

    def _load(self) -> Dict[str, Any]:
        try:
            with self.path.open("rb") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            LOG.warning("action=parse_cache_ignored path=%s reason=%r", self.path, str(exc))
            return {}
        if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT:
            return {}
        if data.get("fingerprint") != self.fingerprint:
            LOG.info("action=parse_cache_invalidated reason=code_changed")
            return {}
        entries = data.get("entries")
        return entries if isinstance(entries, dict) else {}

    def get(self, blob_sha: str, path: str) -> Any | None:
        """Return the cached ``ReadResult`` of this member, or None."""
        key = cache_key(blob_sha, path)
        if key in self._used:
            self.hits += 1
            return self._used[key][1]
        raw = self._entries().get(key)
        if raw is None:
            self.misses += 1
            return None
        try:
            if self._classes is None:
                self._classes = _model_classes()
            result = _decode(raw, self._classes)
        except (TypeError, ValueError) as exc:
            LOG.warning("action=parse_cache_entry_ignored path=%s reason=%r", path, str(exc))
            self.misses += 1
            return None
        self._used[key] = (raw, result)
        self.hits += 1
        return result

    def put(self, blob_sha: str, path: str, result: Any) -> None:
        """Remember the ``ReadResult`` of a member parsed in this run (a second put of the same
        member replaces the first and keeps its place in the file)."""
        self._used[cache_key(blob_sha, path)] = (None, result)

    def discard(self, blob_sha: str, path: str) -> None:
        """Forget a member put in this run (one whose parse never finished)."""
        self._used.pop(cache_key(blob_sha, path), None)

    def save(self) -> None:
        """Write the entries used in this run, atomically.

        The file is written entry by entry (the same bytes as one ``json.dumps`` of the whole
        payload): building the whole JSON text first held a second copy of every record, twice,
        which at 10x the 2024 content was more memory than the records themselves.

        Raises:
            StateError: when the folder cannot be written.
        """
        write_atomic(self.path, self._chunks())
        self._loaded = None  # read back from the file if ever needed; entries in use stay in _used

    def _chunks(self) -> Iterator[bytes]:
        head = {"format": CACHE_FORMAT, "fingerprint": self.fingerprint}
        yield json.dumps(head, separators=(",", ":"))[:-1].encode("utf-8") + b',"entries":{'
        separator = b""
        for key, (raw, result) in self._used.items():
            entry = raw if raw is not None else _encode(result)
            yield separator + json.dumps({key: entry}, separators=(",", ":"))[1:-1].encode("utf-8")
            separator = b","
        yield b"}}"


def write_atomic(path: Path, data: bytes | Iterable[bytes]) -> None:
    """Write ``data`` (bytes, or an iterable of byte chunks written in turn) to ``path`` so a
    reader sees the old file or the new one, never a part.

    Raises:
        StateError: when the folder cannot be created or written.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o644 & ~umask)  # as an ordinary new file, not mkstemp's 0600
            with os.fdopen(handle, "wb") as out:
                for chunk in [data] if isinstance(data, bytes) else data:
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise StateError(f"cannot write {path} ({exc.strerror or exc})") from None
