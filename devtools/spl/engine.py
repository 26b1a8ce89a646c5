"""Run a search: expand macros, split the pipeline, run each command over the rows.

The first command is an implied ``search`` over the given events (unless the search starts
with a generating command such as ``| makeresults``). Like Splunk, that first search returns
events newest first (by ``_time``), restricted to the context's time range and default indexes.
"""

from __future__ import annotations

import time
from typing import Iterable, List

from .commands import COMMANDS
from .context import SearchContext
from .errors import SPLSyntaxError, UnsupportedSPL
from .lexer import split_pipeline
from .macros import expand_macros
from .values import Row, normalize_row, parse_number

MAX_SUBSEARCH_DEPTH = 10


class Runner:
    """Runs pipelines for one search; commands use it for subsearches and the context."""

    def __init__(self, events: List[Row], context: SearchContext, depth: int = 0) -> None:
        self.events = events
        self.context = context
        self.depth = depth
        self.commands = COMMANDS
        self.first_search: object | None = None

    def run(self, text: str, base: int = 0, rows: List[Row] | None = None, deadline: float | None = None) -> List[Row]:
        """Run a pipeline (already macro-expanded). With ``rows``, the pipeline continues from them.

        With ``deadline`` (a ``time.monotonic()`` value), the pipeline is finalized when it passes:
        the remaining commands are not run and the rows so far are the result, as Splunk finalizes
        a subsearch at ``[subsearch] maxtime``.
        """
        stages = split_pipeline(text, base, implied_search=rows is None)
        current: List[Row] | None = rows
        for stage in stages:
            if deadline is not None and current is not None and time.monotonic() > deadline:
                break
            spec = self.commands.get(stage.name)
            if spec is None:
                raise UnsupportedSPL(f"command '{stage.name}' is not supported", stage.position)
            if current is None:
                if stage.name == "search":
                    current = self.initial_events()
                    self.first_search = stage
                elif not spec.generating:
                    raise SPLSyntaxError(
                        f"command '{stage.name}' needs input: it cannot start a search", stage.position
                    )
            current = spec.run(stage, current, self)
        return current or []

    def initial_events(self) -> List[Row]:
        """The events an initial search sees: in the time range, newest first, as fresh copies."""
        earliest, latest = self.context.earliest, self.context.latest
        selected = []
        for event in self.events:
            stamp = parse_number(event.get("_time"))
            if earliest is not None and (stamp is None or stamp < earliest):
                continue
            if latest is not None and (stamp is None or stamp >= latest):
                continue
            selected.append(copy_row(event))
        selected.sort(key=lambda e: -(parse_number(e.get("_time")) or 0))
        return selected

    def subsearch(self, text: str, position: int) -> List[Row]:
        """Run the text of a ``[ ... ]`` subsearch over the same events and context.

        Like Splunk, a subsearch that runs longer than ``limits.subsearch_maxtime`` is finalized
        with the rows it has, silently (Search Manual, "About subsearches"); callers cut the
        rows to their own ``maxout``.
        """
        if self.depth >= MAX_SUBSEARCH_DEPTH:
            raise SPLSyntaxError("subsearches nested too deeply", position)
        child = Runner(self.events, self.context, self.depth + 1)
        deadline = time.monotonic() + self.context.limits.subsearch_maxtime
        return child.run(text.strip(), position, deadline=deadline)


def copy_row(row: Row) -> Row:
    """A copy of a row whose multivalue lists can be changed safely (see values.normalize_row)."""
    return normalize_row(row)


def run_search(spl: str, events: Iterable[Row], context: SearchContext | None = None) -> List[Row]:
    """Run a search string over events and return the result rows.

    Arguments:
        spl: the search as written in savedsearches.conf or a dashboard (macros allowed).
        events: dicts of field -> str | list[str], with ``_time`` (epoch seconds), ``_raw``,
            ``index``, ``sourcetype``, ``source``, ``host`` (see devtools.cloudtrail.fields).
        context: macros, lookups, REST provider, now/time range, time zone.

    Returns:
        The result rows, as dicts of field -> str | list[str].

    Raises:
        SPLSyntaxError: the search does not parse.
        UnsupportedSPL: a command, function, option or macro that this evaluator lacks.
        MacroError, LookupError_, SPLRuntimeError: as their names say.

    Examples:
        >>> run_search("| makeresults count=2 | eval n=1 | stats sum(n) as total", [])
        [{'total': '2'}]
    """
    context = context or SearchContext()
    text = expand_macros(spl.strip(), context.macros)
    return Runner(list(events), context).run(text)
