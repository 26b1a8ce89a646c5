"""Content health of one sync: unmapped detections, unknown keys, and the format-drift guard.

A change of security_content's format can make the reader miss a field without rejecting a file
(ESCU 6 moved ``mitre_attack_id`` out of ``tags``: every detection still reads, but with no
ATT&CK id). Nothing would then say why the ATT&CK matrix emptied. This module makes such a loss
visible and, past a threshold, stops it:

* ``unmapped_detections``: detections that should cover a technique (type TTP, Anomaly, Hunting
  or Correlation, status production or experimental) but carry no ATT&CK id: their count and the
  first :data:`MAX_UNMAPPED_LISTED` as ``{path, id}``;
* ``unknown_keys``: for each top-level key the reader does not know, how many files carry it
  (the :data:`MAX_UNKNOWN_KEYS_LISTED` keys carried by the most files);
* the guard: when the share of those detections that have an ATT&CK id falls by more than
  :data:`MAX_DROP` (20 percentage points) compared with the tables the sync would replace, the
  run raises :class:`FormatDriftError` and the previous tables stay; ``accept_format_change``
  lets one run through.

The figures of the tables in place are kept in ``SyncState.coverage`` (:func:`coverage_state`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Sequence

LOG = logging.getLogger("malicious_image.sync")

COUNTED_TYPES = frozenset(("TTP", "Anomaly", "Hunting", "Correlation"))
COUNTED_STATUSES = frozenset(("production", "experimental"))
MAX_UNMAPPED_LISTED = 100
MAX_UNKNOWN_KEYS_LISTED = 50
"""The status event lists the keys carried by the most files, at most this many."""
MAX_DROP = 0.20
"""The largest fall of the mapped share (0..1) a sync may cause without ``accept_format_change``."""
LOGGED_PATHS = 10


class FormatDriftError(Exception):
    """The new tables would lose ATT&CK coverage on a scale that points at a format change."""


@dataclass
class ContentHealth:
    """What one sync measured of the content it read (see the module docstring)."""

    counted: int = 0
    mapped: int = 0
    unmapped_first: List[Dict[str, str]] = field(default_factory=list)
    unknown_keys: Dict[str, int] = field(default_factory=dict)

    @property
    def unmapped(self) -> int:
        """How many counted detections have no ATT&CK id."""
        return self.counted - self.mapped

    def unmapped_event(self) -> Dict[str, Any]:
        """The status event's ``unmapped_detections``: ``{"count", "first": [{path, id}]}``."""
        return {"count": self.unmapped, "first": [dict(item) for item in self.unmapped_first]}

    def to_state(self) -> Dict[str, Any]:
        """What ``SyncState.coverage`` keeps of the tables written."""
        return {"counted": self.counted, "mapped": self.mapped, "unmapped_first": self.unmapped_event()["first"],
                "unknown_keys": dict(self.unknown_keys)}

    @classmethod
    def from_state(cls, data: Mapping[str, Any] | None) -> ContentHealth | None:
        """Rebuild from ``to_state`` output; None when absent or malformed (an older state)."""
        if not isinstance(data, Mapping):
            return None
        counted, mapped = data.get("counted"), data.get("mapped")
        if not isinstance(counted, int) or not isinstance(mapped, int) or not 0 <= mapped <= counted:
            return None
        first = [dict(item) for item in data.get("unmapped_first") or () if isinstance(item, Mapping)]
        keys = data.get("unknown_keys")
        return cls(counted, mapped, first, dict(keys) if isinstance(keys, Mapping) else {})


def measure(
    detection_rows: Iterable[Mapping[str, Any]], unknown_keys_by_file: Iterable[Sequence[str]]
) -> ContentHealth:
    """Count the mapped and unmapped detections of the new tables, and the unknown keys.

    Arguments:
        detection_rows: rows of the ``detections`` table (sorted as the table is).
        unknown_keys_by_file: ``ReadResult.unknown_keys`` of every file read.
    """
    health = ContentHealth()
    for row in detection_rows:
        if row.get("type") not in COUNTED_TYPES or row.get("status") not in COUNTED_STATUSES:
            continue
        health.counted += 1
        if row.get("mitre_attack_id"):
            health.mapped += 1
        elif len(health.unmapped_first) < MAX_UNMAPPED_LISTED:
            health.unmapped_first.append({"path": str(row.get("source_path", "")), "id": str(row.get("id", ""))})
    counts: Dict[str, int] = {}
    for keys in unknown_keys_by_file:
        for key in keys:
            counts[key] = counts.get(key, 0) + 1
    most = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:MAX_UNKNOWN_KEYS_LISTED]
    health.unknown_keys = dict(sorted(most))
    return health


def check_drift(previous: ContentHealth | None, new: ContentHealth, *, accept_format_change: bool = False) -> None:
    """Refuse tables whose mapped share is more than :data:`MAX_DROP` below the previous one.

    Arguments:
        previous: the figures of the tables in place (None before the first sync, or from an
            app version that did not keep them: nothing to compare with, the run goes on).
        new: the figures of the tables this run would write.
        accept_format_change: let this run through whatever the drop (logged).

    Raises:
        FormatDriftError: the drop is larger than allowed; the message names the likely cause.
    """
    if previous is None or previous.counted == 0:
        return
    before = previous.mapped / previous.counted
    after = new.mapped / new.counted if new.counted else 0.0
    if before - after <= MAX_DROP:
        return
    paths = [item["path"] for item in new.unmapped_first[:LOGGED_PATHS]]
    if accept_format_change:
        LOG.warning(
            "action=format_change_accepted mapped_before=%d/%d mapped_now=%d/%d first_unmapped=%r",
            previous.mapped, previous.counted, new.mapped, new.counted, paths,
        )  # fmt: skip
        return
    LOG.error(
        "action=format_drift mapped_before=%d/%d mapped_now=%d/%d first_unmapped=%r",
        previous.mapped, previous.counted, new.mapped, new.counted, paths,
    )  # fmt: skip
    keys = ", ".join(f"{key} ({count} files)" for key, count in list(new.unknown_keys.items())[:5])
    parts = [
        f"the content format changed: {new.unmapped:,} of {new.counted:,} detections have no ATT&CK id",
        f" (in the tables in place: {previous.unmapped:,} of {previous.counted:,}); previous tables kept",
        f"; top-level keys the reader does not know: {keys}" if keys else "",
        "; update the app, or set accept_format_change to take these tables once",
    ]
    raise FormatDriftError("".join(parts))
