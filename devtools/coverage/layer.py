"""The ATT&CK Navigator layer (layer format 4.5) of a coverage, offline.

The layer itself is built by the app's ``malicious_image.navigator`` (the same code serves the
layer download of a running Splunk); this module turns :class:`TechniqueCoverage` objects into
its input. ``build.py coverage`` passes one coverage per technique and sub-technique computed
with ``compute_coverage(..., roll_up=False)``: each its own score.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Sequence

from malicious_image.navigator import LAYER_FORMAT, Evidence, LayerTechnique, build_navigator_layer

from .model import TechniqueCoverage

__all__ = ["LAYER_FORMAT", "build_layer"]


def build_layer(
    coverages: Sequence[TechniqueCoverage],
    *,
    name: str = "malicious_image: ATT&CK coverage",
    sync_summary: Mapping[str, object] | None = None,
    attack_version: str = "",
) -> Dict[str, Any]:
    """The layer for a coverage, as a JSON-ready dict.

    Arguments:
        coverages: from :func:`devtools.coverage.model.compute_coverage`.
        name: the layer's name.
        sync_summary: the sync's status event (summary.json); its commit goes into the metadata.
        attack_version: the catalogue's ATT&CK release ('' = unknown).

    Examples:
        >>> build_layer([])["versions"]["layer"]
        '4.5'
    """
    techniques = [
        LayerTechnique(c.technique.technique_id, c.technique.name, c.technique.shortnames or
                       tuple("-".join(t.lower().split()) for t in c.technique.tactics), c.technique.retired)
        for c in coverages
    ]  # fmt: skip
    evidence = {
        c.technique.technique_id: Evidence(list(c.available), list(c.enabled), list(c.fired)) for c in coverages
    }
    metadata = []
    if sync_summary and sync_summary.get("commit"):
        metadata.append(("security_content commit", str(sync_summary["commit"])))
    return build_navigator_layer(techniques, evidence, attack_version=attack_version, name=name, metadata=metadata)
