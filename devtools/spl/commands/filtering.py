"""Commands that keep or drop rows: search, where, head, tail, dedup, regex, sort."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, List

from ..errors import SPLSyntaxError, UnsupportedSPL
from ..evalexpr import parse_expression
from ..evalnodes import Env, truth_value
from ..lexer import CommandText, tokenize
from ..regex import compile_pcre
from ..searchexpr import mentions_field, parse_search
from ..timefmt import get_zone, relative_time
from ..values import Row, row_get, sort_key, values_of

if TYPE_CHECKING:
    from ..context import SearchContext
    from ..engine import Runner
from .args import Args, boolean, integer


def format_results(rows: List[Row]) -> str:
    """The ``format`` command's output for a subsearch: ``( ( a="1" AND b="2" ) OR ( ... ) )``.

    Fields starting with ``_`` are left out; a field named ``search`` or ``query`` is inserted
    as raw search text; a multivalue field becomes an OR of its values; no rows gives ``NOT ()``.
    (Search Reference, "format".)
    """
    clauses = []
    for row in rows:
        parts = []
        for field, value in row.items():
            values = values_of(value)
            if field.startswith("_") or not values:
                continue
            if field in ("search", "query"):
                parts.append(" ".join(values))
                continue
            quoted = [f'{field}="{_escape(v)}"' for v in values]
            parts.append(quoted[0] if len(quoted) == 1 else "( " + " OR ".join(quoted) + " )")
        if parts:
            clauses.append("( " + " AND ".join(parts) + " )")
    if not clauses:
        return "NOT ()"
    return "( " + " OR ".join(clauses) + " )"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def time_resolver(context: SearchContext) -> Callable[[str, int], float]:
    """``resolve(value, position)``: an ``earliest=``/``latest=`` time modifier as epoch seconds
    in the search's zone, relative to its ``now`` (SPLSyntaxError for a bad modifier)."""
    zone = get_zone(context.tz)

    def resolve_time(value: str, position: int) -> float:
        bound = relative_time(context.now, value, zone)
        if bound is None:
            raise SPLSyntaxError(f"bad time modifier {value!r}", position)
        return bound

    return resolve_time


def search(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """search <expression>: keep the rows that match (see devtools.spl.searchexpr)."""
    context = runner.context
    resolve_time = time_resolver(context)

    def resolve_subsearch(text: str, position: int) -> str:
        return format_results(runner.subsearch(text, position)[: context.limits.subsearch_maxout])

    node = parse_search(tokenize(cmd.body, cmd.body_position), resolve_subsearch, resolve_time)
    defaults = context.indexes
    if defaults is not None and runner.first_search is cmd and not mentions_field(node, "index"):
        rows = [r for r in rows if r.get("index") in defaults]
    return [row for row in rows if node.matches(row)]


def where(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """where <eval-expression>: keep rows where the expression is true (null counts as false)."""
    expr = parse_expression(cmd.body, cmd.body_position)
    return [row for row in rows if truth_value(expr.eval(Env(row, runner.context)))]


def _count(cmd: CommandText, default: int) -> int:
    args = Args(cmd)
    options = args.options(["limit"])
    if "limit" in options:
        args.rest_must_be_empty()
        return integer(options["limit"], "limit")
    if args.done():
        return default
    token = args.take()
    args.rest_must_be_empty()
    return integer(token.value, cmd.name)


def head(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """head [N | limit=N]: the first N rows (default 10)."""
    return rows[: _count(cmd, 10)]


def tail(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """tail [N]: the last N rows (default 10), in reverse order as Splunk returns them."""
    count = _count(cmd, 10)
    return list(reversed(rows[-count:])) if count else []


def dedup(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """dedup [N] fields [keepempty=bool] [consecutive=bool] [sortby ...]: keep the first N per combination."""
    args = Args(cmd)
    keep = 1
    if args.peek() is not None and args.peek().kind == "word" and args.peek().value.isdigit():
        keep = int(args.take().value)
    options = args.options(["keepempty", "consecutive", "keepevents"])
    fields = args.field_list(stop=["sortby"])
    options.update(args.options(["keepempty", "consecutive", "keepevents"]))
    if args.keyword("sortby"):
        raise UnsupportedSPL("dedup: sortby is not supported", cmd.position)
    args.rest_must_be_empty()
    if not fields:
        raise args.error("needs at least one field")
    if boolean(options.get("keepevents", "f"), "keepevents"):
        raise args.error("keepevents=true is not supported")
    keepempty = boolean(options.get("keepempty", "f"), "keepempty")
    consecutive = boolean(options.get("consecutive", "f"), "consecutive")
    seen: dict = {}
    previous = None
    out = []
    for row in rows:
        values = [row_get(row, f) for f in fields]
        if any(v is None for v in values):
            if keepempty:
                out.append(row)
            continue
        key = tuple(tuple(values_of(v)) for v in values)
        if consecutive:
            if key != previous:
                out.append(row)
            previous = key
            continue
        seen[key] = seen.get(key, 0) + 1
        if seen[key] <= keep:
            out.append(row)
    return out


def regex(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """regex [field=|field!=]"<regex>": keep rows whose field (default _raw) matches (or not)."""
    tokens = tokenize(cmd.body, cmd.body_position)
    field, negate = "_raw", False
    if len(tokens) == 3 and tokens[1].kind == "op" and tokens[1].value in ("=", "!="):
        field, negate = tokens[0].value, tokens[1].value == "!="
        pattern = tokens[2].value
    elif len(tokens) == 1:
        pattern = tokens[0].value
    else:
        raise SPLSyntaxError('regex: expected [field=]"<regex>"', cmd.position)
    compiled = compile_pcre(pattern)
    return [r for r in rows if any(compiled.search(v) for v in values_of(r.get(field))) != negate]


def sort(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """sort [N|limit=N] [+|-]field ... [d|desc]: Splunk's default limit is 10000; ``sort 0`` is unlimited.

    Numbers sort numerically before strings (lexicographic); rows missing a field sort last
    ascending. Wrappers num(), str(), ip(), auto() are not supported except auto/num/str.
    """
    args = Args(cmd)
    limit = 10000
    options = args.options(["limit"])
    if "limit" in options:
        limit = integer(options["limit"], "limit")
    elif args.peek() is not None and args.peek().kind == "word" and args.peek().value.isdigit():
        limit = int(args.take().value)
    keys = []
    pending_sign = None
    while not args.done():
        if args.at_option():
            args.finish()  # raises: sort takes no option after its fields
        token = args.take()
        if token.kind == ",":
            continue
        if token.kind not in ("word", "string"):
            raise args.error(f"unexpected {token.value!r}", token)
        value = token.value
        if value in ("+", "-"):
            pending_sign = value
            continue
        if value.lower() in ("d", "desc") and args.done() and keys:
            keys = [(f, not desc, mode) for f, desc, mode in keys]
            continue
        sign = pending_sign or "+"
        pending_sign = None
        if value[:1] in "+-" and len(value) > 1:
            sign, value = value[0], value[1:]
        mode = "auto"
        if args.peek() is not None and args.peek().kind == "(":
            mode = value.lower()
            if mode not in ("auto", "num", "str"):
                raise args.error(f"sort function {value}() is not supported", token)
            args.take()
            value = args.word("a field")
            if args.take().kind != ")":
                raise args.error("unbalanced parenthesis", token)
        keys.append((value, sign == "-", mode))
    if not keys:
        raise args.error("needs at least one field")
    ordered = list(rows)
    for field, descending, mode in reversed(keys):
        present = [r for r in ordered if row_get(r, field) is not None]
        missing = [r for r in ordered if row_get(r, field) is None]
        present.sort(key=lambda r: _key(r.get(field), mode), reverse=descending)
        ordered = present + missing
    return ordered[:limit] if limit else ordered


def _key(value: Any, mode: str) -> tuple:
    if mode == "str":
        return (1, 0, str(values_of(value)[0]))
    if mode == "num":
        key = sort_key(value)
        return key if key[0] == 0 else (2, 0, key[2])
    return sort_key(value)
