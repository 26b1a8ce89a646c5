"""Split a search into its pipeline of commands, and a command's arguments into tokens.

Splunk's search language: commands are separated by ``|`` outside quotes and outside
``[ ... ]`` subsearches; a search that does not start with ``|`` starts with an implied
``search`` command (docs: Search Reference, "Understanding SPL syntax").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List

from .errors import SPLSyntaxError


@dataclass(frozen=True)
class CommandText:
    """One pipeline stage: command name, its argument text, and where it starts in the search."""

    name: str
    body: str
    position: int
    body_position: int


@dataclass(frozen=True)
class Token:
    """A token of command arguments.

    kind is one of: ``word`` (unquoted text), ``string`` (a double-quoted string, unescaped),
    ``op`` (= == != < <= > >=), ``(``, ``)``, ``,``, ``sub`` (the text inside ``[ ]``).
    """

    kind: str
    value: str
    position: int

    def is_word(self, *words: str) -> bool:
        """True for an unquoted word equal (case-insensitively) to one of ``words``."""
        return self.kind == "word" and self.value.lower() in {w.lower() for w in words}


def _scan_quoted(text: str, start: int) -> int:
    """Index just past the double-quoted string that starts at ``start``."""
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i + 1
        i += 1
    raise SPLSyntaxError("unbalanced double quote", start)


def _scan_bracket(text: str, start: int) -> int:
    """Index just past the ``]`` that closes the subsearch opened at ``start``."""
    depth = 0
    i = start
    while i < len(text):
        char = text[i]
        if char == '"':
            i = _scan_quoted(text, i)
            continue
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise SPLSyntaxError("unbalanced '[': a subsearch is not closed", start)


def split_pipeline(text: str, base: int = 0) -> List[CommandText]:
    """Split a search into commands (the first one ``search`` when the text does not start with ``|``)."""
    segments: list[tuple[int, int]] = []
    start = 0
    i = 0
    while i < len(text):
        char = text[i]
        if char == '"':
            i = _scan_quoted(text, i)
            continue
        if char == "[":
            i = _scan_bracket(text, i)
            continue
        if char == "]":
            raise SPLSyntaxError("unbalanced ']'", base + i)
        if char == "|":
            segments.append((start, i))
            start = i + 1
        i += 1
    segments.append((start, len(text)))
    commands = []
    for index, (begin, end) in enumerate(segments):
        raw = text[begin:end]
        stripped = raw.strip()
        if not stripped:
            if index == 0 and len(segments) > 1:
                continue  # the search starts with "|": a generating command follows
            raise SPLSyntaxError("empty command between pipes", base + begin)
        lead = len(raw) - len(raw.lstrip())
        name = stripped.split(None, 1)[0]
        if index == 0 and name.lower() != "search":
            name, body = "search", stripped  # the implied search command
        else:
            body = stripped[len(name) :].lstrip()
        offset = len(stripped) - len(body)
        commands.append(CommandText(name.lower(), body, base + begin + lead, base + begin + lead + offset))
    if not commands:
        raise SPLSyntaxError("empty search", base)
    return commands


_OPERATOR_CHARS = "=!<>"
_SINGLE = "(),"
_BREAK = set(' \t\r\n"[](),=!<>')


def tokenize(body: str, base: int = 0) -> List[Token]:
    """Tokenize a command's argument text (see :class:`Token` for the kinds)."""
    tokens: list[Token] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char.isspace():
            i += 1
            continue
        if char == '"':
            end = _scan_quoted(body, i)
            tokens.append(Token("string", unescape(body[i + 1 : end - 1]), base + i))
            i = end
            continue
        if char == "[":
            end = _scan_bracket(body, i)
            tokens.append(Token("sub", body[i + 1 : end - 1], base + i + 1))
            i = end
            continue
        if char in _SINGLE:
            tokens.append(Token(char, char, base + i))
            i += 1
            continue
        if char in _OPERATOR_CHARS:
            two = body[i : i + 2]
            if two in ("==", "!=", "<=", ">="):
                tokens.append(Token("op", two, base + i))
                i += 2
                continue
            if char == "!":
                raise SPLSyntaxError("unexpected '!'", base + i)
            tokens.append(Token("op", char, base + i))
            i += 1
            continue
        start = i
        while i < len(body) and body[i] not in _BREAK:
            i += 1
        tokens.append(Token("word", body[start:i], base + start))
    return tokens


def unescape(text: str) -> str:
    """Undo backslash escapes of a quoted SPL string (``\\"`` and ``\\\\``); others are kept."""
    out = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in '"\\':
            out.append(text[i + 1])
            i += 2
            continue
        out.append(text[i])
        i += 1
    return "".join(out)
