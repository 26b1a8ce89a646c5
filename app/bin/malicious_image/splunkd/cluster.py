"""Where this search head stands: standalone or search head cluster member, captain or not, KV
store ready or not; and whether it may sync now.

Splunk's facts this module relies on (addresses in docs/modinput.md, "Emulator behaviour"):

- Membership comes from ``GET /services/server/info``: ``server_roles`` contains ``shc_member``
  on every cluster member (solnlib's ``server_info.is_shc_member`` reads the same). It does NOT
  come from ``shcluster/captain/info``: that answers 503 on a standalone search head, but also on a
  member while no captain is elected (rolling restart, captain election), so a member that took
  503 for "standalone" would sync beside the others.
- In a cluster only the captain syncs: the KV store and the lookup definitions replicate to every
  member, and two writers would fight over the A/B switch. The captain is the one member the
  cluster guarantees unique at a time; ``run_only_one`` in inputs.conf is documented as "currently
  not supported" for this. The captain is ``shcluster/captain/info`` ``label`` = this member's
  ``serverName``.
- A member syncs only when its own status (``shcluster/member/info``) is ``Up``.
- Right after a restart modular inputs start before the KV store is ready; ``kvstore/status``
  says ``current.status = starting`` and KV store calls fail (503) until it says ``ready``.

Outcomes: a member that is not the captain raises :class:`RunSkipped` (``retry=False``: the
captain does the work). "Not now" (no captain elected, member not ``Up``, KV store not ready within
the wait) raises :class:`RunSkipped` with ``retry=True``: the input tries again sooner than its
interval (see ``modinput.run_with_retries``). Captaincy is checked again just before the lookups
are switched (:class:`CaptainGuard`, handed to the KV store writer as ``before_switch``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List

from malicious_image.sync.engine import SyncInterrupted

KVSTORE_WAIT_SECONDS = 300.0  # how long a run waits for the KV store at start-up
KVSTORE_POLL_SECONDS = 2.0


class RunSkipped(Exception):
    """This run must not sync; ``retry`` is True when trying again soon may succeed."""

    def __init__(self, message: str, *, retry: bool = False) -> None:
        super().__init__(message)
        self.retry = retry


class CaptaincyLost(RunSkipped, SyncInterrupted):
    """The captain changed while this run wrote the standby collections: nothing was switched, and
    the sync engine saves no state (the new captain's is the one that counts)."""


@dataclass(frozen=True)
class Placement:
    """What ``server/info`` says about this search head."""

    server_name: str
    roles: List[str]

    @property
    def is_cluster_member(self) -> bool:
        return "shc_member" in self.roles


def _content(answer: Any, what: str, client: Any = None) -> Dict[str, Any]:
    try:
        content = answer.json()["entry"][0]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        content = None
    if not isinstance(content, dict):
        raise _error(client)(f"{what} answered without the expected entry; is server_uri a splunkd?")
    return content


def _error(client: Any) -> type:
    """The error class the client's calls raise (``client.error``), else ``KVStoreError``."""
    error = getattr(client, "error", None)
    if isinstance(error, type) and issubclass(error, Exception):
        return error
    from malicious_image.splunkd.kvstore import KVStoreError

    return KVStoreError


def placement(client: Any) -> Placement:
    """``serverName`` and ``server_roles`` from ``GET /services/server/info``."""
    answer = client.call("GET", client.global_url("server/info"), params={"output_mode": "json"})
    content = _content(answer, "server/info", client)
    roles = content.get("server_roles") or []
    if isinstance(roles, str):
        roles = [roles]
    return Placement(str(content.get("serverName") or ""), [str(r) for r in roles])


def captain_label(client: Any) -> str | None:
    """The elected captain's ``label``, or None while no captain is elected (503)."""
    answer = client.call(
        "GET", client.global_url("shcluster/captain/info"), params={"output_mode": "json"}, ok=(200, 503)
    )
    if answer.status_code == 503:
        return None
    return str(_content(answer, "shcluster/captain/info", client).get("label") or "")


def member_status(client: Any) -> str:
    """This member's ``status`` from ``shcluster/member/info`` ("" when splunkd does not say)."""
    answer = client.call(
        "GET", client.global_url("shcluster/member/info"), params={"output_mode": "json"}, ok=(200, 503)
    )
    if answer.status_code == 503:
        return ""
    return str(_content(answer, "shcluster/member/info", client).get("status") or "")


def search_head_role(client: Any) -> str:
    """``standalone`` or ``captain``; raises :class:`RunSkipped` when this search head must not sync.

    Raises:
        RunSkipped: ``retry=False`` on a member that is not the captain; ``retry=True`` while no
            captain is elected or while this member is not ``Up``.
    """
    here = placement(client)
    if not here.is_cluster_member:
        return "standalone"
    status = member_status(client)
    if status != "Up":
        raise RunSkipped(
            f"this search head cluster member ({here.server_name}) is not ready (member status "
            f"{status or 'unknown'!r}, not 'Up'); the run is retried soon",
            retry=True,
        )
    label = captain_label(client)
    if label is None:
        raise RunSkipped(
            f"this search head ({here.server_name}) is a search head cluster member and no captain is "
            "elected now (captain election or rolling restart); the run is retried soon",
            retry=True,
        )
    if label != here.server_name:
        raise RunSkipped(
            f"this search head ({here.server_name}) is a search head cluster member and not the captain "
            f"({label}); the captain runs the sync and the lookups replicate here"
        )
    return "captain"


class CaptainGuard:
    """Called by the KV store writer just before it switches the lookups (``before_switch``).

    Raises :class:`CaptaincyLost` (and remembers it in ``lost``) when this search head is no longer
    the captain: the new captain syncs, and a switch from here could fight with its own.
    """

    def __init__(self, client: Any, server_name: str) -> None:
        self.client = client
        self.server_name = server_name
        self.lost: CaptaincyLost | None = None

    def __call__(self) -> None:
        label = captain_label(self.client)
        if label == self.server_name:
            return
        now = f"the captain is now {label}" if label else "no captain is elected now"
        self.lost = CaptaincyLost(
            f"this search head ({self.server_name}) stopped being the search head cluster captain "
            f"during the sync ({now}); no lookup was switched, the captain syncs",
            retry=label is None,
        )
        raise self.lost


def kvstore_status(client: Any) -> str:
    """``current.status`` of ``GET /services/kvstore/status`` ("unknown" when splunkd cannot say)."""
    answer = client.call(
        "GET", client.global_url("kvstore/status"), params={"output_mode": "json"}, ok=(200, 503), retry=False
    )
    if answer.status_code != 200:
        return "unknown"
    current = _content(answer, "kvstore/status", client).get("current") or {}
    return str(current.get("status") or "unknown") if isinstance(current, dict) else "unknown"


def wait_for_kvstore(
    client: Any,
    *,
    timeout: float = KVSTORE_WAIT_SECONDS,
    poll: float = KVSTORE_POLL_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Wait until the KV store says ``ready``; return the seconds waited.

    Raises:
        RunSkipped: (``retry=True``) it is not ready after ``timeout`` seconds.
    """
    started = clock()
    while True:
        status = kvstore_status(client)
        waited = clock() - started
        if status == "ready":
            return round(waited, 3)
        if waited >= timeout:
            raise RunSkipped(
                f"the KV store is not ready after {timeout:.0f} s (kvstore/status: {status}); "
                "the run is retried soon. If this lasts, check index=_internal sourcetype=mongod "
                "and Settings > Server settings > KV store",
                retry=True,
            )
        sleep(max(0.0, min(poll, timeout - waited)))
