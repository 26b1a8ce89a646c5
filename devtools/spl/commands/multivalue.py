"""Multivalue commands: mvexpand, makemv, mvcombine, nomv (Search Reference pages of each)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Dict, List

from ..lexer import CommandText
from ..values import Row, values_of

if TYPE_CHECKING:
    from ..engine import Runner
from .args import Args, boolean, integer

MVEXPAND_TRUNCATED = (
    "mvexpand output will be truncated at {rows} results due to excessive memory usage. Memory "
    "threshold of {limit}MB as configured in limits.conf / [default] / max_mem_usage_mb has been reached."
)


def row_bytes(row: Row) -> int:
    """What a result row holds in memory, in bytes: its field names and values (UTF-8)."""
    size = 0
    for name, value in row.items():
        size += len(name.encode("utf-8"))
        for item in value if isinstance(value, list) else [value]:
            size += len(str(item).encode("utf-8"))
    return size


def mvexpand(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """mvexpand field [limit=N]: one row per value; rows without the field are dropped.

    Memory limit (SearchReference/Mvexpand, "Usage"; limits.conf ``[default] max_mem_usage_mb``):
    every output row is a copy of its whole input row; once the rows made hold more than the limit,
    mvexpand stops, keeps the rows so far and leaves only a job-inspector message (recorded in
    ``context.messages``). Cut the rows to the needed fields before expanding large events.
    """
    args = Args(cmd)
    options = args.options(["limit"])
    field = args.word("a field")
    options.update(args.options(["limit"]))
    args.rest_must_be_empty()
    limit = integer(options.get("limit", "0"), "limit")
    max_bytes = runner.context.limits.mvexpand_max_mem_mb * 1024 * 1024
    used = 0
    out = []
    for row in rows:
        values = values_of(row.get(field))
        if not values:
            continue
        base = row_bytes({k: v for k, v in row.items() if k != field})
        for value in values[:limit] if limit else values:
            used += base + len(field) + len(str(value).encode("utf-8"))
            if used > max_bytes:
                message = MVEXPAND_TRUNCATED.format(rows=len(out), limit=format_mb(max_bytes))
                runner.context.messages.append(message)
                return out
            copy = dict(row)
            copy[field] = value
            out.append(copy)
    return out


def format_mb(max_bytes: float) -> str:
    """The limit as limits.conf writes it (500, not 500.0)."""
    megabytes = max_bytes / (1024 * 1024)
    return str(int(megabytes)) if megabytes == int(megabytes) else f"{megabytes:g}"


def makemv(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """makemv [delim=" "] [tokenizer=regex] [allowempty=f] field: split a value into a multivalue."""
    args = Args(cmd)
    allowed = ["delim", "tokenizer", "allowempty", "setsv"]
    options = args.options(allowed)
    field = args.word("a field")
    options.update(args.options(allowed))
    args.rest_must_be_empty()
    allow_empty = boolean(options.get("allowempty", "f"), "allowempty")
    tokenizer = re.compile(options["tokenizer"]) if "tokenizer" in options else None
    delim = options.get("delim", " ")
    for row in rows:
        values = values_of(row.get(field))
        if len(values) != 1:
            continue
        if tokenizer is not None:
            parts = [m.group(1) if m.groups() else m.group(0) for m in tokenizer.finditer(values[0])]
        else:
            parts = values[0].split(delim)
        if not allow_empty:
            parts = [p for p in parts if p != ""]
        if parts:
            row[field] = parts[0] if len(parts) == 1 else parts
        else:
            row.pop(field, None)
    return rows


def mvcombine(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """mvcombine [delim=" "] field: merge rows identical except for ``field`` into one multivalue row."""
    args = Args(cmd)
    args.options(["delim"])
    field = args.word("a field")
    args.rest_must_be_empty()
    groups: Dict[tuple, Row] = {}
    order: List[tuple] = []
    for row in rows:
        key = tuple(sorted((k, tuple(values_of(v))) for k, v in row.items() if k != field))
        if key not in groups:
            groups[key] = {**row, field: []}
            order.append(key)
        groups[key][field] = values_of(groups[key][field]) + values_of(row.get(field))
    out = []
    for key in order:
        row = groups[key]
        values = row[field]
        if not values:
            row.pop(field)
        elif len(values) == 1:
            row[field] = values[0]
        out.append(row)
    return out


def nomv(cmd: CommandText, rows: List[Row], runner: Runner) -> List[Row]:
    """nomv field: join a multivalue field's values with newlines into a single value."""
    args = Args(cmd)
    field = args.word("a field")
    args.rest_must_be_empty()
    for row in rows:
        if isinstance(row.get(field), list):
            row[field] = "\n".join(values_of(row[field]))
    return rows
