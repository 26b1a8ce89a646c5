"""Visibility: does the data a detection needs arrive on this site? A dimension apart from detection.

DeTT&CT scores visibility apart from detection, and Splunk Security Essentials' data inventory
says "needs data"; this module does the same for the synced security_content (the dashboard's
SPL applies the same rules, and tests/dashboard compares the two):

* a detection names its data sources (``data_source`` of the detections lookup); the
  ``data_sources`` lookup gives each one's sourcetype and, for a per-event CloudTrail source
  ("AWS CloudTrail PutImage"), its ``eventName``;
* the data inventory (lookup ``malicious_image_data_inventory``, kept daily by the baseline
  search ``Malicious Image - Data Inventory - Update``) lists the sourcetypes seen in 7 days and
  the CloudTrail event names seen;
* a data source is *seen* when its sourcetype is in the inventory (compared case-insensitively,
  as Splunk's search matches ``sourcetype=`` values) and, if it names a CloudTrail event, that
  event is too; a detection's data is seen when ANY of its data sources is (security_content
  lists alternatives: Sysmon EventID 1 or Windows Security 4688 or an EDR feed). A name that the
  data_sources lookup does not know, or a detection naming none, is not seen: the state says
  the data cannot be shown to arrive, and the ``missing`` list says why. A value such as
  "Sysmon EventID 1 AND Sysmon EventID 11" needs every part. A Correlation naming no data source
  reads risk events: its data is seen when risk events are (sourcetype ``stash`` with ES,
  ``malicious_image:risk`` from the app's standalone alert action).

The four states: ``fed`` (enabled, data seen), ``blind`` (enabled, data not seen), ``ready``
(not enabled, data seen: could be turned on today), ``needs data`` (neither).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Dict, Iterable, List, Mapping, Sequence, Tuple

CLOUDTRAIL = "aws:cloudtrail"
NO_DATA_SOURCE = "(no data source named)"
RISK_EVENTS = "(risk events)"
RISK_SOURCETYPES = ("stash", "malicious_image:risk")  # ES's risk events; the app's standalone action's


class Visibility(str, Enum):
    """The visibility state of one detection."""

    FED = "fed"
    BLIND = "blind"
    READY = "ready"
    NEEDS_DATA = "needs data"


@dataclass(frozen=True)
class DataSourceInfo:
    """One row of the ``data_sources`` lookup, as far as visibility needs it."""

    name: str
    sourcetype: str
    event_name: str = ""

    @property
    def requirement(self) -> str:
        """What must arrive, as the dashboard shows it: ``aws:cloudtrail PutImage`` or a sourcetype."""
        return f"{self.sourcetype} {self.event_name}".strip()


@dataclass(frozen=True)
class Inventory:
    """What arrived in the last 7 days: sourcetypes and CloudTrail event names."""

    sourcetypes: frozenset
    cloudtrail_events: frozenset

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, object]]) -> Inventory:
        """From the rows of ``malicious_image_data_inventory`` (sourcetype, event_name, lastTime)."""
        sourcetypes, events = set(), set()
        for row in rows:
            sourcetype = str(row.get("sourcetype") or "").casefold()
            event = str(row.get("event_name") or "")
            if event:
                if sourcetype == CLOUDTRAIL:
                    events.add(event.casefold())
            elif sourcetype:
                sourcetypes.add(sourcetype)
        return cls(frozenset(sourcetypes), frozenset(events))

    def sees(self, source: DataSourceInfo) -> bool:
        """Whether this data source's data arrived."""
        if source.sourcetype.casefold() not in self.sourcetypes:
            return False
        return not source.event_name or source.event_name.casefold() in self.cloudtrail_events


@dataclass(frozen=True)
class DataVerdict:
    """Whether a detection's data arrives, and which requirements are unmet when it does not."""

    seen: bool
    missing: Tuple[str, ...]


def data_verdict(
    data_source_names: Sequence[str],
    sources: Mapping[str, DataSourceInfo],
    inventory: Inventory,
    detection_type: str = "",
) -> DataVerdict:
    """Judge one detection's data sources against the inventory (see the module docstring)."""
    names = list(data_source_names) or [RISK_EVENTS if detection_type == "Correlation" else NO_DATA_SOURCE]
    missing: Dict[str, None] = {}
    for name in names:
        unmet = [need for part in name.split(" AND ") for need in _unmet(part, sources, inventory)]
        if not unmet:
            return DataVerdict(True, ())
        missing.update(dict.fromkeys(unmet))
    return DataVerdict(False, tuple(missing))


def _unmet(part: str, sources: Mapping[str, DataSourceInfo], inventory: Inventory) -> List[str]:
    if part == NO_DATA_SOURCE:
        return [part]
    if part == RISK_EVENTS:
        seen = any(t in inventory.sourcetypes for t in RISK_SOURCETYPES)
        return [] if seen else [" or ".join(RISK_SOURCETYPES)]
    source = sources.get(part)
    if source is None:
        return [f"{part} (unknown data source)"]
    return [] if inventory.sees(source) else [source.requirement]


def visibility(enabled: bool, seen: bool) -> Visibility:
    """The state from the two facts."""
    if enabled:
        return Visibility.FED if seen else Visibility.BLIND
    return Visibility.READY if seen else Visibility.NEEDS_DATA


@dataclass(frozen=True)
class DetectionVisibility:
    """One detection (or enabled saved search) with its dimensions."""

    name: str
    technique_ids: Tuple[str, ...]
    enabled: bool
    fired: bool
    verdict: DataVerdict

    @property
    def state(self) -> Visibility:
        """fed, blind, ready or needs data."""
        return visibility(self.enabled, self.verdict.seen)


@dataclass(frozen=True)
class ReadyToEnable:
    """A detection whose data is here and that is not enabled, with the techniques it would add."""

    name: str
    adds: Tuple[str, ...]


def ready_to_enable(detections: Sequence[DetectionVisibility]) -> List[ReadyToEnable]:
    """The "ready to enable" list: every ``ready`` detection mapped to ATT&CK, with the technique
    ids (full ids, sub-techniques included) that no ``fed`` detection covers yet; most added
    first, then by name. A detection without an ATT&CK id adds nothing to the matrix and is left out."""
    fed = {t for d in detections if d.state is Visibility.FED for t in d.technique_ids}
    ready = [
        ReadyToEnable(d.name, tuple(sorted(t for t in set(d.technique_ids) if t not in fed)))
        for d in detections
        if d.state is Visibility.READY and d.technique_ids
    ]
    return sorted(ready, key=lambda r: (-len(r.adds), r.name))


def blind_rules(detections: Sequence[DetectionVisibility]) -> List[DetectionVisibility]:
    """The "blind rules" list: enabled detections whose data is not seen, by name."""
    return sorted((d for d in detections if d.state is Visibility.BLIND), key=lambda d: d.name)


def site_visibility(
    detection_rows: Iterable[Mapping[str, object]],
    data_source_rows: Iterable[Mapping[str, object]],
    inventory_rows: Iterable[Mapping[str, object]],
    enabled: Mapping[str, Sequence[str]],
    fired: Iterable[str],
) -> Dict[str, DetectionVisibility]:
    """Every detection name of the site with its visibility, as the dashboard's ``ds_detections``.

    Arguments:
        detection_rows: rows of the detections lookup (name, type, data_source, mitre_attack_id).
        data_source_rows: rows of the data_sources lookup.
        inventory_rows: rows of malicious_image_data_inventory.
        enabled: detection name (rule affixes removed) -> ATT&CK ids of its enabled saved searches.
        fired: detection names whose rules wrote risk or notable events in 7 days.
    """
    sources = {str(r["name"]): DataSourceInfo(str(r["name"]), str(r.get("sourcetype") or ""),
                                              str(r.get("event_name") or "")) for r in data_source_rows}
    inventory = Inventory.from_rows(inventory_rows)
    fired_set = set(fired)
    merged: Dict[str, Dict[str, object]] = {}
    for row in detection_rows:
        entry = merged.setdefault(str(row["name"]), {"ids": [], "ds": [], "type": ""})
        entry["ids"] += _list(row.get("mitre_attack_id"))
        entry["ds"] += _list(row.get("data_source"))
        entry["type"] = entry["type"] or str(row.get("type") or "")
    for name, ids in enabled.items():
        merged.setdefault(name, {"ids": [], "ds": [], "type": ""})["ids"] += list(ids)
    result = {}
    for name, entry in merged.items():
        result[name] = DetectionVisibility(
            name=name,
            technique_ids=tuple(dict.fromkeys(entry["ids"])),
            enabled=name in enabled,
            fired=name in fired_set,
            verdict=data_verdict(list(dict.fromkeys(entry["ds"])), sources, inventory, str(entry["type"])),
        )
    return result


def _list(value: object) -> List[str]:
    if value is None or value == "":
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]
