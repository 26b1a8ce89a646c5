"""SPL commands, one module per group, and :data:`COMMANDS`: the table of every command the
evaluator runs. A command not in the table raises ``UnsupportedSPL``; adding one means writing its
function in the right group module and adding one line here (nothing registers itself on import).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict

from . import filtering, generating, multivalue, reshaping, stats, transform, tstats


@dataclass(frozen=True)
class CommandSpec:
    """How to run a command: ``run(command_text, rows, runner) -> rows``.

    ``generating`` commands produce rows without input and must come first in a search.
    """

    run: Callable
    generating: bool = False


def _generating(run: Callable) -> CommandSpec:
    return CommandSpec(run, generating=True)


COMMANDS: Dict[str, CommandSpec] = {
    # filtering.py: keep or order rows
    "search": CommandSpec(filtering.search),
    "where": CommandSpec(filtering.where),
    "head": CommandSpec(filtering.head),
    "tail": CommandSpec(filtering.tail),
    "dedup": CommandSpec(filtering.dedup),
    "regex": CommandSpec(filtering.regex),
    "sort": CommandSpec(filtering.sort),
    # generating.py: rows from elsewhere (lookups, REST, subsearches)
    "makeresults": _generating(generating.makeresults),
    "inputlookup": _generating(generating.inputlookup),
    "rest": _generating(generating.rest),
    "outputlookup": CommandSpec(generating.outputlookup),
    "lookup": CommandSpec(generating.lookup),
    "append": CommandSpec(generating.append),
    "appendpipe": CommandSpec(generating.appendpipe),
    "join": CommandSpec(generating.join),
    "return": CommandSpec(generating.return_),
    "format": CommandSpec(generating.format_),
    # tstats.py: over the indexed fields only, as from the tsidx files
    "tstats": _generating(tstats.tstats),
    # refused with a reason: they need data models or metrics (docs/spl-evaluator.md)
    "datamodel": _generating(generating.refused),
    "from": _generating(generating.refused),
    "pivot": _generating(generating.refused),
    "mstats": _generating(generating.refused),
    # multivalue.py
    "mvexpand": CommandSpec(multivalue.mvexpand),
    "makemv": CommandSpec(multivalue.makemv),
    "mvcombine": CommandSpec(multivalue.mvcombine),
    "nomv": CommandSpec(multivalue.nomv),
    # reshaping.py: pivots
    "chart": CommandSpec(reshaping.chart),
    "timechart": CommandSpec(reshaping.timechart),
    "xyseries": CommandSpec(reshaping.xyseries),
    # stats.py
    "stats": CommandSpec(stats.stats),
    "eventstats": CommandSpec(stats.eventstats),
    "streamstats": CommandSpec(stats.streamstats),
    "top": CommandSpec(stats.top),
    "rare": CommandSpec(stats.rare),
    # transform.py: change fields row by row
    "eval": CommandSpec(transform.eval_),
    "table": CommandSpec(transform.table),
    "fields": CommandSpec(transform.fields),
    "rename": CommandSpec(transform.rename),
    "fillnull": CommandSpec(transform.fillnull),
    "rex": CommandSpec(transform.rex),
    "spath": CommandSpec(transform.spath),
    "convert": CommandSpec(transform.convert),
    "bin": CommandSpec(transform.bin_),
    "bucket": CommandSpec(transform.bin_),
    "addinfo": CommandSpec(transform.addinfo),
    "foreach": CommandSpec(transform.foreach),
}
