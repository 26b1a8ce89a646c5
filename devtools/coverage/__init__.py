"""ATT&CK coverage of a site: which techniques its detections cover, and in what state.

The same rules as the ATT&CK coverage dashboard (app/default/data/ui/views/attack_coverage.xml),
computed offline from a ``build.py sync`` output directory and savedsearches.conf files, so that
``build.py coverage`` can write an ATT&CK Navigator layer without a Splunk:

* ``model``: techniques, site searches, coverage states and the per-technique roll-up.
* ``inputs``: read the sync output (lookup CSVs), savedsearches.conf files and fired-rule events.
* ``layer``: the ATT&CK Navigator layer (format 4.5) of a coverage.
"""

from __future__ import annotations

from .layer import LAYER_FORMAT, build_layer
from .model import CoverageState, SiteSearch, Technique, TechniqueCoverage, compute_coverage

__all__ = [
    "LAYER_FORMAT",
    "CoverageState",
    "SiteSearch",
    "Technique",
    "TechniqueCoverage",
    "build_layer",
    "compute_coverage",
]
