"""JSON Schema of the canonical Detection, Story and Macro records, and the check that uses it.

The reader first normalises a file of any era to the canonical fields (a plain dict), then
``check(kind, doc)`` validates that dict with jsonschema's Draft7Validator (4.17.x: pure
Python, so it also runs inside Splunk). The validators are compiled once, at import. A failure
becomes one sentence a Splunk admin can act on, e.g. ``field 'id' is not a UUID``; the first
failing field in schema order is reported, so the same file always gives the same reason.

Schema keywords used are Draft 7's; the only extension is ``x-message``, the wording used when
a value fails that sub-schema (jsonschema ignores unknown keywords).
"""

from __future__ import annotations

from typing import Any, Dict, Mapping

from jsonschema import Draft7Validator

__all__ = ["DETECTION_SCHEMA", "MACRO_SCHEMA", "SCHEMAS", "STATUSES", "STORY_SCHEMA", "check"]

STATUSES = ("production", "experimental", "deprecated", "removed", "validation")
"""Detection statuses of contentctl 4 (validation) and 5 (removed) together."""

_UUID = {
    "type": "string",
    "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    "x-message": "is not a UUID",
}
_DATE = {
    "type": "string",
    "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$",
    "x-message": "is not a date (YYYY-MM-DD)",
}
_TEXT = {"type": "string"}
_NAME = {"type": "string", "minLength": 1, "x-message": "is empty"}
_VERSION = {"type": "integer", "minimum": 1, "x-message": "is not a positive whole number"}
_TEXT_LIST = {"type": "array", "items": {"type": "string", "minLength": 1}}
_TECHNIQUE_ID = {
    "type": "string",
    "pattern": "^T[0-9]{4}(\\.[0-9]{3})?$",
    "x-message": "is not an ATT&CK technique id (Tnnnn or Tnnnn.nnn)",
}
_SCORE = {"type": "integer", "minimum": 0, "maximum": 100, "x-message": "is not a score from 0 to 100"}

DETECTION_SCHEMA: Dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Detection (canonical, every era)",
    "type": "object",
    "required": [
        "id", "name", "type", "status", "version", "date", "search", "mitre_attack_id",
        "analytic_story", "risk_objects", "threat_objects", "source_path", "era",
    ],
    "properties": {
        "id": _UUID,
        "name": _NAME,
        "type": _NAME,
        "status": {"enum": list(STATUSES), "x-message": "is not one of " + ", ".join(STATUSES)},
        "version": _VERSION,
        "date": _DATE,
        "author": _TEXT,
        "description": _TEXT,
        "search": _TEXT,
        "how_to_implement": _TEXT,
        "known_false_positives": _TEXT,
        "references": _TEXT_LIST,
        "mitre_attack_id": {"type": "array", "items": _TECHNIQUE_ID},
        "analytic_story": _TEXT_LIST,
        "data_source": _TEXT_LIST,
        "security_domain": _TEXT,
        "platform": _TEXT,
        "risk_message": _TEXT,
        "risk_objects": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "type", "score"],
                "properties": {"field": _NAME, "type": _NAME, "score": _SCORE},
            },
        },
        "threat_objects": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "type"],
                "properties": {"field": _NAME, "type": _NAME},
            },
        },
        "source_path": _NAME,
        "source_commit": _TEXT,
        "era": {"enum": ["A", "B", "C1", "C2"]},
    },
    # A removed detection (contentctl 5 removed/) may keep only its metadata; any other needs SPL.
    "if": {"properties": {"status": {"const": "removed"}}},
    "else": {"properties": {"search": {"minLength": 1, "x-message": "is empty"}}},
}

STORY_SCHEMA: Dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Story (canonical)",
    "type": "object",
    "required": ["id", "name", "version", "date", "source_path"],
    "properties": {
        "id": _UUID,
        "name": _NAME,
        "version": _VERSION,
        "date": _DATE,
        "author": _TEXT,
        "description": _TEXT,
        "narrative": _TEXT,
        "references": _TEXT_LIST,
        "category": _TEXT_LIST,
        "product": _TEXT_LIST,
        "usecase": _TEXT,
        "source_path": _NAME,
        "source_commit": _TEXT,
    },
}

MACRO_SCHEMA: Dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Macro (canonical)",
    "type": "object",
    "required": ["name", "definition", "arguments", "source_path"],
    "properties": {
        "name": {
            "type": "string",
            "pattern": "^[A-Za-z0-9_.:-]+(\\([0-9]+\\))?$",
            "x-message": "is not a macro name (letters, digits, _ . : -)",
        },
        "definition": _TEXT,
        "description": _TEXT,
        "arguments": {"type": "array", "items": {"type": "string", "pattern": "^[A-Za-z0-9_]+$",
                                                 "x-message": "is not an argument name"}},
        "source_path": _NAME,
        "source_commit": _TEXT,
    },
}

SCHEMAS: Dict[str, Dict[str, Any]] = {
    "detection": DETECTION_SCHEMA,
    "story": STORY_SCHEMA,
    "macro": MACRO_SCHEMA,
}

for _schema in SCHEMAS.values():
    Draft7Validator.check_schema(_schema)
_VALIDATORS = {kind: Draft7Validator(schema) for kind, schema in SCHEMAS.items()}


def check(kind: str, doc: Mapping[str, Any]) -> str | None:
    """Validate a canonical record (as a dict) against the schema of its kind.

    Arguments:
        kind: "detection", "story" or "macro"; other kinds have no schema and always pass.
        doc: the canonical fields.

    Returns:
        None when valid, otherwise one reason such as ``field 'id' is not a UUID``.
    """
    validator = _VALIDATORS.get(kind)
    if validator is None:
        return None
    errors = list(validator.iter_errors(doc))
    if not errors:
        return None
    order = list(validator.schema.get("properties", {}))
    errors.sort(key=lambda err: _sort_key(err, order))
    return _reason(errors[0])


def _sort_key(error: Any, order: list) -> tuple:
    path = list(error.absolute_path)
    head = path[0] if path else ""
    return (order.index(head) if head in order else len(order), [str(p) for p in path])


def _reason(error: Any) -> str:
    path = list(error.absolute_path)
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "?"
        path = [*path, missing]
        return f"field '{_dotted(path)}' is missing"
    where = f"field '{_dotted(path)}'" if path else "the record"
    custom = error.schema.get("x-message") if isinstance(error.schema, dict) else None
    if custom and error.validator != "type":
        return f"{where} {custom} (found {_short(error.instance)})"
    if error.validator == "type":
        return f"{where} must be {_a(error.validator_value)}, found {_short(error.instance)}"
    if error.validator == "enum":
        return f"{where} is {_short(error.instance)}, not one of {', '.join(map(str, error.validator_value))}"
    if error.validator == "minLength":
        return f"{where} is empty"
    return f"{where}: {_short(error.message)}"


def _dotted(path: list) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _a(kind: Any) -> str:
    names = {"string": "text", "integer": "a whole number", "array": "a list", "object": "a mapping"}
    if isinstance(kind, list):
        return " or ".join(names.get(k, k) for k in kind)
    return names.get(kind, str(kind))


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
