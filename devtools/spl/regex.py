"""PCRE-flavoured regular expressions (Splunk uses PCRE) on Python's ``re``.

Splunk's named groups are ``(?<name>...)``; Python needs ``(?P<name>...)``. Other PCRE-only
syntax (possessive quantifiers, ``\\K``, recursion) is rejected with UnsupportedSPL.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .errors import SPLRuntimeError, UnsupportedSPL

_NAMED = re.compile(r"\(\?<([A-Za-z_][A-Za-z0-9_]*)>")
_UNSUPPORTED = (r"\K", "(?R)", "*+", "++", "?+", "(?|")


@lru_cache(maxsize=1024)
def compile_pcre(pattern: str) -> re.Pattern:
    """Compile a PCRE pattern as used in rex, regex, match(), replace()."""
    for token in _UNSUPPORTED:
        if token in pattern:
            raise UnsupportedSPL(f"PCRE construct {token!r} is not supported in regex {pattern!r}")
    try:
        return re.compile(_NAMED.sub(r"(?P<\1>", pattern))
    except re.error as exc:
        raise SPLRuntimeError(f"bad regular expression {pattern!r}: {exc}") from exc
