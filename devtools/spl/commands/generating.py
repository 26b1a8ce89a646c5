"""Commands that bring rows in: makeresults, inputlookup, rest, append, appendpipe, join,
lookup, outputlookup, return, format; and the data-model commands, which are refused (tstats over
indexed fields is in tstats.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List

from ..errors import LookupError_, SPLSyntaxError, UnsupportedSPL
from ..lexer import CommandText, Token, tokenize
from ..lookups import LookupStore
from ..searchexpr import parse_search
from ..values import Row, format_number, normalize_row, row_get, values_of

if TYPE_CHECKING:
    from ..engine import Runner
from .args import Args, as_pairs, boolean, integer
from .filtering import format_results


def _first_only(cmd: CommandText, rows: List[Row] | None, append: bool = False) -> None:
    if rows is not None and not append:
        raise SPLSyntaxError(f"command '{cmd.name}' must be the first command of a search", cmd.position)


def makeresults(cmd: CommandText, rows: List[Row] | None, runner: Runner) -> List[Row]:
    """| makeresults [count=1]: rows holding only _time = now."""
    _first_only(cmd, rows)
    args = Args(cmd)
    options = args.options(["count", "annotate"])
    args.rest_must_be_empty()
    if boolean(options.get("annotate", "f"), "annotate"):
        raise UnsupportedSPL("makeresults: annotate=true is not supported", cmd.position)
    now = format_number(float(int(runner.context.now)))
    return [{"_time": now} for _ in range(integer(options.get("count", "1"), "count"))]


def _store(runner: Runner) -> LookupStore:
    store = runner.context.lookups
    if store is None:
        raise LookupError_("the search uses a lookup but the search context has no lookups")
    return store


def inputlookup(cmd: CommandText, rows: List[Row] | None, runner: Runner) -> List[Row]:
    """| inputlookup [append=f] name [where <search-expression>]."""
    args = Args(cmd)
    options = args.options(["append", "start", "max"])
    append = boolean(options.get("append", "f"), "append")
    _first_only(cmd, rows, append)
    name = args.word("a lookup name")
    table = _store(runner).read(name)
    if args.keyword("where"):
        node = parse_search(args.tokens[args.pos :])
        table = [row for row in table if node.matches(row)]
    else:
        args.rest_must_be_empty()
    start = integer(options.get("start", "0"), "start")
    limit = integer(options.get("max", "1000000000"), "max")
    table = table[start : start + limit]
    return (rows or []) + table if append else table


def outputlookup(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """| outputlookup [append=f] name: write the rows (fields starting with _ are left out)."""
    args = Args(cmd)
    options = args.options(["append", "create_empty", "override_if_empty", "createinapp", "key_field"])
    if "key_field" in options:
        raise UnsupportedSPL("outputlookup: key_field= is not supported", cmd.position)
    name = args.word("a lookup name")
    args.rest_must_be_empty()
    cleaned = [{k: v for k, v in row.items() if not k.startswith("_") or k == "_key"} for row in rows]
    if not cleaned and not boolean(options.get("override_if_empty", "t"), "override_if_empty"):
        return rows
    _store(runner).write(name, cleaned, append=boolean(options.get("append", "f"), "append"))
    return rows


def lookup(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """| lookup name field [AS event_field] ... [OUTPUT|OUTPUTNEW f [AS g] ...].

    Matching is exact and case-sensitive (CSV lookups' default), or case-insensitive when the
    definition says ``case_sensitive_match = false`` (transforms.conf.spec); every matching lookup row
    contributes (max_matches 1000), so several matches give multivalue outputs. Without an
    OUTPUT clause every other lookup column is output. OUTPUT overwrites (a row without a match
    loses those fields); OUTPUTNEW only fills fields the row does not have.
    """
    args = Args(cmd)
    options = args.options(["local", "update", "event_time_field"])
    if options:
        raise UnsupportedSPL(f"lookup: option {next(iter(options))}= is not supported", cmd.position)
    name = args.word("a lookup name")
    matches = as_pairs(args, stop=("output", "outputnew"), optional_as=True)
    mode = None
    outputs: List[tuple] = []
    if args.keyword("outputnew"):
        mode = "new"
    elif args.keyword("output"):
        mode = "overwrite"
    if mode:
        outputs = as_pairs(args, optional_as=True)
    args.rest_must_be_empty()
    if not matches:
        raise args.error("needs a field to match")
    store = _store(runner)
    setting = store.definition(name).get("case_sensitive_match", "true").strip().lower()
    sensitive = setting not in ("false", "f", "0", "no")
    index, columns = store.index(name, [f for f, _ in matches], casefold=not sensitive)

    def fold(value: str) -> str:
        return value if sensitive else value.casefold()

    if not outputs:
        match_fields = {f for f, _ in matches}
        outputs = [(c, c) for c in columns if c not in match_fields]
    for row in rows:
        found: List[Row] = []
        for combo in _combinations(row, [event for _, event in matches]):
            found.extend(index.get(tuple((fold(v),) for v in combo), []))
        found = found[:1000]
        for column, target in outputs:
            if mode == "new" and row_get(row, target) is not None:
                continue
            values = [v for entry in found for v in values_of(entry.get(column))]
            if values:
                row[target] = values[0] if len(values) == 1 else values
            elif mode != "new":
                row.pop(target, None)
    return rows


def _combinations(row: Row, fields: List[str]) -> List[tuple]:
    combos: List[tuple] = [()]
    for field in fields:
        values = values_of(row_get(row, field))
        if not values:
            return []
        combos = [(*c, v) for c in combos for v in values]
    return combos


def rest(cmd: CommandText, rows: List[Row] | None, runner: Runner) -> List[Row]:
    """| rest <endpoint> [option=value ...]: rows from the context's REST provider.

    An option given more than once (``f=title f=disabled``, as splunkd's ``f`` field filter is
    repeated) reaches the provider as a list of its values; any other option as a string.
    """
    _first_only(cmd, rows)
    tokens = tokenize(cmd.body, cmd.body_position)
    endpoint = None
    options: Dict[str, Any] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if i + 2 < len(tokens) and tokens[i + 1].value == "=":
            name, value = token.value, tokens[i + 2].value
            if name in options:
                previous = options[name]
                options[name] = (previous if isinstance(previous, list) else [previous]) + [value]
            else:
                options[name] = value
            i += 3
            continue
        if endpoint is not None:
            raise SPLSyntaxError(f"rest: unexpected {token.value!r}", token.position)
        endpoint = token.value
        i += 1
    if endpoint is None:
        raise SPLSyntaxError("rest: missing endpoint", cmd.position)
    if runner.context.rest is None:
        raise UnsupportedSPL(f"| rest {endpoint}: no REST provider was given to the search context", cmd.position)
    return [normalize_row(row) for row in runner.context.rest(endpoint, options)]


def _subsearch_token(args: Args) -> Token:
    token = args.take()
    if token.kind != "sub":
        raise args.error("expected a [subsearch]", token)
    args.rest_must_be_empty()
    return token


def append(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """append [subsearch]: the subsearch's rows after the current ones."""
    args = Args(cmd)
    options = args.options(["extendtimerange", "maxtime", "maxout", "timeout"])
    token = _subsearch_token(args)
    extra = runner.subsearch(token.value, token.position)
    limit = integer(options.get("maxout", str(runner.context.limits.join_maxout)), "maxout")
    return rows + extra[:limit]


def appendpipe(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """appendpipe [subpipeline]: run the subpipeline over the current rows and append its output."""
    args = Args(cmd)
    args.options(["run_in_preview"])
    token = _subsearch_token(args)
    copies = [dict(row) for row in rows]
    return rows + runner.run(token.value.strip(), token.position, rows=copies)


def join(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """join [type=inner|left] [max=1] [overwrite=t] fields [subsearch]: join on equal field values."""
    args = Args(cmd)
    allowed = ["type", "max", "overwrite", "usetime", "earlier", "left", "right"]
    options = args.options(allowed)
    fields = args.field_list()
    token = _subsearch_token(args)
    kind = options.get("type", "inner").lower()
    if kind == "outer":
        kind = "left"
    if kind not in ("inner", "left") or set(options) - {"type", "max", "overwrite"}:
        raise UnsupportedSPL("join: only type=inner|left with max= and overwrite= are supported", cmd.position)
    limit = integer(options.get("max", "1"), "max")
    overwrite = boolean(options.get("overwrite", "t"), "overwrite")
    right = runner.subsearch(token.value, token.position)[: runner.context.limits.join_maxout]
    if not fields:
        fields = [f for f in (right[0] if right else {}) if any(f in row for row in rows)]
    index: Dict[tuple, List[Row]] = {}
    for other in right:
        key = tuple(tuple(values_of(other.get(f))) for f in fields)
        if all(key):
            index.setdefault(key, []).append(other)
    out = []
    for row in rows:
        key = tuple(tuple(values_of(row.get(f))) for f in fields)
        partners = index.get(key, []) if all(key) else []
        partners = partners[:limit] if limit else partners
        if not partners:
            if kind == "left":
                out.append(row)
            continue
        for partner in partners:
            merged = dict(row)
            for name, value in partner.items():
                if overwrite or name not in merged:
                    merged[name] = value
            out.append(merged)
    return out


def return_(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """return [N] f | alias=f | $f: the subsearch result as one ``search`` field (docs: return)."""
    args = Args(cmd)
    count = 1
    if args.peek() is not None and args.peek().kind == "word" and args.peek().value.isdigit():
        count = int(args.take().value)
    specs = []
    while not args.done():
        token = args.take()
        if token.kind == ",":
            continue
        if args.peek() is not None and args.peek().kind == "op" and args.peek().value == "=":
            args.take()
            specs.append((token.value, args.word("a field")))
        else:
            specs.append((None if token.value.startswith("$") else token.value, token.value.lstrip("$")))
    clauses = []
    for row in rows[:count]:
        parts = []
        for alias, field in specs:
            for value in values_of(row.get(field))[:1]:
                parts.append(value if alias is None else f'{alias}="{value}"')
        if parts:
            clauses.append(" ".join(parts) if len(parts) == 1 else "(" + " ".join(parts) + ")")
    return [{"search": " OR ".join(clauses)}] if clauses else [{"search": ""}]


def format_(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """format: the rows as one ``search`` field, as a subsearch would splice them in."""
    if cmd.body.strip():
        raise UnsupportedSPL("format: options are not supported", cmd.body_position)
    return [{"search": format_results(rows)}]


def refused(cmd: CommandText, rows: List[Row] | None, runner: Runner) -> List[Row]:
    """Data-model and metrics commands need indexed summaries that a replay does not have."""
    raise UnsupportedSPL(f"command '{cmd.name}' (data models / indexed summaries) is not supported", cmd.position)
