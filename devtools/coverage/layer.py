"""The ATT&CK Navigator layer (layer format 4.5) of a coverage.

Format: mitre-attack/attack-navigator, ``layers/spec/v4.5/layerformat.md``. One technique object
per parent technique of the synced catalogue (no ``tactic``: the annotation applies under every
tactic of the technique), ``score`` = the coverage state (0 none, 1 available, 2 enabled,
3 fired) on a four-colour gradient that matches the dashboard, ``comment`` = the state in words,
``metadata`` = the detections behind the state, by kind.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Sequence

from .model import CoverageState, TechniqueCoverage, summary

LAYER_FORMAT = "4.5"
NAVIGATOR_VERSION = "5.1.0"
# Gradient stops at scores 0, 1, 2, 3: the dashboard's cell colours (no detection is light grey
# here because Navigator draws on white).
STATE_COLORS = {
    CoverageState.NONE: "#e8e8e8",
    CoverageState.AVAILABLE: "#8fb3d9",
    CoverageState.ENABLED: "#1e8a4c",
    CoverageState.FIRED: "#d9822b",
}


def _technique(coverage: TechniqueCoverage) -> Dict[str, Any]:
    state = coverage.state
    metadata: List[Dict[str, Any]] = []
    for kind, names in (("fired", coverage.fired), ("enabled", coverage.enabled),
                        ("available", coverage.available)):
        if names and metadata:
            metadata.append({"divider": True})
        metadata.extend({"name": kind, "value": name} for name in names)
    entry: Dict[str, Any] = {
        "techniqueID": coverage.technique.technique_id,
        "score": int(state),
        "comment": f"{state.label}: {len(coverage.enabled)} enabled, {len(coverage.available)} available"
                   + (f", {len(coverage.fired)} fired" if coverage.fired else ""),
        "enabled": True,
        "showSubtechniques": False,
    }
    if metadata:
        entry["metadata"] = metadata
    return entry


def build_layer(
    coverages: Sequence[TechniqueCoverage],
    *,
    name: str = "malicious_image: ATT&CK coverage",
    sync_summary: Mapping[str, object] | None = None,
) -> Dict[str, Any]:
    """The layer for a coverage, as a JSON-ready dict.

    Arguments:
        coverages: from :func:`devtools.coverage.model.compute_coverage`.
        name: the layer's name.
        sync_summary: the sync's status event (summary.json); its commit goes into the metadata.

    Examples:
        >>> build_layer([])["versions"]["layer"]
        '4.5'
    """
    figures = summary(coverages)
    total = figures["total"]
    layer_metadata: List[Dict[str, Any]] = [
        {"name": "techniques covered by enabled detections", "value": f"{figures['enabled']} of {total}"},
        {"name": "techniques covered by available content", "value": f"{figures['available']} of {total}"},
        {"name": "techniques that fired recently", "value": str(figures["fired"])},
    ]
    if sync_summary and sync_summary.get("commit"):
        layer_metadata.append({"name": "security_content commit", "value": str(sync_summary["commit"])})
    return {
        "name": name,
        "versions": {"navigator": NAVIGATOR_VERSION, "layer": LAYER_FORMAT},
        "domain": "enterprise-attack",
        "description": "Coverage state per technique (sub-techniques rolled up): score 3 = a rule fired "
                       "recently, 2 = an enabled scheduled search covers it, 1 = synced content covers "
                       "it but nothing is enabled, 0 = no detection.",
        "sorting": 3,
        "layout": {"layout": "side", "showID": True, "showName": True, "expandedSubtechniques": "none"},
        "hideDisabled": False,
        "techniques": [_technique(c) for c in coverages],
        "gradient": {"colors": [STATE_COLORS[s] for s in CoverageState], "minValue": 0, "maxValue": 3},
        "legendItems": [{"label": s.label, "color": STATE_COLORS[s]} for s in reversed(CoverageState)],
        "showTacticRowBackground": False,
        "selectTechniquesAcrossTactics": True,
        "selectSubtechniquesWithParent": False,
        "selectVisibleTechniques": False,
        "metadata": layer_metadata,
    }
