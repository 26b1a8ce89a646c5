"""What a search runs against: macros, lookups, the REST provider, and the clock."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Sequence

from .lookups import LookupStore
from .macros import MacroTable

RestProvider = Callable[[str, Dict[str, str]], List[Dict[str, Any]]]


@dataclass(frozen=True)
class SearchLimits:
    """The limits.conf defaults a real Splunk applies, each silently or with only a job-inspector
    message (recorded in :attr:`SearchContext.messages`). Tests lower them to prove the effect.

    Attributes:
        mvexpand_max_mem_mb: ``[default] max_mem_usage_mb`` (500): ``mvexpand`` stops producing rows
            once the rows it made hold more than this (SearchReference/Mvexpand, "Usage").
        subsearch_maxtime: ``[subsearch] maxtime`` (60 s): a subsearch is finalized after this long
            and its partial results are used, silently (Search Manual, "About subsearches").
        subsearch_maxout: ``[subsearch] maxout`` (10000): rows a ``[ ]`` search subsearch returns.
        join_maxout: ``[join] subsearch_maxout`` (50000): rows ``join`` and ``append`` take.
    """

    mvexpand_max_mem_mb: float = 500.0
    subsearch_maxtime: float = 60.0
    subsearch_maxout: int = 10000
    join_maxout: int = 50000


@dataclass
class SearchContext:
    """The environment of one search.

    Attributes:
        macros: macro name (``name`` or ``name(N)``) -> :class:`Macro`, a definition string, or a
            macros.conf stanza dict (see :func:`devtools.spl.macros.macros_from_conf`).
        lookups: lookup definitions and files (:class:`LookupStore`); None means no lookups.
        rest: ``rest(endpoint, options) -> rows`` serving ``| rest``; None makes ``| rest`` an error.
        now: the search's "now" (epoch seconds): ``now()``, ``time()``, relative time modifiers.
        earliest, latest: the search's time range (epoch seconds or None); events outside it are
            not searched, and ``addinfo`` reports them as info_min_time / info_max_time.
        indexes: indexes searched when the search names none (a role's default indexes);
            None searches every event given.
        tz: IANA time zone of the searching user: strftime, strptime, relative_time snapping
            and timechart buckets use it. Splunk uses the user's time zone preference.
        limits: the limits.conf values the search runs under (:class:`SearchLimits`).
        messages: what Splunk would show in the job inspector (truncation warnings), appended
            by the commands as they run.
    """

    macros: MacroTable = field(default_factory=dict)
    lookups: LookupStore | None = None
    rest: RestProvider | None = None
    now: float = field(default_factory=time.time)
    earliest: float | None = None
    latest: float | None = None
    indexes: Sequence[str] | None = None
    tz: str = "UTC"
    limits: SearchLimits = field(default_factory=SearchLimits)
    messages: List[str] = field(default_factory=list)
