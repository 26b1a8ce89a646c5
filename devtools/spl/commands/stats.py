"""stats, eventstats, streamstats, top and rare, with Splunk's aggregation semantics.

Search Reference, "stats" and "Statistical and charting functions"
(docs.splunk.com/Documentation/Splunk/latest/SearchReference/CommonStatsFunctions):

* ``by`` fields: a row with a null by-field is left out; a multivalue by-field counts the row
  once per value. Output rows are sorted by the by-field values.
* ``count`` counts rows, ``count(f)`` the values of f; ``dc`` distinct values; ``values`` the
  distinct values in lexicographic order; ``list`` values in arrival order (first 100);
  ``min``/``max`` compare numerically when any value is numeric (non-numeric ignored),
  lexicographically otherwise; ``sum``/``avg``/``range`` use numeric values only;
  ``earliest``/``latest`` the value at the smallest/largest ``_time``; ``first``/``last`` in
  arrival order.
* Without ``by``, stats over no rows gives one row (count 0, other functions null).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Sequence, Tuple

from ..errors import SPLSyntaxError, UnsupportedSPL
from ..lexer import CommandText
from ..values import Row, format_number, parse_number, row_get, sort_key, unique, values_of

if TYPE_CHECKING:
    from ..engine import Runner
from .args import Args, boolean, integer

LIST_LIMIT = 100


def _numbers(values: List[str]) -> List[float]:
    return [n for n in (parse_number(v) for v in values) if n is not None]


def _num(value: float | None) -> str | None:
    return None if value is None else format_number(float(value))


def _extreme(pick: Callable) -> Callable:
    def impl(values: List[str], times: List[float]) -> Any:
        numbers = _numbers(values)
        if numbers:
            return format_number(float(pick(numbers)))
        return pick(values) if values else None

    return impl


def _at_time(pick: Callable) -> Callable:
    def impl(values: List[str], times: List[float]) -> Any:
        if not values:
            return None
        index = pick(range(len(values)), key=lambda i: times[i])
        return values[index]

    return impl


def _avg(values: List[str], times: List[float]) -> Any:
    numbers = _numbers(values)
    return _num(sum(numbers) / len(numbers)) if numbers else None


def _range(values: List[str], times: List[float]) -> Any:
    numbers = _numbers(values)
    return _num(max(numbers) - min(numbers)) if numbers else None


def _sum(values: List[str], times: List[float]) -> Any:
    numbers = _numbers(values)
    return _num(sum(numbers)) if numbers else None


AGGREGATORS: Dict[str, Callable[[List[str], List[float]], Any]] = {
    "count": lambda values, times: str(len(values)),
    "dc": lambda values, times: str(len(set(values))),
    "values": lambda values, times: sorted(set(values)) or None,
    "list": lambda values, times: values[:LIST_LIMIT] or None,
    "min": _extreme(min),
    "max": _extreme(max),
    "sum": _sum,
    "avg": _avg,
    "mean": _avg,
    "range": _range,
    "first": lambda values, times: values[0] if values else None,
    "last": lambda values, times: values[-1] if values else None,
    "earliest": _at_time(min),
    "latest": _at_time(max),
}
ALIASES = {"c": "count", "distinct_count": "dc"}


@dataclass
class Aggregation:
    function: str
    field: str | None
    name: str

    def compute(self, rows: List[Row]) -> Any:
        """The function over the rows' values of the field (a bare ``count`` counts rows)."""
        if self.field is None:
            return str(len(rows))
        values: List[str] = []
        times: List[float] = []
        for row in rows:
            stamp = parse_number(row.get("_time"))
            for value in values_of(row.get(self.field)):
                values.append(value)
                times.append(float(stamp) if stamp is not None else 0.0)
        return AGGREGATORS[self.function](values, times)


def parse_aggregations(args: Args, stop: Tuple[str, ...] = ("by",)) -> List[Aggregation]:
    """``count``, ``count(f)``, ``dc(f) AS n``, ... up to a stop word (``by``, ``over``)."""
    aggregations = []
    while not args.done():
        token = args.peek()
        if token.kind == ",":
            args.take()
            continue
        if token.kind == "word" and token.value.lower() in stop:
            break
        name_token = args.take()
        function = ALIASES.get(name_token.value.lower(), name_token.value.lower())
        if function not in AGGREGATORS:
            raise UnsupportedSPL(
                f"{args.cmd.name}: function {name_token.value}() is not supported", name_token.position
            )
        field = None
        label = function if name_token.value.lower() not in ALIASES else name_token.value.lower()
        if args.peek() is not None and args.peek().kind == "(":
            args.take()
            inner = args.take()
            if inner.kind == "word" and args.peek() is not None and args.peek().kind == "(":
                raise UnsupportedSPL(
                    f"{args.cmd.name}: {function}({inner.value}(...)) is not supported", inner.position
                )
            field = inner.value
            if "*" in field:
                raise UnsupportedSPL(
                    f"{args.cmd.name}: wildcard field {function}({field}) is not supported", inner.position
                )
            if args.take().kind != ")":
                raise SPLSyntaxError(f"{args.cmd.name}: expected ')'", inner.position)
            label = f"{label}({field})"
        elif function != "count":
            raise SPLSyntaxError(f"{args.cmd.name}: {function} needs a field", name_token.position)
        if args.keyword("as"):
            label = args.word("a result name")
        aggregations.append(Aggregation(function, field, label))
    if not aggregations:
        raise SPLSyntaxError(f"{args.cmd.name}: needs at least one function", args.cmd.position)
    return aggregations


def group_keys(row: Row, by: List[str]) -> List[Tuple[str, ...]]:
    """The groups a row belongs to: none if a by-field is null, several for multivalue by-fields."""
    choices = []
    for field in by:
        values = unique(values_of(row_get(row, field)))
        if not values:
            return []
        choices.append(values)
    return list(itertools.product(*choices))


def grouped(rows: List[Row], by: List[str]) -> Dict[Tuple[str, ...], List[Row]]:
    groups: Dict[Tuple[str, ...], List[Row]] = {}
    for row in rows:
        for key in group_keys(row, by):
            groups.setdefault(key, []).append(row)
    return groups


def _store(row: Row, name: str, value: Any) -> None:
    if value is None:
        row.pop(name, None)
    else:
        row[name] = value[0] if isinstance(value, list) and len(value) == 1 else value


def _parse_stats(cmd: CommandText, allowed: Sequence[str]) -> Tuple[List[Aggregation], List[str], Dict[str, str]]:
    """``[options] f(x) [AS n] ... [by a, b]`` of stats, eventstats and streamstats."""
    args = Args(cmd)
    options = args.options(allowed)
    aggregations = parse_aggregations(args)
    by = args.field_list() if args.keyword("by") else []
    if args.keyword("by"):
        raise args.error("two by clauses")
    args.rest_must_be_empty()
    return aggregations, by, options


def stats_rows(rows: List[Row], aggregations: List[Aggregation], by: List[str]) -> List[Row]:
    """The stats table for rows (shared by chart, top and the correlation replays)."""
    if not by:
        out: Row = {}
        for aggregation in aggregations:
            _store(out, aggregation.name, aggregation.compute(rows))
        return [out]
    groups = grouped(rows, by)
    result = []
    for key in sorted(groups, key=lambda k: [sort_key(v) for v in k]):
        out = dict(zip(by, key))
        for aggregation in aggregations:
            _store(out, aggregation.name, aggregation.compute(groups[key]))
        result.append(out)
    return result


def stats(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """stats f(x) [AS n] ... [by a, b]."""
    aggregations, by, _options = _parse_stats(cmd, ["allnum", "delim", "partitions"])
    return stats_rows(rows, aggregations, by)


def eventstats(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """eventstats: stats over all rows (per by-group), added to every row of the group."""
    aggregations, by, _options = _parse_stats(cmd, ["allnum"])
    if not by:
        summary = stats_rows(rows, aggregations, [])[0]
        for row in rows:
            for aggregation in aggregations:
                _store(row, aggregation.name, summary.get(aggregation.name))
        return rows
    groups = grouped(rows, by)
    results = {key: {a.name: a.compute(members) for a in aggregations} for key, members in groups.items()}
    for row in rows:
        keys = group_keys(row, by)
        if len(keys) == 1:
            for name, value in results[keys[0]].items():
                _store(row, name, value)
    return rows


def streamstats(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """streamstats [current=t] [window=N] f(x) ... [by a]: running statistics in row order."""
    aggregations, by, options = _parse_stats(cmd, ["current", "window", "allnum"])
    current = boolean(options.get("current", "t"), "current")
    window = integer(options.get("window", "0"), "window")
    seen: Dict[Tuple[str, ...], List[Row]] = {}
    for row in rows:
        keys = group_keys(row, by) if by else [()]
        if len(keys) != 1:
            continue
        history = seen.setdefault(keys[0], [])
        snapshot = dict(row)
        members = [*history, snapshot] if current else list(history)
        if window:
            members = members[-window:]
        for aggregation in aggregations:
            _store(row, aggregation.name, aggregation.compute(members))
        history.append(snapshot)
    return rows


def _top(cmd: CommandText, rows: List[Row], ascending: bool) -> List[Row]:
    args = Args(cmd)
    allowed = ["limit", "countfield", "percentfield", "showcount", "showperc", "otherstr", "useother"]
    options = args.options(allowed)
    fields = args.field_list(stop=["by"])
    options.update(args.options(allowed))
    by = args.field_list() if args.keyword("by") else []
    options.update(args.finish(allowed))
    if not fields:
        raise args.error("needs at least one field")
    if boolean(options.get("useother", "f"), "useother"):
        raise UnsupportedSPL(f"{cmd.name}: useother=true is not supported", cmd.position)
    limit = integer(options.get("limit", "10"), "limit")
    count_field = options.get("countfield", "count")
    percent_field = options.get("percentfield", "percent")
    show_count = boolean(options.get("showcount", "t"), "showcount")
    show_percent = boolean(options.get("showperc", "t"), "showperc")
    out: List[Row] = []
    partitions = grouped(rows, by) if by else {(): rows}
    for part_key in sorted(partitions, key=lambda k: [sort_key(v) for v in k]):
        members = partitions[part_key]
        counts: Dict[Tuple[str, ...], int] = {}
        for row in members:
            for key in group_keys(row, fields):
                counts[key] = counts.get(key, 0) + 1
        total = sum(counts.values())
        ranked = sorted(counts.items(), key=lambda item: item[1] if ascending else -item[1])
        for key, count in ranked[: limit or None]:
            row = dict(zip(by, part_key))
            row.update(zip(fields, key))
            if show_count:
                row[count_field] = str(count)
            if show_percent:
                row[percent_field] = f"{100.0 * count / total:.6f}"
            out.append(row)
    return out


def top(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """top [limit=10] fields [by f]: most common value combinations with count and percent."""
    return _top(cmd, rows, ascending=False)


def rare(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """rare [limit=10] fields [by f]: least common value combinations with count and percent."""
    return _top(cmd, rows, ascending=True)
