"""SPL commands, one module per group. Each registers itself in :data:`COMMANDS`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict


@dataclass(frozen=True)
class CommandSpec:
    """How to run a command: ``run(command_text, rows, runner) -> rows``.

    ``generating`` commands produce rows without input and must come first in a search.
    """

    run: Callable
    generating: bool = False


COMMANDS: Dict[str, CommandSpec] = {}


def command(*names: str, generating: bool = False) -> Callable:
    """Register a command implementation under one or more names."""

    def decorate(func: Callable) -> Callable:
        for name in names:
            COMMANDS[name] = CommandSpec(func, generating)
        return func

    return decorate


def load_all() -> Dict[str, CommandSpec]:
    """Import every command module (they register on import) and return the table."""
    from . import filtering, generating, multivalue, reshaping, stats, transform, tstats  # noqa: F401

    return COMMANDS
