"""Field values as Splunk holds them: strings, multivalue lists of strings, or absent (null).

Events and result rows are ``dict[str, str | list[str]]``. A field that is absent, or a
multivalue field with no values, is null. Eval works on richer values (numbers, booleans)
and converts back with :func:`to_field`.
"""

from __future__ import annotations

import math
import re
from typing import Any, Iterable, List, Union

FieldValue = Union[str, List[str]]
Row = dict

_NUMBER = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")
_HEX = re.compile(r"^\s*0x[0-9a-fA-F]+\s*$")


def values_of(value: Any) -> list[str]:
    """All values of a field as a list of strings ([] when null)."""
    if value is None:
        return []
    if isinstance(value, list):
        return [v for v in (to_str(x) for x in value) if v is not None]
    text = to_str(value)
    return [] if text is None else [text]


def to_field(value: Any) -> FieldValue | None:
    """Convert an eval value to what a row stores; None (null) removes the field."""
    if value is None:
        return None
    if isinstance(value, list):
        items = values_of(value)
        if not items:
            return None
        return items[0] if len(items) == 1 else items
    return to_str(value)


def to_str(value: Any) -> str | None:
    """Render one value the way Splunk prints it (integral floats without a decimal part)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_number(value)
    if isinstance(value, list):
        return to_str(value[0]) if value else None
    return str(value)


def format_number(number: float) -> str:
    """Format a float: integral values print as integers, others with up to 16 significant digits."""
    if math.isnan(number) or math.isinf(number):
        return str(number)
    if number.is_integer() and abs(number) < 1e16:
        return str(int(number))
    return f"{number:.16g}"


def parse_number(value: Any) -> Union[int, float, None]:
    """A number from a value if it looks numeric (Splunk's tonumber rules for base 10), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, list):
        return parse_number(value[0]) if len(value) == 1 else None
    if not isinstance(value, str) or not _NUMBER.match(value):
        return None
    text = value.strip()
    try:
        return int(text)
    except ValueError:
        return float(text)


def is_null(value: Any) -> bool:
    """True when a value is null (None or an empty multivalue)."""
    return value is None or (isinstance(value, list) and not value)


def first(value: Any) -> Any:
    """The first value of a multivalue, or the value itself."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def sort_key(value: Any) -> tuple:
    """Key for Splunk's default ordering: numbers (numerically) before strings (lexicographically)."""
    number = parse_number(first(value))
    if number is not None:
        return (0, number, "")
    text = to_str(first(value))
    return (1, 0, text if text is not None else "")


def row_get(row: Row, field: str) -> FieldValue | None:
    """A field of a row, None when absent or empty."""
    value = row.get(field)
    if value is None or (isinstance(value, list) and not value):
        return None
    return value


def unique(items: Iterable[str]) -> list[str]:
    """Distinct items, in first-seen order."""
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)
