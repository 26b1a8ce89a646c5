"""Exception types of the SPL evaluator.

Every failure is one of these, with a message that names the command, function, option or
macro at fault and where it sits in the search string, so a rule author can fix the search.
"""

from __future__ import annotations


class SPLError(Exception):
    """Base class: the search cannot be run as written."""

    def __init__(self, message: str, position: int | None = None) -> None:
        self.position = position
        suffix = f" (at character {position})" if position is not None else ""
        super().__init__(f"{message}{suffix}")


class SPLSyntaxError(SPLError):
    """The search text does not parse (unbalanced quotes, brackets, a missing argument...)."""


class UnsupportedSPL(SPLError):
    """A command, function, option or macro this evaluator does not implement.

    Raised instead of skipping anything: a replayed rule either runs with Splunk's semantics or
    fails loudly.
    """


class SPLRuntimeError(SPLError):
    """The search parses but fails on the data, as Splunk would (e.g. eval assigning a boolean)."""


class MacroError(SPLError):
    """A macro is unknown, called with the wrong number of arguments, or recurses too deeply."""


class LookupError_(SPLError):
    """A lookup definition or its backing file is missing or malformed."""
