"""The report of one sync run (:class:`SyncReport`) and its status event.

``SyncReport.to_event()`` is the status event the modular input writes (sourcetype
``malicious_image:sync``) and ``build.py sync`` writes to ``summary.json``; its fields are the
contract of docs/ARCHITECTURE.md ("The status event"). :mod:`malicious_image.sync.engine` fills it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List

from malicious_image.sync.drift import ContentHealth

__all__ = ["MAX_REJECTED_IN_EVENT", "SyncReport"]

MAX_REJECTED_IN_EVENT = 100


@dataclass
class SyncReport:
    """The result of one run; :meth:`to_event` is the status event (docs/ARCHITECTURE.md)."""

    repository: str
    ref: str
    outcome: str = "failed"
    commit: str = ""
    generation: str = ""
    counts: Dict[str, int] = field(default_factory=dict)
    rejected: List[Dict[str, str]] = field(default_factory=list)
    duplicate_ids: Dict[str, List[str]] = field(default_factory=dict)
    bytes_downloaded: int = 0
    bytes_unpacked: int = 0
    requests: int = 0
    files_read: int = 0
    files_parsed: int = 0
    cache_hits: int = 0
    durations: Dict[str, float] = field(default_factory=dict)
    message: str = ""
    error: str = ""
    health: ContentHealth = field(default_factory=ContentHealth)
    attack: Dict[str, Any] = field(
        default_factory=lambda: {"source": "security_content", "version": "", "fallback": False, "message": ""}
    )

    def to_event(self, max_rejected: int = MAX_REJECTED_IN_EVENT) -> Dict[str, Any]:
        """Return the status event as a JSON-ready dict.

        Arguments:
            max_rejected: at most this many rejected files are listed (``rejected_total`` has the
                full count), which keeps the event under Splunk's default line length.
        """
        return {
            "outcome": self.outcome,
            "repository": self.repository,
            "ref": self.ref,
            "commit": self.commit,
            "generation": self.generation,
            "counts": dict(self.counts),
            "rejected": self.rejected[:max_rejected],
            "rejected_total": len(self.rejected),
            "duplicate_detection_ids": dict(self.duplicate_ids),
            "bytes_downloaded": self.bytes_downloaded,
            "bytes_unpacked": self.bytes_unpacked,
            "requests": self.requests,
            "files_read": self.files_read,
            "files_parsed": self.files_parsed,
            "cache_hits": self.cache_hits,
            "durations": {k: round(v, 3) for k, v in self.durations.items()},
            "message": self.message,
            "error": self.error,
            "unmapped_detections": self.health.unmapped_event(),
            "unknown_keys": dict(self.health.unknown_keys),
            "attack": dict(self.attack),
        }
