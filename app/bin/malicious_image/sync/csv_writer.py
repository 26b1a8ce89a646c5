"""Offline table writer: ``<table>.csv`` files that switch generation all at once.

Layout of the output folder (``build.py sync --out DIR``)::

    DIR/generations/<generation>/<table>.csv   one complete folder per generation
    DIR/current -> generations/<generation>    symbolic link, switched atomically (rename)
    DIR/<table>.csv -> current/<table>.csv     stable names for people and scripts
    DIR/sync_state.json                        JsonStateStore (the SyncState of the last run)
    DIR/.lock                                  held during a run: a second run exits saying so

A new generation is written in full under a temporary name, fsynced, renamed into
``generations/``, and only then is ``current`` switched with one ``rename``: a reader that
resolves ``current`` once sees every table of the old generation or every table of the new one,
and each ``<table>.csv`` opened by name is always one whole file. The previous generation is
kept (a reader may still hold it open); older ones are removed by the next run that writes, and
leftovers of a run killed midway as soon as the next run takes the folder's lock (even a run that
finds upstream unchanged). Where symbolic links are not available (Windows), each file is
replaced by rename instead (every file whole, the set switched one file at a time).

CSV as Splunk reads lookups: a header row, UTF-8, every value a string, multivalue fields
joined with newlines inside one quoted cell.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Dict, Iterator, List, Mapping, Sequence

from malicious_image.sync.state import StateError, SyncState, write_atomic

LOG = logging.getLogger("malicious_image.sync")

CURRENT = "current"
GENERATIONS = "generations"
STATE_FILE = "sync_state.json"
LOCK_FILE = ".lock"
_TMP_PREFIX = ".tmp-"


class CsvWriterError(Exception):
    """The output folder cannot be written (or another run holds it)."""


class SyncLockedError(CsvWriterError):
    """Another sync is writing to the same output folder."""


def csv_value(value: Any) -> str:
    """Render one table value as Splunk's CSV lookups hold it (multivalue: newline-joined)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (list, tuple)):
        return "\n".join(csv_value(v) for v in value)
    return str(value)


def columns_of(rows: Sequence[Mapping[str, Any]]) -> List[str]:
    """Every field of the rows, in order of first appearance."""
    seen: Dict[str, None] = {}
    for row in rows:
        for name in row:
            seen.setdefault(name, None)
    return list(seen)


def write_csv(handle: IO[str], rows: Sequence[Mapping[str, Any]]) -> None:
    """Write rows as CSV (header first) to an open text file."""
    fields = columns_of(rows)
    out = csv.writer(handle, lineterminator="\n")
    if fields:
        out.writerow(fields)
    for row in rows:
        out.writerow([v if type(v) is str else csv_value(v) for v in (row.get(name) for name in fields)])


def read_csv(path: str | os.PathLike) -> List[Dict[str, Any]]:
    """Read a table written by :func:`write_csv`; a cell holding newlines becomes a list."""
    with open(path, encoding="utf-8", newline="") as handle:
        return [{k: (v.split("\n") if "\n" in v else v) for k, v in row.items()} for row in csv.DictReader(handle)]


class CsvTableWriter:
    """A :class:`~malicious_image.sync.engine.TableWriter` writing ``<table>.csv`` generations.

    Arguments:
        folder: the output folder (created when missing).
    """

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    @property
    def current(self) -> Path:
        """The folder of the current generation (resolved through the ``current`` link)."""
        return (self.folder / CURRENT).resolve()

    def shows(self, generation: str) -> bool:
        """Whether ``current`` is the folder of ``generation`` (written by :meth:`replace_tables`)."""
        link = self.folder / CURRENT
        if not link.is_symlink():
            return os.name == "nt"  # no links there: each file is replaced whole, nothing to compare
        name = Path(os.readlink(link)).name
        safe = _safe_name(generation)
        return name == safe or name.startswith(safe + "-")  # or its mkdtemp twin (a reused name)

    def replace_tables(self, tables: Mapping[str, Sequence[Mapping[str, object]]], generation: str) -> None:
        """Write every table as generation ``generation`` and switch to it in one step.

        Raises:
            CsvWriterError: when the folder cannot be written.
        """
        safe = _safe_name(generation)
        generations = self.folder / GENERATIONS
        try:
            generations.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=_TMP_PREFIX, dir=generations))
            for name, rows in tables.items():
                with (staging / f"{name}.csv").open("w", encoding="utf-8", newline="") as handle:
                    write_csv(handle, rows)
                    handle.flush()
                    os.fsync(handle.fileno())
            target = generations / safe
            if target.exists():
                target = Path(tempfile.mkdtemp(prefix=f"{safe}-", dir=generations))
                target.rmdir()
            os.replace(staging, target)
            _fsync_dir(generations)
            previous = os.readlink(self.folder / CURRENT) if (self.folder / CURRENT).is_symlink() else ""
            self._switch(target, sorted(tables))
            self._prune(keep={target.name, Path(previous).name})
        except OSError as exc:
            raise CsvWriterError(f"cannot write the tables in {self.folder} ({exc.strerror or exc})") from None

    def _switch(self, target: Path, names: Sequence[str]) -> None:
        link = self.folder / CURRENT
        try:
            tmp_link = self.folder / f"{_TMP_PREFIX}{CURRENT}-{os.getpid()}"
            if tmp_link.is_symlink() or tmp_link.exists():
                tmp_link.unlink()
            os.symlink(Path(GENERATIONS) / target.name, tmp_link, target_is_directory=True)
            os.replace(tmp_link, link)
            _fsync_dir(self.folder)
            for name in names:
                stable = self.folder / f"{name}.csv"
                if not stable.is_symlink():
                    if stable.exists():
                        stable.unlink()
                    os.symlink(Path(CURRENT) / f"{name}.csv", stable)
        except (NotImplementedError, OSError) as exc:
            if isinstance(exc, OSError) and os.name != "nt":
                raise
            for name in names:  # no symbolic links: replace each file, each one whole
                os.replace(shutil.copy2(target / f"{name}.csv", self.folder / f".{name}.csv.tmp"),
                           self.folder / f"{name}.csv")  # fmt: skip

    def _prune(self, keep: set) -> None:
        """Keep the current and the previous generation; drop older ones and leftovers."""
        for path in (self.folder / GENERATIONS).iterdir():
            if path.name not in keep:
                shutil.rmtree(path, ignore_errors=True)
        self._remove_leftovers()

    def _remove_leftovers(self) -> None:
        """Remove what a run killed midway left: staging folders and temporary ``current`` links."""
        generations = self.folder / GENERATIONS
        if generations.is_dir():
            for path in generations.glob(f"{_TMP_PREFIX}*"):
                shutil.rmtree(path, ignore_errors=True)
        for path in self.folder.glob(f"{_TMP_PREFIX}*"):
            path.unlink()

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder's lock for one run.

        Raises:
            SyncLockedError: when another run holds it.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        handle = (self.folder / LOCK_FILE).open("a+")
        try:
            try:
                import fcntl

                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except ImportError:  # Windows: no advisory lock; runs are not guarded
                pass
            except OSError:
                raise SyncLockedError(f"another sync is writing to {self.folder}; wait for it to finish") from None
            try:  # no other run can be writing now: a killed run's leftovers go, even if this run writes nothing
                self._remove_leftovers()
            except OSError as exc:
                LOG.warning("action=leftovers_not_removed folder=%s reason=%r", self.folder, str(exc))
            yield
        finally:
            handle.close()


def _safe_name(generation: str) -> str:
    """The folder name of a generation under ``generations/``."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in generation) or "generation"


def _fsync_dir(folder: Path) -> None:
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class JsonStateStore:
    """A :class:`~malicious_image.sync.engine.StateStore` in a JSON file, written atomically.

    The state is saved after the tables are switched, so a run killed between the two leaves
    the new tables with the previous state. Given ``tables`` (the writer of the same folder),
    :meth:`load` trusts a state only when ``current`` is the state's generation; otherwise it
    returns None and the next run is a full sync, never a wrong "unchanged" (which would keep
    tables that do not match the upstream, e.g. after upstream went back to that commit).

    Arguments:
        path: the state file (``DIR/sync_state.json`` for ``build.py sync``).
        tables: the :class:`CsvTableWriter` whose generation the state must describe.
    """

    def __init__(self, path: str | os.PathLike, tables: CsvTableWriter | None = None):
        self.path = Path(path)
        self.tables = tables

    def load(self) -> SyncState | None:
        """Return the saved state, or None when there is none.

        Raises:
            StateError: when the file exists but is not a readable state.
        """
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(f"cannot read {self.path} ({exc.strerror})") from None
        try:
            state = SyncState.from_dict(json.loads(text))
        except (ValueError, TypeError) as exc:
            raise StateError(f"{self.path} is not a valid sync state ({exc})") from None
        if self.tables is not None and state.generation and not self.tables.shows(state.generation):
            LOG.warning("action=state_ignored reason=%r", "the current tables are not the saved state's generation")
            return None
        return state

    def save(self, state: SyncState) -> None:
        """Replace the saved state.

        Raises:
            StateError: when the file cannot be written.
        """
        buffer = io.StringIO()
        json.dump(state.to_dict(), buffer, indent=1)
        write_atomic(self.path, buffer.getvalue().encode("utf-8"))
