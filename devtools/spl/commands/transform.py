"""Commands that change fields row by row: eval, table, fields, rename, fillnull, rex, spath,
convert, bin/bucket, addinfo."""

from __future__ import annotations

import fnmatch
import re
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Dict, List

from ..errors import SPLRuntimeError, SPLSyntaxError, UnsupportedSPL
from ..evalexpr import parse_assignments
from ..evalnodes import Env
from ..jsonpath import flatten_text, spath_values
from ..lexer import CommandText, Token
from ..regex import compile_pcre
from ..timefmt import get_zone, strftime, strptime
from ..values import Row, format_number, parse_number, row_get, to_field, values_of

if TYPE_CHECKING:
    from ..engine import Runner
from .args import Args, as_pairs, integer

SPATH_EXTRACTION_CUTOFF = 5000  # limits.conf [spath] extraction_cutoff default


def eval_(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """eval a=expr, b=expr: assignments run left to right; a null result removes the field."""
    pairs = parse_assignments(cmd.body, cmd.body_position)
    for row in rows:
        for name, expr in pairs:
            value = expr.eval(Env(row, runner.context))
            if isinstance(value, bool):
                raise SPLRuntimeError(f"eval: fields cannot be assigned a boolean result ({name})", expr.position)
            stored = to_field(value)
            if stored is None:
                row.pop(name, None)
            else:
                row[name] = stored
    return rows


def _matching(pattern: str, names: List[str]) -> List[str]:
    if "*" not in pattern:
        return [pattern] if pattern in names else []
    regex = re.compile(fnmatch.translate(pattern))
    return [n for n in names if regex.match(n)]


def _all_fields(rows: List[Row]) -> List[str]:
    names: Dict[str, None] = {}
    for row in rows:
        for key in row:
            names.setdefault(key, None)
    return list(names)


def table(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """table f1 f2 f*: keep only these fields, in this order (wildcards allowed)."""
    args = Args(cmd)
    patterns = args.field_list()
    args.finish()
    names = _all_fields(rows)
    order: List[str] = []
    for pattern in patterns:
        for name in _matching(pattern, names) if "*" in pattern else [pattern]:
            if name not in order:
                order.append(name)
    return [{name: row[name] for name in order if row_get(row, name) is not None} for row in rows]


def fields(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """fields [+|-] f1, f2*: keep (default) or remove fields.

    Keeping never removes internal fields (names starting with ``_``) unless they are listed
    with ``-`` (Search Reference, "fields").
    """
    args = Args(cmd)
    remove = False
    token = args.peek()
    if token is not None and token.kind == "word" and token.value in ("+", "-"):
        remove = args.take().value == "-"
    elif token is not None and token.kind == "word" and token.value[:1] in "+-" and len(token.value) > 1:
        remove = token.value[0] == "-"
        args.tokens[args.pos] = Token("word", token.value[1:], token.position + 1)
    patterns = args.field_list()
    args.finish()
    if not patterns:
        raise args.error("needs at least one field")
    out = []
    for row in rows:
        names = list(row)
        chosen = [n for p in patterns for n in _matching(p, names)]
        if remove:
            out.append({k: v for k, v in row.items() if k not in chosen})
            continue
        ordered = list(dict.fromkeys(chosen + [n for n in names if n.startswith("_")]))
        out.append({n: row[n] for n in ordered})
    return out


def rename(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """rename a AS b, x* AS y*: wildcard renames map the ``*`` part; the target overwrites."""
    args = Args(cmd)
    pairs = as_pairs(args)
    args.finish()
    for source, target in pairs:
        if source.count("*") != target.count("*") or source.count("*") > 1:
            if "*" in source or "*" in target:
                raise UnsupportedSPL(f"rename {source} AS {target}: wildcards must match one-to-one", cmd.position)
    for row in rows:
        for source, target in pairs:
            if "*" not in source:
                if source in row:
                    row[target] = row.pop(source)
                continue
            prefix, suffix = source.split("*")
            moves = []
            for name in list(row):
                if name.startswith(prefix) and name.endswith(suffix) and len(name) >= len(prefix) + len(suffix):
                    middle = name[len(prefix) : len(name) - len(suffix)]
                    moves.append((name, target.replace("*", middle)))
            values = {name: row.pop(name) for name, _ in moves}
            for name, new in moves:
                row[new] = values[name]
    return rows


def fillnull(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """fillnull [value=0] [fields]: without fields, fills every field present in any result row."""
    args = Args(cmd)
    options = args.options(["value"])
    fields = args.field_list()
    options.update(args.finish(["value"]))
    value = options.get("value", "0")
    names = fields or [n for n in _all_fields(rows) if not n.startswith("_")]
    for row in rows:
        for name in names:
            if row_get(row, name) is None:
                row[name] = value
    return rows


def rex(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """rex [field=_raw] [max_match=1] "<regex with (?<name>...)>": extract named groups.

    With max_match > 1 (0 = unlimited), each group collects every match as a multivalue.
    A row where the regex does not match keeps its fields unchanged.
    """
    args = Args(cmd)
    options = args.options(["field", "max_match", "mode", "offset_field"])
    if args.done():
        raise args.error("missing regular expression")
    pattern_token = args.take()
    options.update(args.options(["field", "max_match", "mode", "offset_field"]))
    args.rest_must_be_empty()
    if options.get("mode") == "sed" or "offset_field" in options:
        raise UnsupportedSPL("rex: mode=sed and offset_field are not supported", cmd.position)
    field = options.get("field", "_raw")
    max_match = integer(options.get("max_match", "1"), "max_match")
    regex = compile_pcre(pattern_token.value)
    names = list(regex.groupindex)
    for row in rows:
        collected: Dict[str, List[str]] = {n: [] for n in names}
        matched = 0
        for text in values_of(row.get(field)):
            for match in regex.finditer(text):
                for name in names:
                    if match.group(name) is not None:
                        collected[name].append(match.group(name))
                matched += 1
                if max_match and matched >= max_match:
                    break
            if max_match and matched >= max_match:
                break
        for name, found in collected.items():
            if found:
                row[name] = found[0] if len(found) == 1 else found
    return rows


def spath(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """spath [input=_raw] [output=f] [path=p | p]: extract JSON values (see devtools.spl.jsonpath).

    Without a path every leaf is extracted (only the first 5000 characters: limits.conf
    [spath] extraction_cutoff). A path that matches nothing leaves the output field unset.
    """
    args = Args(cmd)
    allowed = ["input", "output", "path"]
    options = args.options(allowed)
    if not args.done() and not args.at_option():
        options.setdefault("path", args.word("a path"))
    options.update(args.options(allowed))
    args.rest_must_be_empty()
    source = options.get("input", "_raw")
    path: str | None = options.get("path")
    output = options.get("output", path)
    for row in rows:
        texts = values_of(row.get(source))
        if not texts:
            continue
        if path is None:
            for name, found in flatten_text(texts[0], SPATH_EXTRACTION_CUTOFF).items():
                row[name] = found[0] if len(found) == 1 else found
            continue
        found = [v for text in texts for v in spath_values(text, path)]
        if found:
            row[output] = found[0] if len(found) == 1 else found
    return rows


def convert(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """convert [timeformat="%m/%d/%Y %H:%M:%S"] ctime(f) [AS g] | mktime(f) | num(f) ...

    ctime formats epoch seconds in the search's time zone; mktime parses them back.
    """
    args = Args(cmd)
    options = args.options(["timeformat"])
    fmt = options.get("timeformat", "%m/%d/%Y %H:%M:%S")
    zone = get_zone(runner.context.tz)
    conversions = []
    while not args.done():
        if args.peek().kind == ",":
            args.take()
            continue
        function = args.word("a conversion function").lower()
        if function not in ("ctime", "mktime", "num", "none", "dur2sec"):
            raise UnsupportedSPL(f"convert: function {function}() is not supported", cmd.position)
        if args.take().kind != "(":
            raise args.error(f"expected '(' after {function}")
        field = args.word("a field")
        if args.take().kind != ")":
            raise args.error("expected ')'")
        target = field
        if args.keyword("as"):
            target = args.word("a field")
        conversions.append((function, field, target))
    for row in rows:
        for function, field, target in conversions:
            result = [_convert_one(function, v, fmt, zone) for v in values_of(row.get(field))]
            result = [r for r in result if r is not None]
            if result:
                row[target] = result[0] if len(result) == 1 else result
    return rows


def _convert_one(function: str, value: str, fmt: str, zone: tzinfo) -> str | None:
    if function == "ctime":
        number = parse_number(value)
        return value if number is None else strftime(float(number), fmt, zone)
    if function == "mktime":
        parsed = strptime(value, fmt, zone)
        return value if parsed is None else format_number(parsed)
    if function == "num":
        number = parse_number(value)
        return None if number is None else format_number(float(number))
    if function == "dur2sec":
        parts = value.split(":")
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            return str(int(parts[0]) * 3600 + int(parts[1]) * 60 + int(parts[2]))
        return value
    return value


_SPAN = re.compile(r"^(\d+)?(s|sec|secs|m|min|mins|h|hr|hrs|d|day|days|w|week|weeks|mon|month|months)?$", re.IGNORECASE)
_SPAN_SECONDS = {
    "s": 1,
    "sec": 1,
    "secs": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "week": 604800,
    "weeks": 604800,
}


def span_seconds(span: str) -> float:
    """A span such as ``1h``, ``30m``, ``1d`` in seconds (month spans are not supported)."""
    match = _SPAN.match(span.strip())
    if not match or (match.group(2) or "").lower() in ("mon", "month", "months"):
        raise UnsupportedSPL(f"span={span} is not supported")
    return int(match.group(1) or 1) * _SPAN_SECONDS[(match.group(2) or "s").lower()]


def bucket_start(epoch: float, seconds: float, zone: tzinfo) -> float:
    """Start of the bucket holding ``epoch``: day and week spans align to local midnight."""
    if seconds >= 86400:
        offset = datetime.fromtimestamp(epoch, zone).utcoffset()
        shift = offset.total_seconds() if offset else 0
        return (epoch + shift) // seconds * seconds - shift
    return epoch // seconds * seconds


def bin_(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """bin [span=1h] field [AS new]: round _time (or a number) down to its span."""
    args = Args(cmd)
    options = args.options(["span"])
    field = args.word("a field")
    target = args.word("a field") if args.keyword("as") else field
    options.update(args.options(["span"]))
    args.rest_must_be_empty()
    if "span" not in options:
        raise UnsupportedSPL("bin without span= (automatic bins) is not supported", cmd.position)
    zone = get_zone(runner.context.tz)
    for row in rows:
        number = parse_number(row.get(field))
        if number is None:
            continue
        if field == "_time":
            row[target] = format_number(bucket_start(float(number), span_seconds(options["span"]), zone))
        else:
            step = parse_number(options["span"])
            if step is None or step <= 0:
                raise SPLSyntaxError(f"bin: span={options['span']} is not a number", cmd.position)
            low = number // step * step
            row[target] = f"{format_number(low)}-{format_number(low + step)}"
    return rows


def addinfo(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """addinfo: info_min_time / info_max_time from the search's time range, info_search_time = now."""
    Args(cmd).finish()
    context = runner.context
    for row in rows:
        row["info_min_time"] = format_number(context.earliest) if context.earliest is not None else "0.000"
        row["info_max_time"] = format_number(context.latest) if context.latest is not None else "+Infinity"
        row["info_search_time"] = format_number(context.now)
    return rows


def foreach(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """foreach f1 f2* [subpipeline]: run the subpipeline once per matching field.

    In the subpipeline ``<<FIELD>>`` is the field name and ``<<MATCHSTR>>`` the part a ``*``
    matched (Search Reference, "foreach"). Fields are matched against every field of the rows.
    """
    args = Args(cmd)
    options = args.options(["mode", "fieldstr", "matchstr", "matchseg1"])
    if options:
        raise UnsupportedSPL(f"foreach: option {next(iter(options))}= is not supported", cmd.position)
    patterns = args.field_list()
    template = args.take()
    if template.kind != "sub":
        raise args.error("expected a [subpipeline]", template)
    args.rest_must_be_empty()
    names = _all_fields(rows)
    for pattern in patterns:
        regex = re.compile("^" + "(.*)".join(re.escape(p) for p in pattern.split("*")) + "$")
        for name in names if "*" in pattern else [pattern]:
            match = regex.match(name)
            if not match:
                continue
            matched = match.group(1) if match.groups() else ""
            text = template.value.replace("<<FIELD>>", name).replace("<<MATCHSTR>>", matched)
            rows = runner.run(text.strip(), template.position, rows=rows)
    return rows
