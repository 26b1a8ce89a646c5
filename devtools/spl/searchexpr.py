"""The ``search`` command's boolean expression, with Splunk's matching rules.

Rules (Search Reference, "search" command and "Boolean expressions";
docs.splunk.com/Documentation/Splunk/latest/SearchReference/Search):

* Terms separated by whitespace are ANDed (implied AND); ``OR`` binds tighter than the implied
  or explicit ``AND``; ``NOT`` applies to the term or parenthesised group that follows.
  Boolean operators must be upper case (a lower-case ``or`` is a search term).
* ``field=value``: field names are case-sensitive, values case-insensitive, ``*`` is a wildcard;
  a multivalue field matches if any of its values matches. ``field=*`` matches any event
  that has the field.
* ``field!=value`` matches events that HAVE the field with no value equal to ``value``;
  ``NOT field=value`` also matches events without the field (docs: "Difference between NOT
  and !=").
* ``field IN (a, b, ...)`` is ``field=a OR field=b ...``.
* ``< <= > >=`` compare numerically when both sides are numbers, else lexicographically.
* A bare term matches ``_raw`` case-insensitively at term boundaries (Splunk's breakers);
  on rows without ``_raw`` (after a transforming command) it matches any field value.
* ``earliest=``/``latest=`` are time modifiers filtering ``_time``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, List, Sequence

from .errors import SPLSyntaxError, UnsupportedSPL
from .lexer import Token, tokenize
from .values import Row, parse_number, values_of


class Node:
    """A node of a search expression."""

    def matches(self, row: Row) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass
class AndNode(Node):
    children: List[Node]

    def matches(self, row: Row) -> bool:
        return all(child.matches(row) for child in self.children)


@dataclass
class OrNode(Node):
    children: List[Node]

    def matches(self, row: Row) -> bool:
        return any(child.matches(row) for child in self.children)


@dataclass
class NotNode(Node):
    child: Node

    def matches(self, row: Row) -> bool:
        return not self.child.matches(row)


@dataclass
class EmptyGroup(Node):
    """``()``: matches nothing, so ``NOT ()`` (format's output for no results) matches everything."""

    def matches(self, row: Row) -> bool:
        return False


@dataclass
class CompareNode(Node):
    field: str
    op: str
    value: str

    def matches(self, row: Row) -> bool:
        values = values_of(row.get(self.field))
        if not values:
            return False
        if self.op == "=":
            return any(wildcard_match(self.value, v) for v in values)
        if self.op == "!=":
            return not any(wildcard_match(self.value, v) for v in values)
        return any(_ordered(v, self.op, self.value) for v in values)


@dataclass
class InNode(Node):
    field: str
    options: List[str]

    def matches(self, row: Row) -> bool:
        values = values_of(row.get(self.field))
        return any(wildcard_match(option, v) for option in self.options for v in values)


@dataclass
class TermNode(Node):
    term: str

    def matches(self, row: Row) -> bool:
        pattern = _term_regex(self.term)
        if "_raw" in row:
            return any(pattern.search(v) for v in values_of(row.get("_raw")))
        return any(pattern.search(v) for value in row.values() for v in values_of(value))


@dataclass
class TimeNode(Node):
    """``earliest=`` / ``latest=`` resolved to epoch seconds by the caller."""

    op: str
    bound: float

    def matches(self, row: Row) -> bool:
        number = parse_number(row.get("_time"))
        if number is None:
            return False
        return number >= self.bound if self.op == "earliest" else number < self.bound


class TrueNode(Node):
    """An empty search: matches every row."""

    def matches(self, row: Row) -> bool:
        return True


@lru_cache(maxsize=4096)
def _wildcard_regex(pattern: str) -> re.Pattern:
    return re.compile(
        "^" + ".*".join(re.escape(p) for p in pattern.split("*")) + "$", re.IGNORECASE | re.DOTALL
    )


def wildcard_match(pattern: str, value: str) -> bool:
    """Case-insensitive whole-value match with ``*`` wildcards (search's ``field=value``)."""
    if "*" not in pattern:
        return pattern.lower() == value.lower()
    return bool(_wildcard_regex(pattern).match(value))


@lru_cache(maxsize=4096)
def _term_regex(term: str) -> re.Pattern:
    body = ".*?".join(re.escape(p) for p in term.split("*"))
    return re.compile(r"(?<![A-Za-z0-9])" + body + r"(?![A-Za-z0-9])", re.IGNORECASE | re.DOTALL)


def _ordered(value: str, op: str, target: str) -> bool:
    left, right = parse_number(value), parse_number(target)
    if left is not None and right is not None:
        a, b = left, right
    else:
        a, b = value, target  # type: ignore[assignment]
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    return a >= b


SubsearchResolver = Callable[[str, int], str]
TimeResolver = Callable[[str, int], float]

_UNSUPPORTED_DIRECTIVES = ("TERM(", "CASE(")


class _Parser:
    def __init__(
        self, tokens: Sequence[Token], subsearch: SubsearchResolver | None, time_resolver: TimeResolver | None
    ) -> None:
        self.tokens = list(tokens)
        self.pos = 0
        self.subsearch = subsearch
        self.time_resolver = time_resolver

    def peek(self, offset: int = 0) -> Token | None:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def take(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def parse_and(self) -> Node:
        items: list[Node] = []
        while True:
            token = self.peek()
            if token is None or token.kind == ")":
                break
            if token.kind == "word" and token.value == "AND":
                self.take()
                continue
            items.append(self.parse_or())
        if not items:
            return TrueNode()
        return items[0] if len(items) == 1 else AndNode(items)

    def parse_or(self) -> Node:
        items = [self.parse_not()]
        while (token := self.peek()) is not None and token.kind == "word" and token.value == "OR":
            self.take()
            if self.peek() is None or self.peek().kind == ")":
                raise SPLSyntaxError("OR at the end of an expression", token.position)
            items.append(self.parse_not())
        return items[0] if len(items) == 1 else OrNode(items)

    def parse_not(self) -> Node:
        token = self.peek()
        if token is not None and token.kind == "word" and token.value == "NOT":
            self.take()
            if self.peek() is None:
                raise SPLSyntaxError("NOT at the end of an expression", token.position)
            return NotNode(self.parse_not())
        return self.parse_primary()

    def parse_primary(self) -> Node:
        token = self.take()
        if token.kind == "(":
            if self.peek() is not None and self.peek().kind == ")":
                self.take()
                return EmptyGroup()
            node = self.parse_and()
            self._expect(")", token)
            return node
        if token.kind == "sub":
            if self.subsearch is None:
                raise UnsupportedSPL("a subsearch is not allowed here", token.position)
            text = self.subsearch(token.value, token.position)
            return parse_search(tokenize(text), self.subsearch, self.time_resolver)
        if token.kind in (")", ",", "op"):
            raise SPLSyntaxError(f"unexpected {token.value!r} in search", token.position)
        if token.kind == "word" and token.value.upper().startswith(_UNSUPPORTED_DIRECTIVES):
            raise UnsupportedSPL(
                f"search directive {token.value.split('(')[0]}() is not supported", token.position
            )
        nxt = self.peek()
        if nxt is not None and nxt.kind == "op":
            return self._comparison(token)
        if nxt is not None and nxt.kind == "word" and nxt.value.upper() == "IN" and self._is_in_list():
            return self._in_list(token)
        return TermNode(token.value)

    def _is_in_list(self) -> bool:
        after = self.peek(1)
        return after is not None and after.kind == "("

    def _comparison(self, field: Token) -> Node:
        op = self.take()
        if op.value == "==":
            raise SPLSyntaxError("'==' is not a search operator (use '=')", op.position)
        value = self.peek()
        if value is None or value.kind not in ("word", "string"):
            raise SPLSyntaxError(f"missing value after {field.value}{op.value}", op.position)
        self.take()
        if field.kind == "word" and field.value in ("earliest", "latest") and op.value == "=":
            if self.time_resolver is None:
                raise UnsupportedSPL(f"{field.value}= is not allowed here", field.position)
            return TimeNode(field.value, self.time_resolver(value.value, value.position))
        return CompareNode(field.value, op.value, value.value)

    def _in_list(self, field: Token) -> Node:
        self.take()  # IN
        opener = self.take()
        options: list[str] = []
        while True:
            token = self.peek()
            if token is None:
                raise SPLSyntaxError("IN list is not closed", opener.position)
            self.take()
            if token.kind == ")":
                break
            if token.kind == ",":
                continue
            if token.kind not in ("word", "string"):
                raise SPLSyntaxError(f"unexpected {token.value!r} in IN list", token.position)
            options.append(token.value)
        return InNode(field.value, options)

    def _expect(self, kind: str, opener: Token) -> None:
        token = self.peek()
        if token is None or token.kind != kind:
            raise SPLSyntaxError("unbalanced parenthesis", opener.position)
        self.take()


def parse_search(
    tokens: Sequence[Token],
    subsearch: SubsearchResolver | None = None,
    time_resolver: TimeResolver | None = None,
) -> Node:
    """Parse search-expression tokens into a matcher.

    Arguments:
        tokens: from :func:`devtools.spl.lexer.tokenize`.
        subsearch: called with the text inside ``[ ]`` and its position; returns the formatted
            search text to splice in (see the ``format`` command).
        time_resolver: turns the value of ``earliest=``/``latest=`` into epoch seconds.

    Raises:
        SPLSyntaxError: unbalanced parentheses, a dangling operator, a missing value.
        UnsupportedSPL: TERM()/CASE() directives; a subsearch or time modifier where not allowed.
    """
    parser = _Parser(tokens, subsearch, time_resolver)
    node = parser.parse_and()
    if parser.peek() is not None:
        raise SPLSyntaxError("unbalanced ')'", parser.peek().position)
    return node


def mentions_field(node: Node, field: str) -> bool:
    """True when the expression tests ``field`` somewhere (used for the default-index rule)."""
    if isinstance(node, (AndNode, OrNode)):
        return any(mentions_field(child, field) for child in node.children)
    if isinstance(node, NotNode):
        return mentions_field(node.child, field)
    return isinstance(node, (CompareNode, InNode)) and node.field == field
