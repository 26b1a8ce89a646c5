"""Eval functions, by Splunk's "Evaluation functions" reference
(docs.splunk.com/Documentation/Splunk/latest/SearchReference/CommonEvalFunctions).

Each entry of :data:`FUNCTIONS` is a :class:`FunctionSpec`; an implementation receives the
unevaluated argument expressions and the :class:`Env`, so conditionals (``if``, ``case``,
``coalesce``, ``mvfilter``) evaluate lazily. Unless a function says otherwise, a null
argument gives a null result.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from dataclasses import dataclass
from typing import Any, Callable, List
from urllib.parse import unquote_plus

from .errors import SPLRuntimeError, UnsupportedSPL
from .evalnodes import Env, Expr, FieldRef, compare, like, multivalue, str_value, truth_value
from .regex import compile_pcre
from .timefmt import get_zone, relative_time, strftime, strptime
from .values import first, format_number, parse_number


@dataclass(frozen=True)
class FunctionSpec:
    min_args: int
    max_args: int
    impl: Callable[[List[Expr], Env], Any]

    def arity_text(self) -> str:
        if self.min_args == self.max_args:
            return str(self.min_args)
        return f"{self.min_args}-{self.max_args if self.max_args < 99 else 'n'}"


FUNCTIONS: dict = {}
MANY = 99


def register(name: str, min_args: int, max_args: int, *, lazy: bool = False, nulls: bool = False) -> Callable:
    """Register a function. Strict functions get evaluated args; a null arg gives null unless ``nulls``."""

    def decorate(func: Callable) -> Callable:
        if lazy:
            impl = func
        else:

            def impl(args: List[Expr], env: Env) -> Any:
                values = [arg.eval(env) for arg in args]
                if not nulls and any(v is None for v in values):
                    return None
                return func(env, *values)

        FUNCTIONS[name] = FunctionSpec(min_args, max_args, impl)
        return func

    return decorate


def _zone(env: Env) -> Any:
    return get_zone(getattr(env.context, "tz", None))


def _number(value: Any) -> float | None:
    return parse_number(first(value))


# --- conditionals and nulls -------------------------------------------------------------


@register("if", 3, 3, lazy=True)
def _if(args: List[Expr], env: Env) -> Any:
    return args[1].eval(env) if truth_value(args[0].eval(env)) else args[2].eval(env)


@register("case", 2, MANY, lazy=True)
def _case(args: List[Expr], env: Env) -> Any:
    if len(args) % 2:
        raise SPLRuntimeError("case() takes pairs of condition, value")
    for index in range(0, len(args), 2):
        if truth_value(args[index].eval(env)):
            return args[index + 1].eval(env)
    return None


@register("coalesce", 1, MANY, lazy=True)
def _coalesce(args: List[Expr], env: Env) -> Any:
    for arg in args:
        value = arg.eval(env)
        if value is not None:
            return value
    return None


@register("validate", 2, MANY, lazy=True)
def _validate(args: List[Expr], env: Env) -> Any:
    for index in range(0, len(args) - 1, 2):
        if not truth_value(args[index].eval(env)):
            return args[index + 1].eval(env)
    return None


register("isnull", 1, 1, nulls=True)(lambda env, v: v is None)
register("isnotnull", 1, 1, nulls=True)(lambda env, v: v is not None)
register("null", 0, 0)(lambda env: None)
register("true", 0, 0)(lambda env: True)
register("false", 0, 0)(lambda env: False)
register("nullif", 2, 2, nulls=True)(lambda env, a, b: None if compare("==", a, b) else a)
register("isnum", 1, 1, nulls=True)(lambda env, v: v is not None and parse_number(first(v)) is not None)
register("isint", 1, 1, nulls=True)(lambda env, v: isinstance(parse_number(first(v)), int))
register("isstr", 1, 1, nulls=True)(
    lambda env, v: v is not None and isinstance(first(v), str) and parse_number(first(v)) is None
)
register("isbool", 1, 1, nulls=True)(lambda env, v: isinstance(v, bool))
register("typeof", 1, 1, nulls=True)(
    lambda env, v: (
        "Invalid"
        if v is None
        else "Boolean"
        if isinstance(v, bool)
        else "Number"
        if parse_number(first(v)) is not None
        else "String"
    )
)


# --- strings ----------------------------------------------------------------------------

register("len", 1, 1)(lambda env, v: len(str_value(v)))
register("lower", 1, 1)(lambda env, v: str_value(v).lower())
register("upper", 1, 1)(lambda env, v: str_value(v).upper())


@register("trim", 1, 2)
def _trim(env: Env, value: Any, chars: Any = None) -> str:
    return str_value(value).strip(None if chars is None else str_value(chars))


@register("ltrim", 1, 2)
def _ltrim(env: Env, value: Any, chars: Any = None) -> str:
    return str_value(value).lstrip(None if chars is None else str_value(chars))


@register("rtrim", 1, 2)
def _rtrim(env: Env, value: Any, chars: Any = None) -> str:
    return str_value(value).rstrip(None if chars is None else str_value(chars))


@register("substr", 2, 3)
def _substr(env: Env, value: Any, start: Any, length: Any = None) -> str | None:
    """1-based start; a negative start counts from the end (Splunk)."""
    text = str_value(value)
    begin = int(_number(start) or 0)
    index = begin - 1 if begin > 0 else (len(text) + begin if begin < 0 else 0)
    index = max(index, 0)
    if length is None:
        return text[index:]
    return text[index : index + max(int(_number(length) or 0), 0)]


@register("replace", 3, 3)
def _replace(env: Env, value: Any, regex: Any, replacement: Any) -> str:
    """Regex replace; ``\\1`` back-references as in Splunk (PCRE)."""
    pattern = compile_pcre(str_value(regex))
    return pattern.sub(str_value(replacement), str_value(value))


@register("split", 2, 2)
def _split(env: Env, value: Any, delimiter: Any) -> Any:
    text, delim = str_value(value), str_value(delimiter)
    parts = list(text) if delim == "" else text.split(delim)
    return parts


register("urldecode", 1, 1)(lambda env, v: unquote_plus(str_value(v)))


@register("printf", 1, MANY)
def _printf(env: Env, fmt: Any, *values: Any) -> str:
    """C-style %s %d %i %f %x %% formatting (Splunk's printf subset)."""
    converted = []
    for spec, value in zip(re.findall(r"%[-+ 0#]*\d*(?:\.\d+)?([sdifxXeEgGc%])", str_value(fmt)), values):
        converted.append(str_value(value) if spec == "s" else (parse_number(first(value)) or 0))
    try:
        return str_value(fmt) % tuple(int(c) if isinstance(c, float) and c.is_integer() else c for c in converted)
    except (TypeError, ValueError) as exc:
        raise SPLRuntimeError(f"printf: {exc}") from exc


# --- comparison and matching -------------------------------------------------------------

register("like", 2, 2)(lambda env, v, p: any(like(str(x), str_value(p)) for x in multivalue(v)))


@register("match", 2, 2)
def _match(env: Env, value: Any, regex: Any) -> bool:
    pattern = compile_pcre(str_value(regex))
    return any(pattern.search(str(x)) for x in multivalue(value))


@register("in", 2, MANY, lazy=True)
def _in(args: List[Expr], env: Env) -> bool | None:
    value = args[0].eval(env)
    if value is None:
        return None
    return any(compare("==", value, option.eval(env)) for option in args[1:])


@register("cidrmatch", 2, 2)
def _cidrmatch(env: Env, cidr: Any, address: Any) -> bool:
    try:
        network = ipaddress.ip_network(str_value(cidr), strict=False)
    except ValueError as exc:
        raise SPLRuntimeError(f"cidrmatch: bad CIDR {str_value(cidr)!r}") from exc
    for item in multivalue(address):
        try:
            if ipaddress.ip_address(str(item)) in network:
                return True
        except ValueError:
            continue
    return False


@register("searchmatch", 1, 1)
def _searchmatch(env: Env, text: Any) -> bool:
    from .lexer import tokenize
    from .searchexpr import parse_search

    return parse_search(tokenize(str_value(text))).matches(env.row)


# --- numbers ----------------------------------------------------------------------------


def _numeric(func: Callable) -> Callable:
    def wrapper(env: Env, *values: Any) -> Any:
        numbers = [parse_number(first(v)) for v in values]
        if any(n is None for n in numbers):
            return None
        return func(*numbers)

    return wrapper


register("abs", 1, 1)(_numeric(abs))
register("ceil", 1, 1)(_numeric(lambda x: math.ceil(x)))
register("ceiling", 1, 1)(_numeric(lambda x: math.ceil(x)))
register("floor", 1, 1)(_numeric(lambda x: math.floor(x)))
register("pow", 2, 2)(_numeric(lambda x, y: x**y))
register("sqrt", 1, 1)(_numeric(lambda x: math.sqrt(x) if x >= 0 else None))
register("exp", 1, 1)(_numeric(math.exp))
register("ln", 1, 1)(_numeric(lambda x: math.log(x) if x > 0 else None))
register("log", 1, 2)(_numeric(lambda x, b=10: math.log(x, b) if x > 0 else None))
register("pi", 0, 0)(lambda env: math.pi)


@register("round", 1, 2)
def _round(env: Env, value: Any, digits: Any = 0) -> Any:
    number = parse_number(first(value))
    places = parse_number(first(digits))
    if number is None or places is None:
        return None
    scaled = math.floor(abs(number) * 10 ** int(places) + 0.5) / 10 ** int(places)  # half away from zero
    result = math.copysign(scaled, number)
    return int(result) if int(places) <= 0 else result


def _extreme(pick: Callable) -> Callable:
    """min()/max() of eval: numbers compare numerically, strings lexicographically, and
    strings are greater than numbers (Search Reference, "Statistical eval functions")."""

    def key(item: Any) -> tuple:
        number = parse_number(item)
        return (0, number, "") if number is not None else (1, 0, str_value(item))

    def impl(env: Env, *values: Any) -> Any:
        items = [x for v in values for x in multivalue(v)]
        if not items:
            return None
        best = pick(items, key=key)
        number = parse_number(best)
        return number if number is not None else str_value(best)

    return impl


register("min", 1, MANY, nulls=True)(_extreme(min))
register("max", 1, MANY, nulls=True)(_extreme(max))


@register("tonumber", 1, 2)
def _tonumber(env: Env, value: Any, base: Any = 10) -> Any:
    text = str_value(value).strip()
    radix = int(parse_number(first(base)) or 10)
    if radix == 10:
        return parse_number(text)
    try:
        return int(text, radix)
    except ValueError:
        return None


@register("tostring", 1, 2)
def _tostring(env: Env, value: Any, mode: Any = None) -> Any:
    """tostring(X), tostring(X, "hex"|"commas"|"duration") as Splunk documents them."""
    if mode is None:
        return str_value(value)
    number = parse_number(first(value))
    kind = str_value(mode)
    if number is None:
        return str_value(value)
    if kind == "hex":
        return hex(int(number))
    if kind == "commas":
        if isinstance(number, float) and not number.is_integer():
            return f"{number:,.2f}"
        return f"{int(number):,}"
    if kind == "duration":
        seconds = int(number)
        days, rest = divmod(abs(seconds), 86400)
        hours, rest = divmod(rest, 3600)
        minutes, secs = divmod(rest, 60)
        text = f"{hours:02d}:{minutes:02d}:{secs:02d}"
        text = f"{days}+{text}" if days else text
        return ("-" if seconds < 0 else "") + text
    raise UnsupportedSPL(f'tostring() format "{kind}" is not supported')


# --- multivalue -------------------------------------------------------------------------

register("mvcount", 1, 1)(lambda env, v: len(multivalue(v)))
register("mvjoin", 2, 2)(lambda env, v, d: str_value(d).join(str(x) for x in multivalue(v)))
register("mvdedup", 1, 1)(lambda env, v: list(dict.fromkeys(multivalue(v))))
register("mvsort", 1, 1)(lambda env, v: sorted(str(x) for x in multivalue(v)))


@register("mvappend", 1, MANY, nulls=True)
def _mvappend(env: Env, *values: Any) -> Any:
    items = [x for v in values for x in multivalue(v)]
    return items or None


@register("mvindex", 2, 3)
def _mvindex(env: Env, value: Any, start: Any, end: Any = None) -> Any:
    items = multivalue(value)
    begin = parse_number(first(start))
    if begin is None:
        return None
    begin = int(begin) + (len(items) if begin < 0 else 0)
    if end is None:
        return items[begin] if 0 <= begin < len(items) else None
    stop = parse_number(first(end))
    if stop is None:
        return None
    stop = int(stop) + (len(items) if stop < 0 else 0)
    chosen = items[max(begin, 0) : stop + 1]
    return chosen or None


@register("mvfind", 2, 2)
def _mvfind(env: Env, value: Any, regex: Any) -> Any:
    pattern = compile_pcre(str_value(regex))
    for index, item in enumerate(multivalue(value)):
        if pattern.search(str(item)):
            return index
    return None


@register("mvzip", 2, 3)
def _mvzip(env: Env, left: Any, right: Any, delim: Any = ",") -> Any:
    return [f"{a}{str_value(delim)}{b}" for a, b in zip(multivalue(left), multivalue(right))] or None


@register("mvfilter", 1, 1, lazy=True)
def _mvfilter(args: List[Expr], env: Env) -> Any:
    """Keep the values of the one field the predicate names for which the predicate is true."""
    names = args[0].fields()
    if len(names) != 1:
        raise SPLRuntimeError("mvfilter() must reference exactly one field")
    (name,) = names
    kept = []
    for item in multivalue(FieldRef(name).eval(env)):
        if truth_value(args[0].eval(Env({**env.row, name: item}, env.context))):
            kept.append(item)
    return kept or None


@register("mvrange", 2, 3)
def _mvrange(env: Env, start: Any, end: Any, step: Any = 1) -> Any:
    a, b, s = (parse_number(first(x)) for x in (start, end, step))
    if None in (a, b, s) or s == 0:
        return None
    out = []
    value = a
    while (value < b) if s > 0 else (value > b):
        out.append(format_number(value) if isinstance(value, float) else str(value))
        value += s
    return out or None


# --- time -------------------------------------------------------------------------------

register("now", 0, 0)(lambda env: env.context.now)
register("time", 0, 0)(lambda env: env.context.now)


@register("strftime", 2, 2)
def _strftime(env: Env, value: Any, fmt: Any) -> Any:
    number = parse_number(first(value))
    return None if number is None else strftime(float(number), str_value(fmt), _zone(env))


@register("strptime", 2, 2)
def _strptime(env: Env, value: Any, fmt: Any) -> Any:
    return strptime(str_value(value), str_value(fmt), _zone(env))


@register("relative_time", 2, 2)
def _relative_time(env: Env, value: Any, spec: Any) -> Any:
    number = parse_number(first(value))
    return None if number is None else relative_time(float(number), str_value(spec), _zone(env))


# --- JSON -------------------------------------------------------------------------------


@register("json_extract", 1, MANY)
def _json_extract(env: Env, value: Any, *paths: Any) -> Any:
    """json_extract(json, path...): one path gives its value (JSON text for containers)."""
    from .jsonpath import extract, render

    try:
        document = json.loads(str_value(value))
    except ValueError:
        return None
    if not paths:
        return render(document)
    found = []
    for path in paths:
        nodes, fanned = extract(document, str_value(path))
        if nodes:
            found.append(render(nodes if fanned else nodes[0]))
    if not found:
        return None
    return found[0] if len(found) == 1 else found
