"""A small SPL evaluator with Splunk's semantics, for replaying the app's searches offline.

Development tool only: never shipped in the app. See docs/spl-evaluator.md for the supported
subset and the Splunk documentation each rule follows.
"""

from __future__ import annotations

from .context import RestProvider, SearchContext, SearchLimits
from .engine import run_search
from .errors import LookupError_, MacroError, SPLError, SPLRuntimeError, SPLSyntaxError, UnsupportedSPL
from .lookups import LookupStore
from .macros import Macro, macros_from_conf

__all__ = [
    "LookupError_",
    "LookupStore",
    "Macro",
    "MacroError",
    "RestProvider",
    "SPLError",
    "SPLRuntimeError",
    "SPLSyntaxError",
    "SearchContext",
    "SearchLimits",
    "UnsupportedSPL",
    "macros_from_conf",
    "run_search",
]
