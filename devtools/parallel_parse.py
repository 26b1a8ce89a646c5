"""Parse synced members on several cores, for ``build.py sync --jobs N`` only.

Never imported by the app: code that runs inside Splunk parses in its own process, one member
after the other (AppInspect flags multiprocessing). This is a ``parse_many`` for
:func:`malicious_image.sync.engine.run_sync`: the engine reads the source in this process and
hands over the members to parse as they come; ``jobs - 1`` forked worker processes parse them.
A member goes to a worker whose pipe has room, else this process parses it itself, so the split
balances by itself (this process also inflates the archive and reads its tar headers). Each
worker keeps its results until its input ends, then sends them back at once (pickled through a
pipe), so neither side ever waits on a full pipe while the other waits on it. The results come
back in the original order, so the records, tables, rejections and parse cache are those of a
serial run.

A worker that fails reports its exception, which is raised here when its member's turn comes
(as the serial run would raise it); every worker is ended and reaped before ``parse_many``
returns or raises, on any exception (KeyboardInterrupt included).
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator, List, Tuple

from malicious_image.sync.state import CACHE_FILE, ParseCache

Item = Tuple[str, bytes, str]
ReadMember = Callable[..., Any]


def default_jobs() -> int:
    """2 when libyaml is in use and there are at least 2 CPUs, else 1 (the pure-Python loader's
    parse is so long that it would gain too, but it is what runs inside Splunk: keep it serial
    unless asked)."""
    from malicious_image.content import yaml_safe

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return 2 if cpus >= 2 and yaml_safe.libyaml_in_use() else 1


BATCH_GC_THRESHOLD = 50_000


def batch_gc() -> None:
    """Collect cyclic garbage less often in this short batch process (``build.py sync``): every
    50,000 net allocations instead of Python's 700. Nearly all the sync allocates lives until the
    tables are written, so the frequent collections only walked it again and again (about 0.03 s
    of a 0.6 s cold sync); the forked workers inherit the setting."""
    import gc

    gc.set_threshold(BATCH_GC_THRESHOLD, *gc.get_threshold()[1:])


class WorkerError(Exception):
    """A parse worker ended without sending its results."""


class _Worker:
    """One forked process that parses what it is sent and returns all its results at the end."""

    def __init__(self, read_member: ReadMember):
        to_child, self._input = os.pipe()
        self._output, from_child = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the worker: never returns
            status = 1
            try:
                os.close(self._input)
                os.close(self._output)
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent ends us (stop)
                _serve(read_member, os.fdopen(to_child, "rb"), os.fdopen(from_child, "wb"))
                status = 0
            finally:
                os._exit(status)
        os.close(to_child)
        os.close(from_child)
        self._fd = self._input  # the pipe to the worker, written with os.write (no buffering)
        self._results: Iterator[Tuple[str, Any]] | None = None
        self.sent = 0

    def send(self, item: Item, wait: bool = True) -> bool:
        """Send ``item``; with ``wait`` False, only when the pipe has room (returns whether sent)."""
        if self._fd < 0:
            raise WorkerError("a parse worker ended early")
        if not wait and not select.select([], [self._fd], [], 0)[1]:
            return False  # the worker has enough to do
        payload = memoryview(pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL))
        try:
            while payload:
                payload = payload[os.write(self._fd, payload) :]
        except BrokenPipeError:  # the worker died; its results (or their absence) tell why
            self.finish_input()
            raise WorkerError("a parse worker ended early") from None
        self.sent += 1
        return True

    def finish_input(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def next_result(self) -> Any:
        if self._results is None:
            with os.fdopen(self._output, "rb") as reader:
                self._output = -1
                try:
                    results = pickle.load(reader)  # noqa: S301 - from our own forked worker
                except (EOFError, pickle.UnpicklingError) as exc:
                    raise WorkerError(f"a parse worker ended without its results ({exc or 'no data'})") from None
            self._results = iter(results)
        outcome, value = next(self._results, ("missing", None))
        if outcome == "error":
            raise value
        if outcome == "missing":
            raise WorkerError("a parse worker returned fewer results than it was sent")
        return value

    def stop(self) -> None:
        """End the worker (if still running) and reap it; safe to call more than once."""
        self.finish_input()
        if self._output >= 0:
            os.close(self._output)
            self._output = -1
        if self.pid > 0:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(self.pid, 0)
            self.pid = 0


def _serve(read_member: ReadMember, source: BinaryIO, sink: BinaryIO) -> None:
    results: List[Tuple[str, Any]] = []
    failed = False
    while True:
        try:
            path, data, commit = pickle.load(source)  # noqa: S301 - from our own process
        except EOFError:
            break
        if failed:
            continue  # drain the input: the parent must never block on a full pipe
        try:
            results.append(("ok", read_member(path, data, commit=commit)))
        except BaseException as exc:  # raised in the parent at this member's turn
            results.append(("error", exc))
            failed = True
    try:
        payload = pickle.dumps(results, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # an unpicklable result or exception: report it plainly
        payload = pickle.dumps([("error", WorkerError(f"a parse result could not be sent back ({exc})"))])
    sink.write(payload)
    sink.close()


def forked_parse_many(
    read_member: ReadMember, jobs: int, local_share: int | None = None
) -> Callable[[Iterable[Item]], Iterator[Any]]:
    """A ``parse_many`` that parses on ``jobs`` processes (this one included); ``jobs`` <= 1 is
    the serial parse.

    Arguments:
        local_share: None (the default) balances by itself: a member goes to a worker whose pipe
            has room, else it is parsed here, so a busy core (or a slow worker) never holds up the
            reading. An integer fixes the split instead (tests): this process parses one member
            in ``1 + (local_share - 1) * workers``, the workers the others in turn.
    """

    def serial(items: Iterable[Item]) -> Iterator[Any]:
        for path, data, commit in items:
            yield read_member(path, data, commit=commit)

    def parallel(items: Iterable[Item]) -> Iterator[Any]:
        workers: List[_Worker] = []
        try:
            for _ in range(jobs - 1):
                workers.append(_Worker(read_member))
            cycle = 1 + (local_share - 1) * len(workers) if local_share else 0
            plan: List[Any] = []  # a result parsed here, or the worker that has it
            for index, item in enumerate(items):
                if cycle:
                    turn = index % cycle
                    taker = workers[(turn - 1) % len(workers)] if turn else None
                    if taker is not None:
                        taker.send(item)
                else:
                    taker = next((w for w in workers if w.send(item, wait=False)), None)
                if taker is None:
                    path, data, commit = item
                    plan.append(_Local(read_member(path, data, commit=commit)))
                else:
                    plan.append(taker)
            for worker in workers:
                worker.finish_input()
            for entry in plan:
                yield entry.value if isinstance(entry, _Local) else entry.next_result()
        finally:
            for worker in workers:
                worker.stop()

    return serial if jobs <= 1 else parallel


class _Local:
    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value


class ForkedParseCache(ParseCache):
    """A parse cache whose file is written by a forked process while the engine builds and writes
    the tables (``start_save``), into a temporary file that replaces the cache file only when the
    engine saves the cache after a successful run; a failed run removes it (``cancel_save``).
    The bytes are those :meth:`ParseCache.save` writes. If the process fails, ``save`` writes the
    file itself.

    Arguments:
        folder: as for :class:`ParseCache`.
        fork: asked at ``start_save``; False saves as a plain :class:`ParseCache` (``--jobs 1``).
    """

    def __init__(self, folder: str | os.PathLike, fork: Callable[[], bool] = lambda: True, **kwargs: Any):
        super().__init__(folder, **kwargs)
        self._fork = fork
        self._pid = 0
        self._tmp = ""

    def start_save(self) -> None:
        if self._pid or not self._fork():
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle, tmp = tempfile.mkstemp(prefix=f".{CACHE_FILE}.", suffix=".tmp", dir=self.folder)
        except OSError:
            return  # save() reports it
        pid = os.fork()
        if pid == 0:  # the writer: never returns
            status = 1
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent ends us (cancel_save)
                with os.fdopen(handle, "wb") as out:
                    for chunk in self._chunks():
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                status = 0
            finally:
                os._exit(status)
        os.close(handle)
        self._pid, self._tmp = pid, tmp

    def save(self) -> None:
        if not self._pid:
            super().save()
            return
        pid, tmp, self._pid, self._tmp = self._pid, self._tmp, 0, ""
        status = os.waitpid(pid, 0)[1]
        try:
            if status != 0:
                raise OSError("the cache writer failed")
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o644 & ~umask)  # as write_atomic does
            os.replace(tmp, self.path)
        except OSError:
            Path(tmp).unlink(missing_ok=True)
            super().save()  # write it here (raises StateError if it cannot)
            return
        self._loaded = None

    def cancel_save(self) -> None:
        """End the writer (if any) and remove its file; nothing after a completed save."""
        if self._pid:
            try:
                os.kill(self._pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(self._pid, 0)
            self._pid = 0
        if self._tmp:
            Path(self._tmp).unlink(missing_ok=True)
            self._tmp = ""


class Parallel:
    """What ``--jobs`` gives :func:`run_sync`: ``parse_many`` and a parse cache written while the
    tables are. ``jobs`` None: :func:`default_jobs`, decided when there is something to parse
    (an unchanged upstream imports no YAML loader)."""

    def __init__(self, jobs: int | None):
        self.jobs = jobs

    def parse_many(self, items: Iterable[Item]) -> Iterator[Any]:
        from malicious_image.content.reader import read_member

        if self.jobs is None:
            self.jobs = default_jobs()
        return forked_parse_many(read_member, self.jobs)(items)

    def cache(self, folder: str | os.PathLike) -> ParseCache:
        return ForkedParseCache(folder, fork=lambda: (self.jobs or 1) > 1)
