"""JSON Schema of the canonical Detection, Story and Macro records, and the check that uses it.

The reader first normalises a file of any era to the canonical fields (a plain dict), then
``check(kind, doc)`` validates that dict against the schema of its kind. A failure becomes one
sentence a Splunk admin can act on, e.g. ``field 'id' is not a UUID``; the first failing field
in schema order is reported, so the same file always gives the same reason.

Speed: jsonschema's Draft7Validator (4.17.x, pure Python, so it also runs inside Splunk) costs
about 200 microseconds a record, a third of what libyaml takes to parse the file. So each
schema is also compiled, once, into plain Python closures (``_compile``) that implement the few
Draft 7 keywords these schemas use, with jsonschema's semantics. A record the closures accept is
valid; any other record goes to Draft7Validator, which decides and words the reason. The unit
tests check that both agree, on every real record and on generated ones. A schema using a
keyword ``_compile`` does not know is simply always checked by Draft7Validator.

Schema keywords used are Draft 7's; the only extension is ``x-message``, the wording used when
a value fails that sub-schema (jsonschema ignores unknown keywords).
"""

from __future__ import annotations

import re
from typing import Any, Callable, Dict, Mapping

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
_DATE_OR_EMPTY = dict(_DATE, pattern="^$|" + _DATE["pattern"])
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
                "properties": {"field": _NAME, "type": _NAME, "score": _SCORE, "message": _TEXT},
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
        "finding_kind": {"enum": ["finding", "intermediate", "both", "none"]},
        "creation_date": _DATE_OR_EMPTY,
        "deprecation_reason": _TEXT,
        "removed_in_version": _TEXT,
        "replacement_content": _TEXT,
        "asset_type": _TEXT,
        "product": _TEXT_LIST,
        "category": _TEXT,
        "cve": _TEXT_LIST,
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

_VALIDATORS: Dict[str, Any] = {}


def _validator(kind: str) -> Any:
    """The Draft7Validator of ``kind``, built on first use: jsonschema (a tenth of a second to
    import and check the schemas) is needed only for a record the compiled fast path does not
    accept, and not at all by a run that ends early (upstream unchanged)."""
    if not _VALIDATORS:
        from jsonschema import Draft7Validator

        for _schema in SCHEMAS.values():
            Draft7Validator.check_schema(_schema)
        _VALIDATORS.update((name, Draft7Validator(schema)) for name, schema in SCHEMAS.items())
    return _VALIDATORS[kind]


def check(kind: str, doc: Mapping[str, Any]) -> str | None:
    """Validate a canonical record (as a dict) against the schema of its kind.

    Arguments:
        kind: "detection", "story" or "macro"; other kinds have no schema and always pass.
        doc: the canonical fields.

    Returns:
        None when valid, otherwise one reason such as ``field 'id' is not a UUID``.
    """
    if kind not in SCHEMAS:
        return None
    fast = _FAST.get(kind)
    if fast is not None and fast(doc):
        return None
    validator = _validator(kind)
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
    if error.instance == "" and error.validator in ("minLength", "pattern"):
        return f"{where} is missing or empty"
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


# ------------------------------------------------------------------ compiled fast path

Check = Callable[[Any], bool]
_ANNOTATIONS = frozenset(("$schema", "title", "description", "x-message"))
_TYPES: Dict[str, Check] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


class _Unsupported(Exception):
    """The schema uses a keyword the fast path does not implement."""


def _compile(sub: Mapping[str, Any]) -> Check:
    """Compile a sub-schema into one closure; raise _Unsupported for other keywords."""
    checks = [_keyword(sub, key) for key in sub if key not in _ANNOTATIONS and key not in ("then", "else")]
    checks = tuple(c for c in checks if c is not None)
    if len(checks) == 1:
        return checks[0]

    def run(value: Any) -> bool:
        for check in checks:
            if not check(value):
                return False
        return True

    return run


def _keyword(sub: Mapping[str, Any], key: str) -> Check | None:
    arg = sub[key]
    if key == "type":
        names = arg if isinstance(arg, list) else [arg]
        tests = [_TYPES[name] for name in names]
        return tests[0] if len(tests) == 1 else lambda v: any(t(v) for t in tests)
    if key == "required":
        return lambda v: not isinstance(v, dict) or all(k in v for k in arg)
    if key == "properties":
        props = tuple((name, _compile(schema)) for name, schema in arg.items())

        def properties(v: Any) -> bool:
            if not isinstance(v, dict):
                return True
            for name, check in props:
                if name in v and not check(v[name]):
                    return False
            return True

        return properties
    if key == "items" and isinstance(arg, dict):
        item = _compile(arg)

        def items(v: Any) -> bool:
            if not isinstance(v, list):
                return True
            for x in v:
                if not item(x):
                    return False
            return True

        return items
    if key == "pattern":
        search = re.compile(arg).search
        return lambda v: not isinstance(v, str) or search(v) is not None
    if key == "minLength":
        return lambda v: not isinstance(v, str) or len(v) >= arg
    if key in ("enum", "const") and all(isinstance(x, str) for x in (arg if key == "enum" else [arg])):
        allowed = frozenset(arg if key == "enum" else [arg])
        return lambda v: isinstance(v, str) and v in allowed
    if key in ("minimum", "maximum"):
        number = _TYPES["number"]
        if key == "minimum":
            return lambda v: not number(v) or not v < arg
        return lambda v: not number(v) or not v > arg
    if key == "if":
        cond = _compile(arg)
        then = _compile(sub.get("then", {}))
        other = _compile(sub.get("else", {}))
        return lambda v: then(v) if cond(v) else other(v)
    raise _Unsupported(key)


def _fast_checks() -> Dict[str, Check]:
    out = {}
    for kind, schema in SCHEMAS.items():
        try:
            out[kind] = _compile(schema)
        except _Unsupported:
            continue
    return out


_FAST = _fast_checks()
