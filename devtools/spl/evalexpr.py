"""Eval expressions (``eval``, ``where``, ``fieldformat``-style), with Splunk's semantics.

Search Reference, "eval" command and "Evaluation functions"
(docs.splunk.com/Documentation/Splunk/latest/SearchReference/Eval):

* Operator precedence, highest first: unary ``-``; ``* / %``; ``+ - .``; comparisons
  (``= == != < <= > >= LIKE``); ``NOT``; ``AND``; ``OR XOR``.
* Field names are bare identifiers (letters, digits, ``_``) or single-quoted (``'a.b{}'``);
  an unquoted ``a.b`` is the concatenation of fields a and b, as in Splunk. Strings are
  double-quoted. Function names and AND/OR/NOT/XOR/LIKE are case-insensitive.
* String comparison is case-sensitive. Two values compare numerically when both are numbers
  or numeric strings (field values are strings), otherwise as strings.
* Null propagates: arithmetic, ``.`` and comparisons with a null operand give null; in a
  boolean context (``where``, ``if``, ``case``) null counts as false. AND/OR/NOT use three-valued
  logic (false AND null = false, true OR null = true).
* A comparison with a multivalue field is true if it holds for any value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, List, Sequence

from .errors import SPLRuntimeError, SPLSyntaxError, UnsupportedSPL
from .values import first, format_number, parse_number, values_of


@dataclass(frozen=True)
class EvalToken:
    kind: str  # num, str, field, name, op, (, ), ,, end
    value: Any
    position: int


_TOKEN = re.compile(
    r"""(?P<ws>\s+)
    |(?P<num>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
    |(?P<str>"(?:[^"\\]|\\.)*")
    |(?P<field>'(?:[^'\\]|\\.)*')
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<op>==|!=|<=|>=|[-+*/%.=<>(),])
    """,
    re.VERBOSE | re.DOTALL,
)

_KEYWORDS = {"AND", "OR", "NOT", "XOR", "LIKE"}


def tokenize_eval(text: str, base: int = 0) -> List[EvalToken]:
    """Tokenize an eval expression."""
    tokens: list[EvalToken] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise SPLSyntaxError(f"unexpected character {text[pos]!r} in expression", base + pos)
        kind = match.lastgroup
        raw = match.group()
        if kind == "num":
            tokens.append(
                EvalToken("num", float(raw) if any(c in raw for c in ".eE") else int(raw), base + pos)
            )
        elif kind == "str":
            tokens.append(EvalToken("str", _unescape(raw[1:-1]), base + pos))
        elif kind == "field":
            tokens.append(EvalToken("field", raw[1:-1].replace("\\'", "'"), base + pos))
        elif kind == "name":
            upper = raw.upper()
            tokens.append(
                EvalToken(
                    "kw" if upper in _KEYWORDS else "name", upper if upper in _KEYWORDS else raw, base + pos
                )
            )
        elif kind == "op":
            tokens.append(EvalToken(raw if raw in "()," else "op", raw, base + pos))
        pos = match.end()
    tokens.append(EvalToken("end", None, base + len(text)))
    return tokens


def _unescape(text: str) -> str:
    return re.sub(r'\\(["\\])', r"\1", text).replace("\\n", "\n").replace("\\t", "\t")


class Env:
    """What an expression sees: the current row and the search context."""

    def __init__(self, row: dict, context: Any) -> None:
        self.row = row
        self.context = context


class Expr:
    position: int = 0

    def eval(self, env: Env) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def fields(self) -> set:
        """Field names the expression reads."""
        return set()


@dataclass
class Literal(Expr):
    value: Any
    position: int = 0

    def eval(self, env: Env) -> Any:
        return self.value


@dataclass
class FieldRef(Expr):
    name: str
    position: int = 0

    def eval(self, env: Env) -> Any:
        value = env.row.get(self.name)
        if isinstance(value, list):
            if not value:
                return None
            return value[0] if len(value) == 1 else list(value)
        return value

    def fields(self) -> set:
        return {self.name}


@dataclass
class Call(Expr):
    name: str
    args: List[Expr]
    position: int = 0

    def eval(self, env: Env) -> Any:
        from .functions import FUNCTIONS

        return FUNCTIONS[self.name].impl(self.args, env)

    def fields(self) -> set:
        out: set = set()
        for arg in self.args:
            out |= arg.fields()
        return out


@dataclass
class Unary(Expr):
    op: str
    operand: Expr
    position: int = 0

    def eval(self, env: Env) -> Any:
        value = self.operand.eval(env)
        if self.op == "NOT":
            truth = truth_value(value)
            return None if truth is None else not truth
        number = parse_number(first(value))
        return None if number is None else -number

    def fields(self) -> set:
        return self.operand.fields()


@dataclass
class Binary(Expr):
    op: str
    left: Expr
    right: Expr
    position: int = 0

    def eval(self, env: Env) -> Any:
        if self.op in ("AND", "OR", "XOR"):
            return _logical(self.op, self.left, self.right, env)
        left, right = self.left.eval(env), self.right.eval(env)
        if self.op in ("=", "==", "!=", "<", "<=", ">", ">=", "LIKE"):
            return compare(self.op, left, right)
        return arithmetic(self.op, left, right)

    def fields(self) -> set:
        return self.left.fields() | self.right.fields()


def truth_value(value: Any) -> bool | None:
    """A value in a boolean context: True/False, None for null; other types are an error."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    raise SPLRuntimeError(f"expected a boolean expression, got the value {value!r}")


def _logical(op: str, left_expr: Expr, right_expr: Expr, env: Env) -> bool | None:
    left = truth_value(left_expr.eval(env))
    if op == "AND" and left is False:
        return False
    if op == "OR" and left is True:
        return True
    right = truth_value(right_expr.eval(env))
    if op == "AND":
        return False if right is False else (None if None in (left, right) else True)
    if op == "OR":
        return True if right is True else (None if None in (left, right) else False)
    return None if None in (left, right) else left != right


def _compare_one(op: str, left: Any, right: Any) -> bool:
    if op == "LIKE":
        return like(str_value(left), str_value(right))
    a, b = parse_number(left), parse_number(right)
    if a is None or b is None or isinstance(left, bool) or isinstance(right, bool):
        a, b = str_value(left), str_value(right)  # type: ignore[assignment]
    if op in ("=", "=="):
        return a == b
    if op == "!=":
        return a != b
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    return a >= b


def compare(op: str, left: Any, right: Any) -> bool | None:
    """A comparison; null when either side is null; any value of a multivalue may satisfy it."""
    if left is None or right is None:
        return None
    lefts = left if isinstance(left, list) else [left]
    rights = right if isinstance(right, list) else [right]
    return any(_compare_one(op, a, b) for a in lefts for b in rights)


def str_value(value: Any) -> str:
    """A non-null scalar as Splunk prints it."""
    value = first(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_number(value)
    return str(value)


def arithmetic(op: str, left: Any, right: Any) -> Any:
    """``+ - * / % .`` with Splunk's rules: null in, null out; ``+`` of two strings concatenates."""
    if left is None or right is None:
        return None
    if op == ".":
        return str_value(left) + str_value(right)
    a, b = parse_number(first(left)), parse_number(first(right))
    if a is None or b is None:
        if op == "+" and isinstance(first(left), str) and isinstance(first(right), str):
            return str_value(left) + str_value(right)
        return None
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        return None
    if op == "/":
        result = a / b
        return int(result) if isinstance(a, int) and isinstance(b, int) and a % b == 0 else result
    return a % b


_LIKE_CACHE: dict = {}


def like(text: str, pattern: str) -> bool:
    """SQL LIKE: ``%`` any run of characters, ``_`` one character; case-sensitive."""
    regex = _LIKE_CACHE.get(pattern)
    if regex is None:
        body = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
        regex = _LIKE_CACHE[pattern] = re.compile(body, re.DOTALL)
    return bool(regex.fullmatch(text))


_BINARY_POWER = {
    "OR": 1,
    "XOR": 1,
    "AND": 2,
    "=": 4,
    "==": 4,
    "!=": 4,
    "<": 4,
    "<=": 4,
    ">": 4,
    ">=": 4,
    "LIKE": 4,
    "+": 5,
    "-": 5,
    ".": 5,
    "*": 6,
    "/": 6,
    "%": 6,
}


class EvalParser:
    """Pratt parser over eval tokens."""

    def __init__(self, tokens: Sequence[EvalToken]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> EvalToken:
        return self.tokens[self.pos]

    def take(self) -> EvalToken:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def expect(self, kind: str) -> EvalToken:
        token = self.take()
        if token.kind != kind:
            raise SPLSyntaxError(f"expected {kind!r} in expression, found {token.value!r}", token.position)
        return token

    def expression(self, min_power: int = 0) -> Expr:
        left = self.prefix()
        while True:
            token = self.peek()
            op = token.value if token.kind in ("op", "kw") else None
            power = _BINARY_POWER.get(op) if op else None
            if power is None or power <= min_power:
                return left
            self.take()
            right = self.expression(power)
            left = Binary(op, left, right, token.position)

    def prefix(self) -> Expr:
        token = self.take()
        if token.kind == "num":
            return Literal(token.value, token.position)
        if token.kind == "str":
            return Literal(token.value, token.position)
        if token.kind == "field":
            return FieldRef(token.value, token.position)
        if token.kind == "(":
            inner = self.expression()
            self.expect(")")
            return inner
        if token.kind == "op" and token.value in ("-", "+"):
            operand = self.expression(6)
            return operand if token.value == "+" else Unary("-", operand, token.position)
        if token.kind == "kw" and token.value == "NOT":
            return Unary("NOT", self.expression(3), token.position)
        if token.kind == "name":
            if self.peek().kind == "(":
                return self.call(token)
            return FieldRef(token.value, token.position)
        raise SPLSyntaxError(f"unexpected {token.value!r} in expression", token.position)

    def call(self, name: EvalToken) -> Expr:
        from .functions import FUNCTIONS

        key = name.value.lower()
        if key not in FUNCTIONS:
            raise UnsupportedSPL(f"eval function {name.value}() is not supported", name.position)
        self.expect("(")
        args: list[Expr] = []
        if self.peek().kind != ")":
            while True:
                args.append(self.expression())
                if self.peek().kind == ",":
                    self.take()
                    continue
                break
        self.expect(")")
        spec = FUNCTIONS[key]
        if not spec.min_args <= len(args) <= spec.max_args:
            raise SPLSyntaxError(
                f"{key}() takes {spec.arity_text()} arguments, got {len(args)}", name.position
            )
        return Call(key, args, name.position)


def parse_expression(text: str, base: int = 0) -> Expr:
    """Parse a whole eval expression (for ``where``)."""
    parser = EvalParser(tokenize_eval(text, base))
    expr = parser.expression()
    if parser.peek().kind != "end":
        raise SPLSyntaxError(f"unexpected {parser.peek().value!r} after expression", parser.peek().position)
    return expr


def parse_assignments(text: str, base: int = 0) -> List[tuple]:
    """Parse ``eval``'s ``field=expr, field2=expr`` list into (field, Expr) pairs."""
    parser = EvalParser(tokenize_eval(text, base))
    pairs = []
    while True:
        target = parser.take()
        if target.kind not in ("name", "field", "str"):
            raise SPLSyntaxError(f"expected a field name to assign, found {target.value!r}", target.position)
        equals = parser.take()
        if equals.value != "=":
            raise SPLSyntaxError(f"expected '=' after {target.value}", equals.position)
        pairs.append((target.value, parser.expression()))
        token = parser.peek()
        if token.kind == "end":
            return pairs
        if token.kind != ",":
            raise SPLSyntaxError(f"unexpected {token.value!r} in eval", token.position)
        parser.take()


def multivalue(value: Any) -> list:
    """A value as a list of its values (for mv functions)."""
    return values_of(value) if not isinstance(value, list) else [v for v in value if v is not None]
