"""The ATT&CK Navigator layer (layer format 4.5) of a coverage: pure, shared by the app's layer
download (``layer_handler.py``) and ``build.py coverage`` (``devtools/coverage/layer.py``).

Format: mitre-attack/attack-navigator ``layers/spec/v4.5/layerformat.md`` (REFERENCE.md section 6).
One technique object per technique AND per sub-technique, each scored by the detections mapped
to it exactly (``score`` = the coverage state: 0 none, 1 available, 2 enabled, 3 fired), with
``tactic`` (the tactic's shortname) and one object per tactic where a technique sits under
several tactics; a parent with sub-techniques has ``showSubtechniques: true``.
``versions.attack`` names the catalogue's ATT&CK release (left out when the catalogue is the
content's CSV, which has none: Navigator then assumes its own). ``metadata`` holds the number
of detections and at most :data:`MAX_NAMES` of their names, by kind. Revoked and deprecated
techniques get no entry (Navigator does not draw them); detections on a revoked one were
resolved to its successor by the sync (``attack_technique_id``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Sequence, Tuple

__all__ = [
    "LAYER_FORMAT",
    "MAX_NAMES",
    "Evidence",
    "LayerTechnique",
    "build_navigator_layer",
    "layer_from_tables",
]

LAYER_FORMAT = "4.5"
NAVIGATOR_VERSION = "5.1.0"
MAX_NAMES = 10
LABELS = ("no detection", "available, not enabled", "enabled", "fired (7 d)")
# Gradient stops at scores 0..3: the dashboard's cell colours (no detection light grey on white).
COLORS = ("#e8e8e8", "#8fb3d9", "#1e8a4c", "#d9822b")
_TECHNIQUE_ID = re.compile(r"T\d{4}(?:\.\d{3})?")


@dataclass(frozen=True)
class LayerTechnique:
    """A technique or sub-technique of the catalogue, with its tactics' shortnames in matrix order."""

    technique_id: str
    name: str
    tactics: Tuple[str, ...]
    retired: bool = False  # revoked or deprecated: no entry


@dataclass
class Evidence:
    """The detections behind one technique's state, by kind (names, in order, without repeats)."""

    available: List[str] = field(default_factory=list)
    enabled: List[str] = field(default_factory=list)
    fired: List[str] = field(default_factory=list)

    @property
    def state(self) -> int:
        """3 fired, 2 enabled, 1 available, 0 none."""
        return 3 if self.fired else 2 if self.enabled else 1 if self.available else 0

    def add(self, kind: str, name: str) -> None:
        """Record ``name`` under ``kind`` once."""
        names = getattr(self, kind)
        if name not in names:
            names.append(name)


def _entry(technique: LayerTechnique, evidence: Evidence, tactic: str, has_subs: bool) -> Dict[str, Any]:
    state = evidence.state
    kinds = (("fired", evidence.fired), ("enabled", evidence.enabled), ("available", evidence.available))
    total = len(dict.fromkeys(n for _, names in kinds for n in names))
    metadata: List[Dict[str, Any]] = []
    shown = 0
    for kind, names in kinds:
        for name in names:
            if shown < MAX_NAMES:
                metadata.append({"name": kind, "value": name})
                shown += 1
    if total:
        listed = f" ({MAX_NAMES} listed)" if total > shown else ""
        metadata.insert(0, {"name": "detections", "value": f"{total}{listed}"})
    entry: Dict[str, Any] = {"techniqueID": technique.technique_id}
    if tactic:
        entry["tactic"] = tactic
    entry.update(
        score=state,
        comment=f"{LABELS[state]}: {len(evidence.enabled)} enabled, {len(evidence.available)} available"
        + (f", {len(evidence.fired)} fired" if evidence.fired else ""),
        enabled=True,
        showSubtechniques=has_subs,
    )
    if metadata:
        entry["metadata"] = metadata
    return entry


def build_navigator_layer(
    techniques: Sequence[LayerTechnique],
    evidence: Mapping[str, Evidence],
    *,
    attack_version: str = "",
    name: str = "malicious_image: ATT&CK coverage",
    metadata: Sequence[Tuple[str, str]] = (),
) -> Dict[str, Any]:
    """The layer as a JSON-ready dict.

    Arguments:
        techniques: every technique and sub-technique of the catalogue.
        evidence: technique id -> the detections mapped to exactly that id.
        attack_version: the catalogue's ATT&CK release ('' = unknown, left out).
        name: the layer's name.
        metadata: (name, value) pairs for the layer's own metadata.

    Examples:
        >>> layer = build_navigator_layer([LayerTechnique("T1204.003", "Malicious Image", ("execution",))], {},
        ...                               attack_version="19.0")
        >>> layer["versions"]["attack"], layer["techniques"][0]["techniqueID"]
        ('19', 'T1204.003')
    """
    current = [t for t in techniques if not t.retired]
    parents = {t.technique_id.split(".")[0] for t in current if "." in t.technique_id}
    entries: List[Dict[str, Any]] = []
    counts = {"techniques": [0, 0], "subtechniques": [0, 0]}
    for technique in sorted(current, key=lambda t: t.technique_id):
        found = evidence.get(technique.technique_id) or Evidence()
        has_subs = technique.technique_id in parents
        tactics = technique.tactics if len(technique.tactics) > 1 else ("",)
        for tactic in tactics:
            entries.append(_entry(technique, found, tactic, has_subs))
        kind = "subtechniques" if "." in technique.technique_id else "techniques"
        counts[kind][0] += found.state >= 2
        counts[kind][1] += 1
    versions: Dict[str, str] = {"navigator": NAVIGATOR_VERSION, "layer": LAYER_FORMAT}
    if attack_version:
        versions = {"attack": attack_version.split(".")[0], **versions}
    layer_metadata = [{"name": "ATT&CK release", "value": attack_version or "unknown (the content's CSV)"}]
    layer_metadata += [
        {"name": f"{kind} covered by enabled detections", "value": f"{done} of {total}"}
        for kind, (done, total) in counts.items()
    ]
    layer_metadata += [{"name": k, "value": v} for k, v in metadata]
    return {
        "name": name,
        "versions": versions,
        "domain": "enterprise-attack",
        "description": "Coverage state per technique and sub-technique (each its own score): 3 = a rule fired "
        "recently, 2 = an enabled scheduled search covers it, 1 = synced content covers it but nothing is "
        "enabled, 0 = no detection.",
        "sorting": 3,
        "layout": {"layout": "side", "showID": True, "showName": True, "expandedSubtechniques": "annotated"},
        "hideDisabled": False,
        "techniques": entries,
        "gradient": {"colors": list(COLORS), "minValue": 0, "maxValue": 3},
        "legendItems": [{"label": LABELS[s], "color": COLORS[s]} for s in (3, 2, 1, 0)],
        "showTacticRowBackground": False,
        "selectTechniquesAcrossTactics": True,
        "selectSubtechniquesWithParent": False,
        "selectVisibleTechniques": False,
        "metadata": layer_metadata,
    }


def _values(cell: Any) -> List[str]:
    if cell is None:
        return []
    if isinstance(cell, list):
        return [str(v) for v in cell]
    return [v for v in str(cell).split("\n") if v]


def layer_from_tables(
    techniques: Iterable[Mapping[str, Any]],
    tactics: Iterable[Mapping[str, Any]],
    detections: Iterable[Mapping[str, Any]],
    *,
    enabled: Iterable[Tuple[str, Sequence[str]]] = (),
    fired: Iterable[Tuple[str, Sequence[str]]] = (),
    name: str = "malicious_image: ATT&CK coverage",
) -> Dict[str, Any]:
    """The layer from the synced lookups (KV store documents or CSV rows).

    Arguments:
        techniques, tactics, detections: rows of ``malicious_image_techniques``, ``_tactics``,
            ``_detections`` (multivalue fields as lists or newline-joined).
        enabled: (saved search title, technique ids) of enabled scheduled searches.
        fired: (saved search title, technique ids) of searches that fired recently.
        name: the layer's name.
    """
    shortnames = {}
    for row in tactics:
        tactic = str(row.get("tactic", ""))
        shortnames[tactic] = str(row.get("shortname") or "-".join(tactic.lower().split()))
    catalogue: List[LayerTechnique] = []
    releases = set()
    for row in techniques:
        tactic_names = _values(row.get("tactics"))
        retired = str(row.get("revoked", "0")) == "1" or str(row.get("deprecated", "0")) == "1"
        catalogue.append(
            LayerTechnique(
                str(row.get("technique_id", "")), str(row.get("technique_name", "")),
                tuple(shortnames.get(t, "-".join(t.lower().split())) for t in tactic_names), retired,
            )
        )  # fmt: skip
        if row.get("attack_version"):
            releases.add(str(row["attack_version"]))
    evidence: Dict[str, Evidence] = {}
    for row in detections:
        ids = _values(row.get("attack_technique_id")) or _values(row.get("mitre_attack_id"))
        for technique_id in dict.fromkeys(i.strip().upper() for i in ids if _TECHNIQUE_ID.fullmatch(i.strip().upper())):
            evidence.setdefault(technique_id, Evidence()).add("available", str(row.get("name", "")))
    for kind, searches in (("enabled", enabled), ("fired", fired)):
        for title, ids in searches:
            for technique_id in dict.fromkeys(ids):
                evidence.setdefault(technique_id, Evidence()).add(kind, title)
    release = sorted(releases)[-1] if len(releases) == 1 else ""
    return build_navigator_layer(catalogue, evidence, attack_version=release, name=name)


def layer_json(layer: Mapping[str, Any]) -> str:
    """The layer as the downloaded file's text."""
    return json.dumps(layer, indent=1) + "\n"
