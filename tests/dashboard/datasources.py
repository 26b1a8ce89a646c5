"""The SPL of each data source of a Dashboard Studio definition, and its results in the evaluator.

* A ``ds.search`` runs its ``query``; a ``ds.chain`` runs its base's SPL followed by its own
  (Splunk post-processes the base's results the same way).
* ``$token$`` references take the dashboard's default values: an input's ``defaultValue``, else
  ``defaults.tokens.default``; an unknown token is an error (the panel would wait forever).
* :func:`as_test_definition` swaps every data source for a ``ds.test`` holding the rows its own
  SPL returned, which is what the browser renders.
"""

from __future__ import annotations

import copy
import html
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Mapping
from urllib.parse import quote

from devtools.dashboards import SOURCES
from devtools.spl import SearchContext, run_search

ATTACK_COVERAGE = SOURCES / "attack_coverage.json"
TOKEN = re.compile(r"\$([A-Za-z0-9_.:-]+)(?:\|[shun])?\$")  # group 1: the name; a filter may follow
_FILTERS = {  # Dashboard Studio token filters: |s quoted string, |h HTML, |u URL, |n as is
    "s": lambda v: '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"',
    "h": lambda v: html.escape(v),
    "u": lambda v: quote(v, safe=""),
    "n": lambda v: v,
    None: lambda v: v,
}


def definition_sources() -> List[Path]:
    """Every Dashboard Studio JSON source of the app."""
    return sorted(SOURCES.glob("*.json"))


def default_tokens(definition: Mapping[str, Any]) -> Dict[str, str]:
    """Token name -> the value it has when the dashboard opens."""
    tokens = {
        name: str(spec.get("value", ""))
        for name, spec in definition.get("defaults", {}).get("tokens", {}).get("default", {}).items()
    }
    for input_ in definition.get("inputs", {}).values():
        options = input_.get("options", {})
        if "token" in options and "defaultValue" in options:
            tokens[options["token"]] = str(options["defaultValue"])
    return tokens


def substitute(text: str, tokens: Mapping[str, str]) -> str:
    """Replace ``$name$`` (or ``$name|s$`` and the other filters) by its token value (``$$`` is a
    literal dollar, as in Dashboard Studio)."""

    def one(match: re.Match) -> str:
        name = match.group(1)
        if name not in tokens:
            raise KeyError(f"token ${name}$ has no default value")
        whole = match.group(0)
        return _FILTERS[whole[-2] if "|" in whole else None](tokens[name])

    return TOKEN.sub(one, text).replace("$$", "$")


def data_source_spl(definition: Mapping[str, Any], name: str) -> str:
    """The full SPL a data source runs (a chain's base first), tokens not yet substituted."""
    source = definition["dataSources"][name]
    options = source.get("options", {})
    if source["type"] == "ds.chain":
        return data_source_spl(definition, options["extend"]) + "\n" + options["query"]
    if source["type"] != "ds.search":
        raise ValueError(f"data source {name}: type {source['type']} has no SPL")
    return options["query"]


def run_data_source(definition: Mapping[str, Any], name: str, events: List[dict], context: SearchContext) -> List[dict]:
    """The result rows of one data source's own SPL over the given events."""
    spl = substitute(data_source_spl(definition, name), default_tokens(definition))
    return run_search(spl, events, context)


def splunk_time(value: Any) -> Any:
    """An epoch ``_time`` as splunkd's search results give it: ISO 8601 with milliseconds, in UTC."""
    try:
        moment = datetime.fromtimestamp(float(value), tz=timezone.utc)
    except (TypeError, ValueError):
        return value
    return moment.isoformat(timespec="milliseconds")


def as_columns(rows: List[Mapping[str, Any]]) -> Dict[str, list]:
    """Rows as Dashboard Studio's ``{fields, columns}`` (fields in first-seen order, ``_time`` as ISO)."""
    fields: Dict[str, None] = {}
    for row in rows:
        for key in row:
            fields.setdefault(key, None)
    columns = [[splunk_time(row.get(f)) if f == "_time" else row.get(f) for row in rows] for f in fields]
    return {"fields": [{"name": f} for f in fields], "columns": columns}


def as_test_definition(definition: Mapping[str, Any], results: Mapping[str, List[dict]]) -> Dict[str, Any]:
    """A copy of the definition whose data sources are ``ds.test`` holding the given results."""
    rendered = copy.deepcopy(dict(definition))
    for name, source in rendered["dataSources"].items():
        rendered["dataSources"][name] = {
            "type": "ds.test",
            "name": source.get("name", name),
            "options": {"data": as_columns(results[name])},
        }
    defaults = rendered.get("defaults", {}).get("dataSources", {})
    defaults.pop("ds.search", None)
    return rendered
