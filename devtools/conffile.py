"""A small reader for Splunk .conf files (macros.conf, transforms.conf, savedsearches.conf...).

It follows the syntax rules of Splunk's "About configuration files" and "Configuration file
structure" pages (docs.splunk.com/Documentation/Splunk/latest/Admin/Aboutconfigurationfiles,
.../Admin/Configurationfilestructure):

* A stanza starts with ``[name]`` on its own line; settings are ``key = value`` lines that belong
  to the stanza above them. Settings before the first stanza belong to the ``default`` stanza,
  as does an explicit ``[default]`` stanza.
* Lines whose first non-blank character is ``#`` are comments. A ``#`` elsewhere is part of the
  value (Splunk has no inline comments).
* A value continues on the next line when the line ends with a backslash. Splunk keeps the
  line break in the value (the backslash itself is dropped), which is how multi-line searches
  are stored in savedsearches.conf.
* Whitespace around keys and values is stripped; keys are case-sensitive.
* When a stanza or a key appears twice in one file, the later one wins (Splunk merges stanzas
  of the same name, settings of the same key override). :func:`parse_conf` keeps that merge.

Settings of the ``default`` stanza are not copied into other stanzas here: callers that need
Splunk's layering (default stanza values apply to every stanza) call :func:`with_defaults`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Union

Stanza = Dict[str, str]
Conf = Dict[str, Stanza]

DEFAULT_STANZA = "default"


class ConfParseError(ValueError):
    """A line of a .conf file is neither a stanza header, a setting, a comment nor blank."""

    def __init__(self, source: str, line_number: int, line: str) -> None:
        super().__init__(f"{source}:{line_number}: not a stanza, setting or comment: {line.strip()!r}")
        self.source = source
        self.line_number = line_number


def parse_conf(text: str, *, source: str = "<conf>") -> Conf:
    """Parse the text of a .conf file into ``{stanza: {key: value}}``.

    Arguments:
        text: the file's content.
        source: a name for error messages (usually the path).

    Raises:
        ConfParseError: on a line that is not a stanza header, a ``key = value``, a comment or blank.

    Examples:
        >>> parse_conf("[cloudtrail]\\ndefinition = sourcetype=aws:cloudtrail\\n")
        {'cloudtrail': {'definition': 'sourcetype=aws:cloudtrail'}}
    """
    conf: Conf = {}
    current = conf.setdefault(DEFAULT_STANZA, {})
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        number = index + 1
        line = lines[index]
        index += 1
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            current = conf.setdefault(stripped[1:-1].strip(), {})
            continue
        if "=" not in stripped:
            raise ConfParseError(source, number, line)
        key, _, value = stripped.partition("=")
        value = value.strip()
        pieces = []
        while value.endswith("\\") and index <= len(lines):
            pieces.append(value[:-1])
            if index == len(lines):
                value = ""
                break
            value = lines[index].strip()
            index += 1
        pieces.append(value)
        current[key.strip()] = "\n".join(pieces).strip()
    if not conf[DEFAULT_STANZA]:
        del conf[DEFAULT_STANZA]
    return conf


def read_conf(path: Union[str, Path]) -> Conf:
    """Read and parse one .conf file (UTF-8, a byte-order mark tolerated)."""
    path = Path(path)
    return parse_conf(path.read_text(encoding="utf-8-sig"), source=str(path))


def with_defaults(conf: Conf) -> Conf:
    """Apply the ``default`` stanza to every other stanza (stanza settings win), as Splunk layers it."""
    defaults = conf.get(DEFAULT_STANZA, {})
    return {name: {**defaults, **stanza} for name, stanza in conf.items() if name != DEFAULT_STANZA}
