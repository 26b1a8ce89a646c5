"""Read back what a rendered dashboard shows: per panel, its text and the markers of an empty or
failed panel, from the DOM that headless Chromium dumps."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from typing import Dict, List

NO_DATA = "No search results returned"
_GRID_ITEM = re.compile(r'<div id="([A-Za-z0-9_-]+)" data-test="grid-item"')
_ERROR_MARKERS = (
    'data-test="visualization-message"',
    'data-test="dashboard-message"',
    'data-test="grid-layout-error-message"',
    'data-test="viz-waiting-for-input"',
)


@dataclass
class Panel:
    """One visualization as rendered."""

    viz_id: str
    markup: str

    @property
    def text(self) -> str:
        """The visible text, tags removed and whitespace collapsed."""
        return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", self.markup)).split())

    @property
    def shows_no_data(self) -> bool:
        """The panel says its search returned nothing."""
        return NO_DATA in self.markup

    @property
    def problems(self) -> List[str]:
        """Error, waiting or message markers in the panel (empty when it rendered its data)."""
        return [m for m in _ERROR_MARKERS if m in self.markup]

    @property
    def cells(self) -> List[str]:
        """Texts of the table body cells, in document order."""
        found = re.findall(r'<td[^>]*data-test="cell"[^>]*>(.*?)</td>', self.markup, flags=re.S)
        return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", c)).split()) for c in found]

    @property
    def headers(self) -> List[str]:
        """Texts of the table header cells."""
        found = re.findall(r'<th[^>]*data-test="head-cell"[^>]*>(.*?)</th>', self.markup, flags=re.S)
        return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", c)).split()) for c in found]

    def cell_style(self, text: str) -> str:
        """The style attribute of the first body cell whose text contains ``text``."""
        for match in re.finditer(r'<td([^>]*data-test="cell"[^>]*)>(.*?)</td>', self.markup, flags=re.S):
            if text in html.unescape(re.sub(r"<[^>]+>", " ", match.group(2))):
                style = re.search(r'style="([^"]*)"', match.group(1))
                return style.group(1) if style else ""
        raise KeyError(text)


def panels(dom: str) -> Dict[str, Panel]:
    """Every grid item of the page, by visualization id."""
    starts = [(m.start(), m.group(1)) for m in _GRID_ITEM.finditer(dom)]
    bounds = [s for s, _ in starts[1:]] + [len(dom)]
    return {viz_id: Panel(viz_id, dom[start:end]) for (start, viz_id), end in zip(starts, bounds)}


def preset_validation(dom: str) -> list:
    """The errors the page's preset-schema validation reported (see render/app.jsx)."""
    match = re.search(r'<pre id="preset-validation">(.*?)</pre>', dom, flags=re.S)
    if match is None:
        raise ValueError("the page has no preset-validation element: did the bundle load?")
    text = html.unescape(match.group(1))
    if text == "pending":
        raise ValueError("the page never ran its preset validation")
    return json.loads(text)
