"""tstats over the indexed fields only, as Splunk answers it from the tsidx files.

Splunk's ``tstats`` (Search Reference, "tstats") reads the index-time fields of the tsidx files
and never the raw events: without a data model, its ``where`` clause and ``by`` clause may name
only indexed fields (``index``, ``sourcetype``, ``source``, ``host``, ``splunk_server``,
``_time``) and its functions count or summarise those. Search-time fields (``eventName``,
``search_name``) do not exist for it: the evaluator refuses them instead of answering what a
real Splunk could not. Supported: ``| tstats [count | f(indexed_field) [as name]] ... [where
<search expression>] [by indexed_field ...]``; ``earliest=``/``latest=`` in ``where`` bound
the time as in ``search``. Data models (``from datamodel=``), ``prestats``, ``span`` and
``TERM()``/``PREFIX()`` are refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, List

from ..errors import SPLSyntaxError, UnsupportedSPL
from ..lexer import CommandText, tokenize
from ..searchexpr import AndNode, CompareNode, InNode, Node, NotNode, OrNode, TermNode, mentions_field, parse_search
from ..values import Row
from .args import Args
from .filtering import time_resolver
from .stats import parse_aggregations, stats_rows

if TYPE_CHECKING:
    from ..engine import Runner

INDEXED_FIELDS = frozenset({"index", "sourcetype", "source", "host", "splunk_server", "_time"})


def _check_node(node: Node, position: int) -> None:
    if isinstance(node, (AndNode, OrNode)):
        for child in node.children:
            _check_node(child, position)
    elif isinstance(node, NotNode):
        _check_node(node.child, position)
    elif isinstance(node, (CompareNode, InNode)) and node.field not in INDEXED_FIELDS:
        raise UnsupportedSPL(f"tstats: '{node.field}' is not an indexed field (tstats reads only "
                             f"{', '.join(sorted(INDEXED_FIELDS))})", position)
    elif isinstance(node, TermNode):
        raise UnsupportedSPL(f"tstats: free-text term {node.term!r} in where (tstats matches indexed fields only)",
                             position)


def tstats(cmd: CommandText, rows: List[Row] | None, runner: Runner) -> List[Row]:
    """| tstats count ... where <indexed-field expression> by <indexed fields>."""
    if rows is not None:
        raise SPLSyntaxError("command 'tstats' must be the first command of a search", cmd.position)
    tokens = tokenize(cmd.body, cmd.body_position)
    where_at = next((i for i, t in enumerate(tokens) if t.is_word("where")), None)
    by_at = next((i for i, t in enumerate(tokens) if t.is_word("by")), None)
    if where_at is not None and by_at is not None and by_at < where_at:
        raise SPLSyntaxError("tstats: 'by' must follow 'where'", tokens[by_at].position)
    head = tokens[: where_at if where_at is not None else by_at if by_at is not None else len(tokens)]
    args = Args(cmd, head)
    if args.peek() is not None and args.at_option():
        raise UnsupportedSPL(f"tstats: option {args.peek().value!r} is not supported", args.peek().position)
    for token in head:
        if token.is_word("from"):
            raise UnsupportedSPL("tstats: data models (from datamodel=...) are not supported", token.position)
    aggregations = parse_aggregations(args) if not args.done() else parse_aggregations(Args(cmd, tokenize("count")))
    args.rest_must_be_empty()
    for aggregation in aggregations:
        if aggregation.field is not None and aggregation.field not in INDEXED_FIELDS:
            raise UnsupportedSPL(f"tstats: {aggregation.function}({aggregation.field}): not an indexed field",
                                 cmd.position)
    by: List[str] = []
    if by_at is not None:
        by_args = Args(cmd, tokens[by_at + 1 :])
        by = by_args.field_list()
        by_args.rest_must_be_empty()
        for field in by:
            if field not in INDEXED_FIELDS:
                raise UnsupportedSPL(f"tstats: by {field}: not an indexed field", tokens[by_at].position)
    events = runner.initial_events()
    if where_at is not None:
        context = runner.context
        node = parse_search(tokens[where_at + 1 : by_at], None, time_resolver(context))
        _check_node(node, tokens[where_at].position)
        if context.indexes is not None and not mentions_field(node, "index"):
            events = [e for e in events if e.get("index") in context.indexes]
        events = [e for e in events if node.matches(e)]
    indexed = [{k: v for k, v in e.items() if k in INDEXED_FIELDS} for e in events]
    return stats_rows(indexed, aggregations, by)
