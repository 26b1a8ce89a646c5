"""Coverage states and the roll-up of detections onto ATT&CK techniques.

A technique's state is the best one any of its detections reaches (the dashboard's matrix uses
the same order and the same matching rules in SPL):

    FIRED (3)      an enabled-or-not rule mapped to it wrote risk or notable events recently
    ENABLED (2)    a scheduled, enabled saved search in any app carries its ATT&CK annotation
    AVAILABLE (1)  a detection in the synced security_content maps to it, but none is enabled
    NONE (0)       no detection at all

Sub-techniques roll up: a detection annotated T1204.003 counts for T1204. A saved search is
matched to synced content by the ``detection_id`` of ``action.correlationsearch.metadata``, else
by its name with the ``ESCU - `` / ``Malicious Image - `` prefix and `` - Rule`` suffix removed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Dict, Iterable, List, Mapping, Sequence, Set, Tuple

TECHNIQUE_ID = re.compile(r"T\d{4}(?:\.\d{3})?")
_RULE_AFFIXES = re.compile(r"^(?:ESCU|Malicious Image) - | - Rule$")


class CoverageState(IntEnum):
    """The coverage state of a technique; a higher value is better coverage."""

    NONE = 0
    AVAILABLE = 1
    ENABLED = 2
    FIRED = 3

    @property
    def label(self) -> str:
        """The words the dashboard and the layer use for this state."""
        return _LABELS[self]


_LABELS = {
    CoverageState.NONE: "no detection",
    CoverageState.AVAILABLE: "available, not enabled",
    CoverageState.ENABLED: "enabled",
    CoverageState.FIRED: "fired (7 d)",
}


@dataclass(frozen=True)
class Technique:
    """An ATT&CK technique of the synced catalogue: a parent (the dashboard's roll-up) or, for the
    layer, any technique or sub-technique. ``shortnames`` are the tactics' Navigator names;
    ``retired`` marks a revoked or deprecated one."""

    technique_id: str
    name: str
    tactics: Tuple[str, ...]
    shortnames: Tuple[str, ...] = ()
    retired: bool = False


@dataclass(frozen=True)
class Detection:
    """A detection of the synced security_content (one row of the ``detections`` lookup)."""

    detection_id: str
    name: str
    status: str
    platform: str
    technique_ids: Tuple[str, ...]
    stories: Tuple[str, ...] = ()
    type: str = ""

    @property
    def retired(self) -> bool:
        """Deprecated, removed or hunting content: not counted as available unless asked for."""
        return self.status in RETIRED_STATUSES or self.type == "Hunting"


RETIRED_STATUSES = ("deprecated", "removed")


@dataclass(frozen=True)
class SiteSearch:
    """A saved search of the site that carries ATT&CK annotations."""

    title: str
    app: str
    enabled: bool
    technique_ids: Tuple[str, ...]
    detection_id: str = ""


@dataclass(frozen=True)
class Filters:
    """The dashboard's filters; None means any value."""

    platform: str | None = None
    status: str | None = None
    story: str | None = None
    include_retired: bool = False

    def accepts(self, detection: Detection | None, enabled: bool = False) -> bool:
        """Whether a detection passes; a site search without synced content passes only unfiltered.
        Retired content (deprecated, removed, hunting) passes only when included or enabled."""
        if detection is None:
            return self.platform is None and self.status is None and self.story is None
        if detection.retired and not (self.include_retired or enabled):
            return False
        return (
            (self.platform is None or detection.platform == self.platform)
            and (self.status is None or detection.status == self.status)
            and (self.story is None or self.story in detection.stories)
        )


@dataclass
class TechniqueCoverage:
    """The coverage of one technique: its state and the detections behind it."""

    technique: Technique
    available: List[str] = field(default_factory=list)
    enabled: List[str] = field(default_factory=list)
    fired: List[str] = field(default_factory=list)

    @property
    def state(self) -> CoverageState:
        """The best state any detection of this technique reaches."""
        if self.fired:
            return CoverageState.FIRED
        if self.enabled:
            return CoverageState.ENABLED
        if self.available:
            return CoverageState.AVAILABLE
        return CoverageState.NONE


def parent_id(technique_id: str) -> str:
    """``T1204.003`` -> ``T1204``; a parent id is returned unchanged."""
    return technique_id.split(".", 1)[0]


def technique_ids_in(text: str) -> Tuple[str, ...]:
    """Every ATT&CK technique id in a text (an annotation JSON, a multivalue cell), in order, once."""
    return tuple(dict.fromkeys(TECHNIQUE_ID.findall(text or "")))


def detection_name(search_title: str) -> str:
    """The security_content name of a rendered rule: ``ESCU - X - Rule`` -> ``X``."""
    return _RULE_AFFIXES.sub("", search_title)


def compute_coverage(
    techniques: Sequence[Technique],
    detections: Iterable[Detection],
    site_searches: Iterable[SiteSearch],
    fired_searches: Iterable[str] = (),
    filters: Filters = Filters(),
    *,
    roll_up: bool = True,
) -> List[TechniqueCoverage]:
    """Roll detections, enabled saved searches and fired rules up onto the parent techniques
    (``roll_up``, the dashboard's matrix), or map each onto exactly the ids it names (the layer:
    every technique and sub-technique its own state).

    Arguments:
        techniques: the parent techniques of the synced catalogue, in display order.
        detections: the synced security_content detections.
        site_searches: saved searches of the site with ATT&CK annotations (enabled or not).
        fired_searches: names of saved searches that wrote risk or notable events recently.
        filters: platform / status / story filters (applied to synced content attributes).
        roll_up: count a sub-technique's detections for its parent (True) or for itself only.

    Returns:
        One :class:`TechniqueCoverage` per technique, in the order given. Annotations naming a
        technique absent from the catalogue are ignored, as the dashboard's matrix ignores them.
    """
    by_id: Dict[str, TechniqueCoverage] = {t.technique_id: TechniqueCoverage(t) for t in techniques}
    content = list(detections)
    content_by_id = {d.detection_id: d for d in content if d.detection_id}
    content_by_name = {d.name: d for d in content}
    fired_names: Set[str] = {detection_name(name) for name in fired_searches}

    def add(kind: str, label: str, ids: Iterable[str]) -> None:
        for parent in dict.fromkeys(parent_id(t) if roll_up else t for t in ids):
            coverage = by_id.get(parent)
            if coverage is not None and label not in getattr(coverage, kind):
                getattr(coverage, kind).append(label)

    for detection in content:
        if filters.accepts(detection):
            add("available", detection.name, detection.technique_ids)
            if detection.name in fired_names:
                add("fired", detection.name, detection.technique_ids)
    for search in site_searches:
        matched = content_by_id.get(search.detection_id) or content_by_name.get(detection_name(search.title))
        if not filters.accepts(matched, enabled=search.enabled):
            continue
        ids = search.technique_ids + (matched.technique_ids if matched else ())
        if search.enabled:
            add("enabled", search.title, ids)
        if detection_name(search.title) in fired_names:
            add("fired", detection_name(search.title), ids)
    return [by_id[t.technique_id] for t in techniques]


def summary(coverages: Sequence[TechniqueCoverage]) -> Mapping[str, int]:
    """Headline figures: techniques covered by enabled detections, by available content, fired, total."""
    states = [c.state for c in coverages]
    return {
        "enabled": sum(s >= CoverageState.ENABLED for s in states),
        "available": sum(s >= CoverageState.AVAILABLE for s in states),
        "fired": sum(s == CoverageState.FIRED for s in states),
        "total": len(states),
    }
