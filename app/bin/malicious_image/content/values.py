"""Coercions from YAML values to the canonical field types, with reasons an admin can act on.

Used by reader.py only. Each function takes the raw value (or the mapping and key) and the
field's name for the message, and either returns the canonical value or raises ContentError.
A single value where a list is expected counts as a list of one; text is stripped; numbers and
dates written where text is expected become text.
"""

from __future__ import annotations

import datetime
from typing import Any, Dict, Iterable, List

__all__ = [
    "ContentError",
    "is_number",
    "kind_of",
    "mapping",
    "parse_date",
    "scalar_text",
    "text",
    "texts",
    "unique",
    "whole_number",
]


class ContentError(ValueError):
    """A file's content cannot be turned into a canonical record; the message says why."""


def mapping(doc: Dict[str, Any], key: str) -> Dict[str, Any]:
    """``doc[key]`` as a mapping ({} when absent). Raises ContentError for any other value."""
    value = doc.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ContentError(f"field '{key}' must be a mapping, found {kind_of(value)}")
    return value


def text(doc: Dict[str, Any], key: str, prefix: str = "") -> str:
    """``doc[key]`` as stripped text ("" when absent); ``prefix`` names the parent in messages."""
    return scalar_text(doc.get(key), prefix + key)


def scalar_text(value: Any, where: str) -> str:
    """A scalar as stripped text ("" for None). Raises ContentError for a list or mapping."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (int, float, datetime.date)) and not isinstance(value, bool):
        return str(value)
    raise ContentError(f"field '{where}' must be text, found {kind_of(value)}")


def texts(value: Any, where: str) -> List[str]:
    """A list of text values; a single value counts as a list of one; empty items are dropped."""
    if value is None:
        return []
    if not isinstance(value, list):
        value = [value]
    out = []
    for index, item in enumerate(value):
        text = scalar_text(item, f"{where}[{index}]")
        if text:
            out.append(text)
    return out


def unique(values: Iterable[str]) -> List[str]:
    """The values without repeats, in first-seen order."""
    return list(dict.fromkeys(values))


def whole_number(value: Any) -> Any:
    """Whole numbers (also written as "3" or 3.0) become int; anything else is left for the schema.

    Used for versions and risk scores alike.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


def parse_date(doc: Dict[str, Any], *keys: str) -> str:
    """The first of ``keys`` present, as YYYY-MM-DD (YAML may give a date, or text like 2023-4-11).

    Returns "" when none is present (the schema then reports the field as missing); raises
    ContentError, naming the key, for a value that is not a date.
    """
    for key in keys:
        value = doc.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, datetime.date):
            return value.isoformat()[:10]
        text = scalar_text(value, key)
        parts = text.split("-")
        if len(parts) == 3 and len(parts[0]) == 4 and all(p.isdigit() and len(p) <= 4 for p in parts):
            try:
                return datetime.date(int(parts[0]), int(parts[1]), int(parts[2])).isoformat()
            except ValueError:
                pass
        raise ContentError(f"field '{key}' is not a date (YYYY-MM-DD) (found {text[:40]!r})")
    return ""


def is_number(value: Any) -> bool:
    """True for an int or float that is not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def kind_of(value: Any) -> str:
    """How a message names a value's type: "a list", "a mapping", "text", "nothing", ..."""
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    return type(value).__name__

