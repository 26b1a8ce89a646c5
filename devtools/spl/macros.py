"""Search macro expansion, as Splunk does before parsing a search.

A macro call is `` `name` `` or `` `name(arg1, arg2)` `` anywhere in the search text. The call
with N arguments resolves to the macros.conf stanza ``[name(N)]`` whose ``args = a, b`` names
the parameters; each ``$a$`` in its ``definition`` is replaced by the argument text. Expansion is
textual and repeats until no call is left (macros may call macros), up to
:data:`MAX_EXPANSION_DEPTH` levels, beyond which Splunk also stops with an error.
Docs: "Use search macros in searches" and "Define search macros in Settings"
(docs.splunk.com/Documentation/Splunk/latest/Knowledge/Usesearchmacros, .../Definesearchmacros).

``iseval = 1`` macros (the definition is an eval expression) are not supported and raise.
Inline comments (three backticks on each side, Search Manual "Add comments to searches") are
removed before expansion, in the search and in every macro definition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping, Tuple, Union

from malicious_image.settings import is_true  # the one conf truthiness helper

from .errors import MacroError, UnsupportedSPL

MAX_EXPANSION_DEPTH = 50
_COMMENT = re.compile(r"```.*?```", re.DOTALL)


@dataclass(frozen=True)
class Macro:
    """One macros.conf stanza: its definition and the names of its arguments."""

    definition: str
    args: Tuple[str, ...] = field(default_factory=tuple)
    iseval: bool = False


MacroTable = Mapping[str, Union[Macro, str, Mapping[str, str]]]


def macros_from_conf(conf: Mapping[str, Mapping[str, str]]) -> dict[str, Macro]:
    """Turn parsed macros.conf stanzas (see devtools.conffile) into a macro table."""
    table: dict[str, Macro] = {}
    for name, stanza in conf.items():
        if name == "default" or "definition" not in stanza:
            continue
        table[name] = _to_macro(stanza)
    return table


def _to_macro(value: Union[Macro, str, Mapping[str, str]]) -> Macro:
    if isinstance(value, Macro):
        return value
    if isinstance(value, str):
        return Macro(value)
    args = tuple(a.strip() for a in value.get("args", "").split(",") if a.strip())
    iseval = is_true(value.get("iseval", "0"))
    return Macro(value.get("definition", ""), args, iseval)


def expand_macros(text: str, macros: MacroTable, *, depth: int = 0) -> str:
    """Expand every macro call in ``text``.

    Raises:
        MacroError: an unknown macro, a wrong argument count, an unbalanced backtick, or
            expansion deeper than MAX_EXPANSION_DEPTH (a macro that calls itself).
        UnsupportedSPL: an ``iseval = 1`` macro.
    """
    text = _COMMENT.sub(" ", text)
    if "`" not in text:
        return text
    if depth >= MAX_EXPANSION_DEPTH:
        raise MacroError(f"macro expansion exceeded {MAX_EXPANSION_DEPTH} levels (a macro that calls itself?)")
    out = []
    pos = 0
    while True:
        start = text.find("`", pos)
        if start < 0:
            out.append(text[pos:])
            break
        end = text.find("`", start + 1)
        if end < 0:
            raise MacroError("unbalanced backtick: a macro call is not closed", start)
        out.append(text[pos:start])
        out.append(_expand_call(text[start + 1 : end].strip(), macros, start, depth))
        pos = end + 1
    return "".join(out)


def _expand_call(call: str, macros: MacroTable, position: int, depth: int) -> str:
    name, args = _split_call(call, position)
    key = f"{name}({len(args)})" if args is not None else name
    if key not in macros:
        raise MacroError(f"macro `{key}` is not defined", position)
    macro = _to_macro(macros[key])
    if macro.iseval:
        raise UnsupportedSPL(f"macro `{key}` has iseval = 1: eval-based macros are not supported", position)
    definition = macro.definition
    if args is not None:
        if len(macro.args) != len(args):
            raise MacroError(f"macro `{key}` declares {len(macro.args)} args, called with {len(args)}", position)
        for param, value in zip(macro.args, args):
            definition = definition.replace(f"${param}$", value)
    return expand_macros(definition, macros, depth=depth + 1)


def _split_call(call: str, position: int) -> tuple[str, list[str] | None]:
    if "(" not in call:
        return call, None
    if not call.endswith(")"):
        raise MacroError(f"malformed macro call `{call}`", position)
    name, _, inner = call.partition("(")
    inner = inner[:-1]
    args: list[str] = []
    current: list[str] = []
    quote = False
    depth = 0
    i = 0
    while i < len(inner):
        char = inner[i]
        if char == "\\" and quote and i + 1 < len(inner):
            current.append(inner[i : i + 2])
            i += 2
            continue
        if char == '"':
            quote = not quote
        elif not quote and char == "(":
            depth += 1
        elif not quote and char == ")":
            depth -= 1
        elif not quote and depth == 0 and char == ",":
            args.append("".join(current).strip())
            current = []
            i += 1
            continue
        current.append(char)
        i += 1
    args.append("".join(current).strip())
    if args == [""]:
        args = []
    return name.strip(), args
