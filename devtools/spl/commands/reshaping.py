"""Commands that pivot results: chart, timechart, xyseries (Search Reference pages of each).

chart/timechart: one row per x value (or time bucket), one column per series value of the
``by`` field. Series beyond ``limit`` (default 10, ranked by their total) fold into ``OTHER``
(``useother=t``), null series values into ``NULL`` (``usenull=t``). Cells with no data are 0
for count/dc and empty otherwise. timechart fills every bucket of the time range.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, List, Tuple

from ..errors import SPLSyntaxError, UnsupportedSPL
from ..lexer import CommandText
from ..timefmt import get_zone
from ..values import Row, format_number, parse_number, row_get, sort_key, values_of

if TYPE_CHECKING:
    from ..engine import Runner
from .args import Args, boolean, integer
from .stats import Aggregation, _store, parse_aggregations, stats_rows
from .transform import bucket_start, span_seconds

_CHART_OPTIONS = [
    "limit",
    "useother",
    "usenull",
    "otherstr",
    "nullstr",
    "span",
    "cont",
    "agg",
    "bins",
    "partial",
    "fixedrange",
    "format",
    "sep",
]
_AUTO_SPANS = [1, 5, 10, 30, 60, 300, 600, 1800, 3600, 86400, 604800]


def _series(rows: List[Row], field: str, nullstr: str) -> List[Tuple[Row, str]]:
    pairs = []
    for row in rows:
        values = values_of(row_get(row, field))
        for value in values or [nullstr]:
            pairs.append((row, value))
    return pairs


def _pivot(
    rows: List[Row],
    x_field: str,
    x_values: List[str],
    y_field: str,
    aggregation: Aggregation,
    options: Dict[str, str],
    zero_fill: bool,
) -> List[Row]:
    usenull = boolean(options.get("usenull", "t"), "usenull")
    useother = boolean(options.get("useother", "t"), "useother")
    nullstr = options.get("nullstr", "NULL")
    otherstr = options.get("otherstr", "OTHER")
    limit = integer(options.get("limit", "10"), "limit")
    cells: Dict[Tuple[str, str], List[Row]] = {}
    totals: Dict[str, float] = {}
    for row, series in _series(rows, y_field, nullstr):
        if series == nullstr and not usenull:
            continue
        for x in values_of(row_get(row, x_field)):
            cells.setdefault((x, series), []).append(row)
    series_values: Dict[str, None] = {}
    for (_x, series), members in cells.items():
        series_values.setdefault(series, None)
        totals[series] = totals.get(series, 0) + float(parse_number(aggregation.compute(members)) or 0)
    ranked = sorted(series_values, key=lambda s: (-totals[s], sort_key(s)))
    kept = ranked[:limit] if limit else ranked
    folded = [s for s in ranked if s not in kept]
    columns = sorted(kept, key=sort_key) + ([otherstr] if folded and useother else [])
    out = []
    for x in x_values:
        row: Row = {x_field: x}
        for series in columns:
            members = [
                m for s in ([series] if series != otherstr or not folded else folded) for m in cells.get((x, s), [])
            ]
            value = aggregation.compute(members) if members else ("0" if zero_fill else None)
            _store(row, series, value)
        out.append(row)
    return out


def _parse_chart(cmd: CommandText) -> Tuple[Args, Dict[str, str], List[Aggregation]]:
    args = Args(cmd)
    options = args.options(_CHART_OPTIONS)
    aggregations = parse_aggregations(args, stop=("by", "over"))
    return args, options, aggregations


def chart(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """chart f(x) [over X] [by Y] | chart f(x) by X[,] Y."""
    args, options, aggregations = _parse_chart(cmd)
    x_field = args.word("a field") if args.keyword("over") else None
    by = args.field_list() if args.keyword("by") else []
    options.update(args.options(_CHART_OPTIONS))
    args.rest_must_be_empty()
    if x_field is None and by:
        x_field, by = by[0], by[1:]
    if len(by) > 1:
        raise SPLSyntaxError("chart: at most two fields (over X by Y)", cmd.position)
    if x_field is None:
        return stats_rows(rows, aggregations, [])
    if not by:
        return stats_rows(rows, aggregations, [x_field])
    if len(aggregations) != 1:
        raise UnsupportedSPL("chart: several functions with a by field are not supported", cmd.position)
    x_values = sorted({v for r in rows for v in values_of(row_get(r, x_field))}, key=sort_key)
    zero_fill = aggregations[0].function in ("count", "dc")
    return _pivot(rows, x_field, x_values, by[0], aggregations[0], options, zero_fill)


def timechart(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """timechart [span=1h] f(x) [by Y]: one row per time bucket over the search's time range."""
    args, options, aggregations = _parse_chart(cmd)
    by = args.field_list() if args.keyword("by") else []
    options.update(args.options(_CHART_OPTIONS))
    args.rest_must_be_empty()
    if len(by) > 1:
        raise SPLSyntaxError("timechart: at most one by field", cmd.position)
    if "bins" in options:
        raise UnsupportedSPL("timechart: bins= is not supported (use span=)", cmd.position)
    context = runner.context
    zone = get_zone(context.tz)
    times = [float(t) for t in (parse_number(r.get("_time")) for r in rows) if t is not None]
    low = context.earliest if context.earliest is not None else (min(times) if times else None)
    high = context.latest if context.latest is not None else (max(times) + 1 if times else None)
    if low is None or high is None:
        return []
    span = span_seconds(options["span"]) if "span" in options else _auto_span(high - low)
    buckets = []
    start = bucket_start(low, span, zone)
    while start < high:
        buckets.append(format_number(start))
        start += span
    binned = []
    for row in rows:
        stamp = parse_number(row.get("_time"))
        if stamp is not None:
            binned.append({**row, "_time": format_number(bucket_start(float(stamp), span, zone))})
    zero_fill = all(a.function in ("count", "dc") for a in aggregations)
    if not by:
        groups: Dict[str, List[Row]] = {}
        for row in binned:
            groups.setdefault(row["_time"], []).append(row)
        out = []
        for bucket in buckets:
            row: Row = {"_time": bucket}
            for aggregation in aggregations:
                members = groups.get(bucket, [])
                value = aggregation.compute(members) if members else ("0" if zero_fill else None)
                _store(row, aggregation.name, value)
            out.append(row)
        return out
    if len(aggregations) != 1:
        raise UnsupportedSPL("timechart: several functions with a by field are not supported", cmd.position)
    return _pivot(binned, "_time", buckets, by[0], aggregations[0], options, zero_fill)


def _auto_span(width: float) -> float:
    for span in _AUTO_SPANS:
        if width / span <= 100:
            return span
    return _AUTO_SPANS[-1]


def xyseries(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """xyseries x y value: one row per x, a column per y holding value (last one wins)."""
    args = Args(cmd)
    args.options(["grouped", "sep", "format"])
    names = args.field_list()
    args.finish(["grouped", "sep", "format"])
    if len(names) != 3:
        raise SPLSyntaxError("xyseries: expects x-field y-field value-field", cmd.position)
    x_field, _y_field, _value_field = names
    table: Dict[str, Row] = {}
    for row in rows:
        x, y, value = (values_of(row_get(row, f)) for f in names)
        if not x or not y or not value:
            continue
        target = table.setdefault(x[0], {x_field: x[0]})
        target[y[0]] = value[0] if len(value) == 1 else value
    return list(table.values())
