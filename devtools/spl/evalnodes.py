"""The eval expression tree and its value semantics (null propagation, comparison, truth).

Search Reference, "eval" command and "Evaluation functions"
(docs.splunk.com/Documentation/Splunk/latest/SearchReference/Eval); the rules are listed in
:mod:`devtools.spl.evalexpr`, whose parser builds these nodes. This module imports neither the
parser nor the function table, so :mod:`devtools.spl.functions` can build on it without an
import cycle (parser -> functions -> nodes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, List

from .errors import SPLRuntimeError
from .values import compare_scalars, first, format_number, parse_number, values_of


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
    impl: Callable[[List[Expr], Env], Any]
    position: int = 0

    def eval(self, env: Env) -> Any:
        return self.impl(self.args, env)

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
    return compare_scalars(op, left, right)


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


def multivalue(value: Any) -> list:
    """A value as a list of its values (for mv functions)."""
    return values_of(value) if not isinstance(value, list) else [v for v in value if v is not None]
