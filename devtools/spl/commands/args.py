"""Parsing helpers shared by the commands: options (``key=value``), field lists, ``AS`` pairs."""

from __future__ import annotations

from typing import Dict, Iterable, List, Sequence, Tuple

from ..errors import SPLSyntaxError, UnsupportedSPL
from ..lexer import CommandText, Token, tokenize

TRUE_WORDS = {"t", "true", "1", "yes", "y"}
FALSE_WORDS = {"f", "false", "0", "no", "n"}


class Args:
    """The tokens of one command with a cursor, plus the command for error messages."""

    def __init__(self, cmd: CommandText, tokens: List[Token] | None = None) -> None:
        self.cmd = cmd
        self.tokens = tokens if tokens is not None else tokenize(cmd.body, cmd.body_position)
        self.pos = 0

    def peek(self, offset: int = 0) -> Token | None:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def take(self) -> Token:
        if self.pos >= len(self.tokens):
            raise SPLSyntaxError(f"{self.cmd.name}: missing argument", self.cmd.position + len(self.cmd.body))
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def done(self) -> bool:
        return self.pos >= len(self.tokens)

    def at_option(self) -> bool:
        first, second, third = self.peek(), self.peek(1), self.peek(2)
        return (
            first is not None
            and first.kind == "word"
            and second is not None
            and second.kind == "op"
            and second.value == "="
            and third is not None
            and third.kind in ("word", "string")
        )

    def options(self, allowed: Iterable[str]) -> Dict[str, str]:
        """Consume leading ``key=value`` options; an unknown key raises UnsupportedSPL."""
        allowed_set = set(allowed)
        found: Dict[str, str] = {}
        while self.at_option():
            key = self.peek()
            if key.value not in allowed_set:
                raise UnsupportedSPL(f"{self.cmd.name}: option {key.value}= is not supported", key.position)
            self.take()
            self.take()
            found[key.value] = self.take().value
        return found

    def word(self, what: str) -> str:
        token = self.take()
        if token.kind not in ("word", "string"):
            raise SPLSyntaxError(f"{self.cmd.name}: expected {what}, found {token.value!r}", token.position)
        return token.value

    def keyword(self, *words: str) -> bool:
        """Consume the next token if it is one of ``words`` (case-insensitive)."""
        token = self.peek()
        if token is not None and token.is_word(*words):
            self.take()
            return True
        return False

    def field_list(self, stop: Sequence[str] = ()) -> List[str]:
        """Fields separated by spaces and/or commas, up to a stop word or the end."""
        fields: List[str] = []
        while not self.done():
            token = self.peek()
            if token.kind == ",":
                self.take()
                continue
            if token.kind == "sub" or (
                token.kind == "word" and token.value.lower() in {s.lower() for s in stop}
            ):
                break
            if token.kind not in ("word", "string"):
                raise SPLSyntaxError(f"{self.cmd.name}: unexpected {token.value!r}", token.position)
            fields.append(self.take().value)
        return fields

    def rest_must_be_empty(self) -> None:
        if not self.done():
            token = self.peek()
            raise SPLSyntaxError(f"{self.cmd.name}: unexpected {token.value!r}", token.position)

    def error(self, message: str, token: Token | None = None) -> SPLSyntaxError:
        return SPLSyntaxError(f"{self.cmd.name}: {message}", token.position if token else self.cmd.position)


def boolean(value: str, name: str) -> bool:
    """A Splunk boolean option value."""
    lowered = value.lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise SPLSyntaxError(f"option {name} expects a boolean, got {value!r}")


def integer(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError as exc:
        raise SPLSyntaxError(f"option {name} expects an integer, got {value!r}") from exc


def as_pairs(args: Args) -> List[Tuple[str, str]]:
    """``a AS b, c AS d`` pairs (rename, lookup)."""
    pairs = []
    while not args.done():
        if args.peek().kind == ",":
            args.take()
            continue
        source = args.word("a field")
        if not args.keyword("as"):
            raise args.error(f"expected AS after {source!r}", args.peek())
        pairs.append((source, args.word("a new field name")))
    return pairs
