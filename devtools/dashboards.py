"""Wrap Dashboard Studio JSON definitions into the view XML that Splunk loads.

The readable source of each dashboard is ``dashboards/<view>.json`` (the Dashboard Studio
definition, exactly what the Studio source editor shows); the app ships
``app/default/data/ui/views/<view>.xml``, a ``<dashboard version="2">`` whose CDATA holds that
JSON. Edit the JSON, then run:

    python3 -m devtools.dashboards            # rewrite every view whose JSON changed
    python3 -m devtools.dashboards --check    # exit 1 if a committed view differs from its JSON

tests/dashboard/test_definition.py runs the check.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List
from xml.sax.saxutils import escape

from devtools.render import stale_files, write_atomic

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "dashboards"
VIEWS = ROOT / "app" / "default" / "data" / "ui" / "views"
THEME = "dark"


class DashboardSourceError(ValueError):
    """A dashboard JSON source cannot be wrapped (bad JSON, or text that cannot sit in CDATA)."""


def view_xml(definition_text: str, *, source_name: str) -> str:
    """The view XML for one Dashboard Studio definition (JSON text).

    Raises:
        DashboardSourceError: the text is not a JSON object with a title, or contains ``]]>``.
    """
    try:
        definition = json.loads(definition_text)
    except ValueError as error:
        raise DashboardSourceError(f"{source_name}: not JSON: {error}") from error
    if not isinstance(definition, dict) or not definition.get("title"):
        raise DashboardSourceError(f"{source_name}: a Dashboard Studio definition needs a title")
    body = json.dumps(definition, indent=2, ensure_ascii=False)
    if "]]>" in body:
        raise DashboardSourceError(f"{source_name}: the definition contains ']]>', which cannot sit in CDATA")
    return (
        f'<dashboard version="2" theme="{THEME}">\n'
        f"  <!-- Generated from dashboards/{source_name} by devtools/dashboards.py:"
        " edit the JSON, not this file. -->\n"
        f"  <label>{escape(definition['title'])}</label>\n"
        f"  <description>{escape(definition.get('description', ''))}</description>\n"
        f"  <definition><![CDATA[\n{body}\n]]></definition>\n"
        '  <meta type="hiddenElements"><![CDATA[\n'
        '{"hideEdit": false, "hideOpenInSearch": false, "hideExport": false}\n'
        "]]></meta>\n"
        "</dashboard>\n"
    )


def expected_views(sources: Path = SOURCES) -> Dict[Path, str]:
    """Every view file and the text it should have, from the JSON sources."""
    return {
        VIEWS / f"{source.stem}.xml": view_xml(source.read_text(encoding="utf-8"), source_name=source.name)
        for source in sorted(sources.glob("*.json"))
    }


def main(argv: List[str] | None = None) -> int:
    """Write (or with --check, compare) every view; print what changed."""
    parser = argparse.ArgumentParser(prog="python3 -m devtools.dashboards",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report views that differ from their JSON")
    args = parser.parse_args(argv)
    expected = expected_views()
    stale = stale_files(expected)
    for path in stale:
        if not args.check:
            write_atomic(path, expected[path])
        print(f"{'stale' if args.check else 'wrote'} {path.relative_to(ROOT)}")
    return 1 if args.check and stale else 0

if __name__ == "__main__":
    sys.exit(main())
