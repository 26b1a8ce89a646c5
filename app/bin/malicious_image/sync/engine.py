"""One sync run: source -> members -> records -> tables -> writer, with one status report.

:func:`run_sync` is the whole core; the modular input (KV store writer and state store) and
``build.py sync`` (CSV writer, JSON state file) only choose the source, the writer and the state
store. The run:

1. loads the last :class:`~malicious_image.sync.state.SyncState`; it counts only when it was
   written by the same reader and table code (``fingerprint``) and has a table generation;
2. resolves the source (for GitHub: one conditional request). Unchanged -> outcome
   ``unchanged``: nothing else is read and nothing is written (the state is saved only when its
   ETag changed or the last run failed);
3. reads the members the reader needs (``member_kind``), parsing only those whose
   (blob SHA-1, path) is not in the parse cache; a download that breaks off is retried whole
   under the source's retry policy (members already parsed in the failed attempt are kept);
   With an ATT&CK provider (``attack``, ``content/attack_sources.py``) the provider is resolved
   first; a catalogue whose key differs from the last run's (a new ATT&CK release) makes the run
   read the content again and rebuild the tables even when the content did not change;
4. builds the tables (from the provider's STIX catalogue, else the content's CSV), refuses to
   replace them with a sync that found no detection at all or that would lower the share of
   detections with an ATT&CK id by more than 20 points (``drift.py``, unless
   ``accept_format_change``), writes them as one new generation (``TableWriter.replace_tables``),
   then saves the state and
   the cache. A failure at any step leaves the previous tables in place: the report says why and
   the saved state keeps the commit, ETag and blobs of the tables that are still there.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, Iterator, List, Mapping, Protocol, Sequence, Tuple

from malicious_image.content.archive import ArchiveError
from malicious_image.content.source_base import ContentSource, Resolution, SourceError, call_with_retries
from malicious_image.sync.drift import ContentHealth, FormatDriftError, check_drift, measure
from malicious_image.sync.report import MAX_REJECTED_IN_EVENT, SyncReport  # noqa: F401 - re-exported
from malicious_image.sync.state import ParseCache, StateError, SyncState, code_fingerprint

if TYPE_CHECKING:  # imported only when there is a provider: the CSV path never loads the STIX reader
    from malicious_image.content.attack_sources import AttackProvider

LOG = logging.getLogger("malicious_image.sync")

Progress = Callable[[str, int, int], None]
ParseMany = Callable[[Iterable[Tuple[str, bytes, str]]], Iterable[Any]]
"""``parse_many(items)``: ``items`` yields ``(path, data, commit)`` as the source is read; return
the ``read_member`` results in the same order (a generator may take items ahead of its results)."""
_PROGRESS_EVERY = 100


class SyncInterrupted(Exception):
    """Raised by a writer (or a hook it calls) when this run has lost the right to write, for
    example a search head that stopped being the cluster captain: the run ends at once, no state is
    saved (another writer owns it now) and the exception reaches the caller unchanged."""


class SyncError(Exception):
    """The sync found something that makes its result unfit to replace the tables."""


class TableWriter(Protocol):
    """Writes all tables as one generation: a reader sees all-old or all-new."""

    def replace_tables(self, tables: Mapping[str, Sequence[Mapping[str, object]]], generation: str) -> None:
        """Replace every table with ``tables`` (table name -> rows), labelled ``generation``."""


class StateStore(Protocol):
    """Keeps the :class:`SyncState` between runs."""

    def load(self) -> SyncState | None:
        """Return the last saved state, or None before the first run."""

    def save(self, state: SyncState) -> None:
        """Save ``state``, replacing the previous one."""


@dataclass(frozen=True)
class ContentReader:
    """The content-core functions the engine calls (the real ones by default; tests may fake them)."""

    member_kind: Callable[[str], str | None]
    read_member: Callable[..., Any]
    read_catalogue: Callable[[bytes, Sequence[str]], List[Any]]
    build_tables: Callable[..., Dict[str, List[Dict[str, Any]]]]
    load_tactic_order: Callable[[], Sequence[str]]
    duplicate_ids: Callable[[Iterable[Any]], Dict[str, List[str]]] = lambda records: {}
    read_groups: Callable[[bytes], List[Any]] | None = None
    load_tactic_ids: Callable[[], Dict[str, str]] | None = None

    @classmethod
    def default(cls) -> ContentReader:
        """The reader of :mod:`malicious_image.content` and the tables of :mod:`.tables`."""
        from malicious_image.content import catalogue, reader
        from malicious_image.sync import tables

        return cls(
            reader.member_kind, reader.read_member, reader.read_catalogue, tables.build_tables,
            catalogue.load_tactic_order, tables.duplicate_detection_ids, catalogue.read_catalogue_groups,
            catalogue.load_tactic_ids,
        )  # fmt: skip


@dataclass
class _Collected:
    """What one pass over the source produced (kept across retries of the download)."""

    results: Dict[Tuple[str, str], Any] = field(default_factory=dict)  # (blob, path) -> ReadResult
    blobs: Dict[str, str] = field(default_factory=dict)
    catalogues: List[Tuple[str, bytes]] = field(default_factory=list)
    skipped: List[Any] = field(default_factory=list)
    commit: str = ""
    parse_seconds: float = 0.0
    bytes_unpacked: int = 0
    parsed: int = 0


class _Timer:
    def __init__(self, durations: Dict[str, float]):
        self.durations = durations

    def __call__(self, phase: str, action: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        try:
            return action()
        finally:
            self.durations[phase] = self.durations.get(phase, 0.0) + time.perf_counter() - start


def run_sync(
    source: ContentSource,
    writer: TableWriter,
    state_store: StateStore,
    *,
    cache: ParseCache | None = None,
    progress: Progress | None = None,
    tactic_order: Sequence[str] | None = None,
    reader: ContentReader | None = None,
    parse_many: ParseMany | None = None,
    accept_format_change: bool = False,
    attack: AttackProvider | None = None,
) -> SyncReport:
    """Run one sync and return its report; never raises for a failed sync (see ``outcome``).

    Arguments:
        source: a :class:`~malicious_image.content.source_base.ContentSource`.
        writer: where the tables go (KV store or CSV files).
        state_store: where the :class:`SyncState` is kept.
        cache: the parse cache; None parses every member.
        progress: called as ``progress(phase, done, total)`` (total 0 when unknown).
        tactic_order: ATT&CK tactic order; default ``catalogue.load_tactic_order()``.
        reader: the content-core functions (default: the real reader and tables).
        parse_many: parses the members that are not cached (see :data:`ParseMany`); default: one
            after the other with ``reader.read_member``, as they are read. ``build.py sync`` may
            pass one that parses on several cores; the result must not depend on it.
        accept_format_change: write the tables even when they would lower the share of
            detections that have an ATT&CK id by more than 20 points (``drift.py``).
        attack: an ATT&CK catalogue provider (``attack_sources.attack_provider``); None = the
            content's own ``mitre_enrichment.csv``. Its ``info`` goes to ``report.attack``.
    """
    started = time.perf_counter()
    report = SyncReport(repository=source.repository, ref=source.ref)
    if attack is not None:  # until the provider says more (a failed run still names the setting)
        report.attack["source"] = str(getattr(attack, "name", "") or type(attack).__name__)
    timer = _Timer(report.durations)
    notify = progress or (lambda phase, done, total: None)
    previous: SyncState | None = None
    written = ""  # the generation written by this run, once replace_tables has returned
    try:
        previous = _load_state(state_store, report)
        fingerprint = code_fingerprint()
        comparable = previous if previous and previous.fingerprint == fingerprint and previous.generation else None
        notify("resolve", 0, 1)
        attack_resolution = timer("resolve", attack.resolve) if attack is not None else None
        attack_key = attack_resolution.key if attack_resolution is not None else ""
        same_attack = comparable is not None and comparable.attack == attack_key
        resolution = timer("resolve", lambda: source.resolve(comparable))
        if resolution.unchanged and comparable is not None and same_attack:
            _finish_unchanged(report, comparable, resolution, state_store)
            _note_attack_unchanged(report, attack_resolution)
            return report
        reader = reader or ContentReader.default()  # imported only when there is content to read
        collected = _Collected()
        download = lambda: _collect(source, resolution, reader, cache, collected, notify, parse_many)  # noqa: E731
        policy = getattr(source, "retry_policy", None)
        timer("download", (lambda: call_with_retries(download, policy, what="download")) if policy else download)
        report.durations["download"] -= collected.parse_seconds
        report.durations["parse"] = collected.parse_seconds
        commit = collected.commit or resolution.commit
        report.commit = commit
        _fill_counts_from_read(report, collected, cache)
        if same_attack and commit == comparable.commit and collected.blobs == comparable.blobs:
            _finish_unchanged(report, comparable, resolution, state_store)
            _note_attack_unchanged(report, attack_resolution)
            return report
        _start_cache_save(cache)
        loaded = timer("download", lambda: attack.load(attack_resolution)) if attack is not None else None
        if loaded is not None:
            attack_key = loaded.key
            report.attack = dict(loaded.info)
        order = tactic_order if tactic_order is not None else reader.load_tactic_order()
        notify("tables", 0, 1)
        stix = loaded.catalogue if loaded is not None else None
        tables = timer("tables", lambda: _build_tables(reader, collected, order, commit, report, stix))
        unknown = (getattr(result, "unknown_keys", ()) for result in collected.results.values())
        report.health = measure(tables["detections"], unknown)
        in_place = ContentHealth.from_state(previous.coverage) if previous and previous.generation else None
        check_drift(in_place, report.health, accept_format_change=accept_format_change)
        generation = _next_generation(previous)
        notify("write", 0, 1)
        timer("write", lambda: writer.replace_tables(tables, generation))
        written = generation
        report.generation = generation
        report.counts = {name: len(rows) for name, rows in tables.items()}
        report.outcome = "updated"
        new_state = SyncState(
            repository=source.repository, ref=source.ref, commit=commit, etag=resolution.etag,
            blobs=collected.blobs, generation=generation, outcome="updated", finished_at=_now(),
            counts=report.counts, fingerprint=fingerprint, coverage=report.health.to_state(),
            attack=attack_key,
        )  # fmt: skip
        timer("write", lambda: state_store.save(new_state))
        timer("cache", lambda: _save_cache(cache))
        report.message = f"tables replaced with {commit[:12] or 'the content'} (generation {generation})"
        notify("write", 1, 1)
    except SyncInterrupted:
        raise
    except FormatDriftError as exc:  # the message already says the previous tables are kept
        report.error = type(exc).__name__
        _fail(report, str(exc), previous, state_store, written, said_kept=True)
    except (SourceError, ArchiveError, SyncError, StateError) as exc:
        report.error = type(exc).__name__
        _fail(report, str(exc), previous, state_store, written)
    except Exception as exc:  # a writer or reader failure this module does not know by type
        LOG.exception("action=sync_failed reason=unexpected")
        report.error = type(exc).__name__
        _fail(report, f"{type(exc).__name__}: {exc}", previous, state_store, written)
    finally:
        _cancel_cache_save(cache)  # a save started early and not completed by a successful run
        for counter, name in (("bytes_downloaded", "bytes_downloaded"), ("requests", "requests_made")):
            total = int(getattr(source, name, 0)) + int(getattr(attack, name, 0))
            setattr(report, counter, total)
        report.durations["total"] = time.perf_counter() - started
        LOG.info(
            "action=sync outcome=%s commit=%s files_read=%d parsed=%d rejected=%d seconds=%.2f",
            report.outcome, report.commit[:12], report.files_read, report.files_parsed,
            len(report.rejected), report.durations["total"],
        )  # fmt: skip
    return report


def _load_state(state_store: StateStore, report: SyncReport) -> SyncState | None:
    try:
        return state_store.load()
    except StateError as exc:
        LOG.warning("action=state_ignored reason=%r", str(exc))
        report.rejected.append({"path": "(sync state)", "reason": f"{exc}; running a full sync"})
        return None


def _collect(
    source: Any,
    resolution: Resolution,
    reader: ContentReader,
    cache: ParseCache | None,
    collected: _Collected,
    notify: Progress,
    parse_many: ParseMany | None = None,
) -> None:
    """Read every wanted member once; parse those not cached. Re-run whole on a retry.

    The members to parse go to ``parse_many`` as they are read; each one's place in
    ``collected.results`` is kept (a None) until its result comes back, so the records keep the
    archive's order whatever ``parse_many`` does.
    """
    wanted = lambda path: reader.member_kind(path) is not None  # noqa: E731
    collected.blobs.clear()
    collected.catalogues.clear()
    collected.bytes_unpacked = 0
    pending: List[Tuple[str, str]] = []  # (blob, path) of the members handed to parse_many
    reading = [0.0]  # seconds spent reading the source inside parse_many's calls

    def to_parse() -> Iterator[Tuple[str, bytes, str]]:
        seen = 0
        start = time.perf_counter()
        with source.open(resolution, wanted) as stream:
            for member in stream:
                seen += 1
                if seen % _PROGRESS_EVERY == 0:
                    notify("read", seen, 0)
                commit = stream.commit or resolution.commit
                blob = member.blob_sha
                collected.blobs[member.path] = blob
                collected.bytes_unpacked += len(member.data)
                if reader.member_kind(member.path) == "catalogue":
                    collected.catalogues.append((member.path, member.data))
                    continue
                key = (blob, member.path)
                if key in collected.results:
                    continue
                result = cache.get(blob, member.path) if cache is not None else None
                if result is not None:
                    collected.results[key] = result
                    continue
                collected.results[key] = None  # its place, in the archive's order
                if cache is not None:
                    cache.put(blob, member.path, None)  # its place in the cache file too
                pending.append(key)
                reading[0] += time.perf_counter() - start
                yield member.path, member.data, commit
                start = time.perf_counter()
            collected.commit = stream.commit or resolution.commit
            collected.skipped = list(stream.skipped)
        reading[0] += time.perf_counter() - start
        notify("read", seen, seen)

    parse = parse_many or (lambda items: (reader.read_member(p, d, commit=c) for p, d, c in items))
    results = iter(parse(to_parse()))
    done = 0
    try:
        while True:
            start = time.perf_counter()
            result = next(results, _END)
            collected.parse_seconds += time.perf_counter() - start
            if result is _END:
                break
            if done == len(pending):
                raise SyncError(f"the parser returned more results than the {len(pending)} files it was given")
            blob, path = key = pending[done]
            done += 1
            collected.parsed += 1
            if cache is not None:
                cache.put(blob, path, result)
            collected.results[key] = result
        if done != len(pending):
            raise SyncError(f"the parser returned {done} results for {len(pending)} files")
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()  # a parser that stopped early (an error) ends its workers now
        for blob, path in pending[done:]:  # never parsed: an attempt that broke off
            del collected.results[(blob, path)]
            if cache is not None:
                cache.discard(blob, path)
        collected.parse_seconds -= reading[0]
    current = set(collected.blobs.items())
    for key in [k for k in collected.results if (k[1], k[0]) not in current]:
        del collected.results[key]  # from an attempt that broke off, superseded


_END = object()


def _fill_counts_from_read(report: SyncReport, collected: _Collected, cache: ParseCache | None) -> None:
    report.files_read = len(collected.blobs)
    report.files_parsed = collected.parsed
    report.cache_hits = cache.hits if cache is not None else 0
    report.bytes_unpacked = collected.bytes_unpacked
    rejected = [{"path": s.path, "reason": s.reason} for s in collected.skipped]
    for result in collected.results.values():
        rejection = getattr(result, "rejection", None)
        if rejection is not None:
            rejected.append({"path": rejection.path, "reason": rejection.reason})
    report.rejected.extend(sorted(rejected, key=lambda r: r["path"]))


def _pick_catalogue(catalogues: Iterable[Tuple[str, bytes]]) -> Tuple[str, bytes] | None:
    """The shallowest ``mitre_enrichment.csv`` (older snapshots also carry copies in dist/, bin/)."""
    ordered = sorted(catalogues, key=lambda item: (item[0].count("/"), item[0]))
    return ordered[0] if ordered else None


def _note_attack_unchanged(report: SyncReport, resolution: Any) -> None:
    if resolution is not None and resolution.key:
        note = resolution.message or "the catalogue did not change"
        report.attack.update(version=resolution.version, fallback=False, message=note)


def _build_tables(
    reader: ContentReader,
    collected: _Collected,
    order: Sequence[str],
    commit: str,
    report: SyncReport,
    stix: Any = None,
) -> Dict[str, List[Dict[str, Any]]]:
    # Cached records carry the commit they were parsed at; build_tables stamps every row with
    # ``commit`` (sync/tables.py), so they are not copied here.
    records = [result.record for result in collected.results.values() if getattr(result, "record", None) is not None]
    techniques: List[Any] = []
    extra: Dict[str, Any] = {}
    catalogue = _pick_catalogue(collected.catalogues)
    if stix is not None:
        extra["catalogue"] = stix  # MITRE's catalogue: the content's CSV is not needed
    elif catalogue is None:
        report.rejected.append({"path": "mitre_enrichment.csv", "reason": "no ATT&CK catalogue in the content"})
    else:
        try:
            techniques = list(reader.read_catalogue(catalogue[1], order))
            if reader.read_groups is not None:
                extra["groups"] = reader.read_groups(catalogue[1])
        except ValueError as exc:
            report.rejected.append({"path": catalogue[0], "reason": str(exc)})
    if stix is None and reader.load_tactic_ids is not None:
        extra["tactic_ids"] = reader.load_tactic_ids()
    tables = reader.build_tables(records, techniques, order, commit, **extra)
    report.duplicate_ids = dict(reader.duplicate_ids(records))
    if not tables.get("detections"):
        raise SyncError(
            f"no detection was read from {report.repository} at {commit[:12] or 'this source'} "
            f"({len(report.rejected)} files rejected); the tables were left unchanged. "
            "Check that the source is a security_content repository or snapshot"
        )
    return tables


def _finish_unchanged(report: SyncReport, previous: SyncState, resolution: Resolution, state_store: StateStore) -> None:
    report.outcome = "unchanged"
    report.commit = previous.commit
    report.generation = previous.generation
    report.counts = dict(previous.counts)
    report.health = ContentHealth.from_state(previous.coverage) or ContentHealth()
    report.message = f"upstream unchanged at {previous.commit[:12] or 'the same content'}; nothing written"
    etag = resolution.etag or previous.etag
    if etag != previous.etag or previous.outcome == "failed":
        state_store.save(dataclasses.replace(previous, etag=etag, outcome="unchanged", finished_at=_now()))


def _fail(
    report: SyncReport, message: str, previous: SyncState | None, state_store: StateStore, written: str = "",
    *, said_kept: bool = False,
) -> None:
    report.outcome = "failed"
    if said_kept:
        report.message = message
    elif written:  # the state still describes the previous tables, so the next run syncs again
        report.message = (
            f"{message}; the tables were replaced (generation {written}) but the sync state was not "
            "saved, so the next run will sync again"
        )
    elif previous is not None and previous.generation:
        report.message = f"{message}; the previous tables were left in place"
    else:
        report.message = f"{message}; no tables were written"
    LOG.error("action=sync_failed reason=%r", message)
    failed = dataclasses.replace(previous) if previous else SyncState(repository=report.repository, ref=report.ref)
    failed.outcome, failed.finished_at, failed.message = "failed", _now(), message[:500]
    try:
        state_store.save(failed)
    except Exception as exc:  # the run already failed; keep the first reason
        LOG.warning("action=state_not_saved reason=%r", str(exc))


def _start_cache_save(cache: ParseCache | None) -> None:
    """Let a cache that can (``build.py sync --jobs``) prepare its file while the tables are built
    and written; it replaces the cache file only in ``save``, as any cache does."""
    start = getattr(cache, "start_save", None)
    if start is not None:
        start()


def _cancel_cache_save(cache: ParseCache | None) -> None:
    cancel = getattr(cache, "cancel_save", None)
    if cancel is not None:
        cancel()


def _save_cache(cache: ParseCache | None) -> None:
    if cache is None:
        return
    try:
        cache.save()
    except StateError as exc:  # the tables are written; a missing cache only costs time next run
        LOG.warning("action=parse_cache_not_saved reason=%r", str(exc))


def _next_generation(previous: SyncState | None) -> str:
    """``<n>-<UTC time>``: increasing, and unique even if the state was lost."""
    last = previous.generation.split("-", 1)[0] if previous and previous.generation else ""
    number = int(last) + 1 if last.isdigit() else 1
    return f"{number}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
