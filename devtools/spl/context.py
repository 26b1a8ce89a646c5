"""What a search runs against: macros, lookups, the REST provider, and the clock."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Sequence

from .lookups import LookupStore
from .macros import MacroTable

RestProvider = Callable[[str, Dict[str, str]], List[Dict[str, Any]]]


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
    """

    macros: MacroTable = field(default_factory=dict)
    lookups: LookupStore | None = None
    rest: RestProvider | None = None
    now: float = field(default_factory=time.time)
    earliest: float | None = None
    latest: float | None = None
    indexes: Sequence[str] | None = None
    tz: str = "UTC"
    settings: Mapping[str, Any] = field(default_factory=dict)
