"""Eval expressions (``eval``, ``where``, ``fieldformat``-style), with Splunk's semantics.

Search Reference, "eval" command and "Evaluation functions"
(docs.splunk.com/Documentation/Splunk/latest/SearchReference/Eval):

* Operator precedence, highest first: unary ``-``; ``* / %``; ``+ - .``; comparisons
  (``= == != < <= > >= LIKE``); ``NOT``; ``AND``; ``OR``; ``XOR`` (Search Manual, "Boolean
  expressions with logical operators": eval and where evaluate AND before OR, XOR last).
* Field names are bare identifiers (letters, digits, ``_``) or single-quoted (``'a.b{}'``);
  an unquoted ``a.b`` is the concatenation of fields a and b, as in Splunk. Strings are
  double-quoted. Function names and AND/OR/NOT/XOR/LIKE are case-insensitive.
* String comparison is case-sensitive. Two values compare numerically when both are numbers
  or numeric strings (field values are strings), otherwise as strings.
* Null propagates: arithmetic, ``.`` and comparisons with a null operand give null; in a
  boolean context (``where``, ``if``, ``case``) null counts as false. AND/OR/NOT use three-valued
  logic (false AND null = false, true OR null = true).
* A comparison with a multivalue field is true if it holds for any value.

This module is the tokenizer and parser; the tree it builds and the value semantics are in
:mod:`devtools.spl.evalnodes`, the functions in :mod:`devtools.spl.functions` (imports go one way:
evalexpr -> functions -> evalnodes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, List, Sequence

from .errors import SPLSyntaxError, UnsupportedSPL
from .evalnodes import Binary, Call, Expr, FieldRef, Literal, Unary
from .functions import FUNCTIONS


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
    """Tokenize an eval expression.

    ``.`` after a value is the concatenation operator, so ``a.1`` is a concatenated with 1;
    ``like(`` directly followed by a parenthesis is the function, ``LIKE`` otherwise the operator.
    """
    tokens: list[EvalToken] = []
    pos = 0
    while pos < len(text):
        after_value = bool(tokens) and tokens[-1].kind in ("num", "str", "field", "name", ")")
        if after_value and text[pos] == ".":
            tokens.append(EvalToken("op", ".", base + pos))
            pos += 1
            continue
        match = _TOKEN.match(text, pos)
        if not match:
            raise SPLSyntaxError(f"unexpected character {text[pos]!r} in expression", base + pos)
        kind = match.lastgroup
        raw = match.group()
        if kind == "num":
            number = float(raw) if any(c in raw for c in ".eE") else int(raw)
            tokens.append(EvalToken("num", number, base + pos))
        elif kind == "str":
            tokens.append(EvalToken("str", _unescape(raw[1:-1]), base + pos))
        elif kind == "field":
            tokens.append(EvalToken("field", raw[1:-1].replace("\\'", "'"), base + pos))
        elif kind == "name":
            upper = raw.upper()
            is_call = text.startswith("(", match.end())
            if upper in _KEYWORDS and not (upper == "LIKE" and is_call):
                tokens.append(EvalToken("kw", upper, base + pos))
            else:
                tokens.append(EvalToken("name", raw, base + pos))
        elif kind == "op":
            tokens.append(EvalToken(raw if raw in "()," else "op", raw, base + pos))
        pos = match.end()
    tokens.append(EvalToken("end", None, base + len(text)))
    return tokens


def _unescape(text: str) -> str:
    return re.sub(r'\\(["\\])', r"\1", text)


_BINARY_POWER = {
    "XOR": 1,
    "OR": 2,
    "AND": 3,
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
            return Unary("NOT", self.expression(3), token.position)  # binds tighter than AND, looser than =
        if token.kind == "name":
            if self.peek().kind == "(":
                return self.call(token)
            return FieldRef(token.value, token.position)
        raise SPLSyntaxError(f"unexpected {token.value!r} in expression", token.position)

    def call(self, name: EvalToken) -> Expr:
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
            raise SPLSyntaxError(f"{key}() takes {spec.arity_text()} arguments, got {len(args)}", name.position)
        return Call(key, args, spec.impl, name.position)


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
