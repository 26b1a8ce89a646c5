"""What the splunkd emulator does as a Splunk *platform* (beside REST): TLS and SPLUNK_HOME,
search head clustering, KV store start-up, and index-time truncation.

Each behaviour follows a Splunk document (addresses for checking; Splunk Enterprise 9.x/10.x):

- **TLS, default install** (Admin Manual / Securing Splunk Enterprise, "About securing Splunk
  Enterprise with SSL", https://docs.splunk.com/Documentation/Splunk/latest/Security/AboutsecuringyourSplunkconfigurationwithSSL;
  server.conf.spec ``[sslConfig]``, https://docs.splunk.com/Documentation/Splunk/latest/Admin/Serverconf):
  splunkd serves HTTPS only on its management port; ``serverCert`` defaults to
  ``$SPLUNK_HOME/etc/auth/server.pem``, a certificate issued to ``SplunkServerDefaultCert`` and
  signed by ``$SPLUNK_HOME/etc/auth/cacert.pem``. Here: CN only, no subject alternative name (the
  project's working assumption, REFERENCE.md section 8: not checked on a live install).
- **TLS, hardened** ("Configure Splunk indexing and forwarding to use TLS certificates" / "Configure
  TLS certificates for inter-Splunk communication",
  https://help.splunk.com/splunk-enterprise/administer/manage-users-and-security/10.0/secure-splunk-platform-communications-with-transport-layer-security-certificates/configure-tls-certificates-for-inter-splunk-communication):
  the site's own CA and server certificate, named in ``$SPLUNK_HOME/etc/system/local/server.conf``
  ``[sslConfig] serverCert`` and ``sslRootCAPath``; the old ``cacert.pem`` stays on disk and no
  longer signs splunkd's certificate.
- **Search head clustering** (REST API Reference, "Cluster endpoint descriptions",
  https://docs.splunk.com/Documentation/Splunk/latest/RESTREF/RESTcluster, and "Introspection
  endpoint descriptions" for ``server/info``): ``server/info`` ``server_roles`` lists
  ``shc_member`` on every member and ``shc_captain`` on the captain; ``shcluster/captain/info``
  answers 503 on a standalone search head and, on a member, while no captain is elected
  (Distributed Search manual, "Search head cluster captain election": during an election the
  cluster has no captain and no scheduled jobs run); ``shcluster/member/info`` gives the member's
  ``status`` (``Up``, ``Down``, ``Restarting``, ``ManualDetention`` ...).
- **KV store start-up** (REST API Reference, "KV store endpoint descriptions",
  ``kvstore/status``, https://docs.splunk.com/Documentation/Splunk/latest/RESTREF/RESTkvstore; Admin
  Manual, "Back up and restore KV store" / "KV store troubleshooting": ``current.status`` is
  ``starting`` until the KV store is ``ready``): data and config calls of ``storage/collections``
  answer **503** while it starts (message paraphrased: "KV Store is initializing. Please try again
  later.").
- **Index-time truncation** (props.conf.spec ``TRUNCATE``,
  https://docs.splunk.com/Documentation/Splunk/latest/Admin/Propsconf): an event longer than the
  sourcetype's ``TRUNCATE`` bytes (default 10000; 0 = never) is cut, rounded down so a multi-byte
  character is not split; ``receivers/simple`` (REST API Reference, "Input endpoint descriptions")
  indexes the body as one event under the props of its sourcetype.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_TRUNCATE = 10000
TLS_VARIANTS = ("default", "hardened")
KVSTORE_STARTING_TEXT = "KV Store is initializing. Please try again later."
NO_CAPTAIN_TEXT = "Search head cluster captain is not available: a captain election is in progress"
STANDALONE_TEXT = "Search head clustering is not enabled on this node. REST endpoint is not available"


class HttpError(Exception):
    """An answer other than 2xx, with Splunk's ``messages`` body."""

    def __init__(self, status: int, text: str, kind: str = "ERROR") -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.kind = kind


# -- TLS and SPLUNK_HOME --------------------------------------------------------------------------
@dataclass(frozen=True)
class TlsFiles:
    """What a TLS variant put under SPLUNK_HOME and what the server serves."""

    variant: str
    chain: Path  # the certificate + key splunkd serves
    ca_file: Path  # the CA that signed it (cacert.pem, or the site CA of sslRootCAPath)
    cert_name: str  # the certificate's only name (CN, and DNS SAN for the hardened variant)


def install_tls(splunk_home: Path, variant: str) -> TlsFiles:
    """Lay out ``$SPLUNK_HOME/etc/auth`` (and server.conf for ``hardened``) like a real install."""
    from tests.support import certs

    if variant not in TLS_VARIANTS:
        raise ValueError(f"tls must be one of {TLS_VARIANTS} or a (cert, key) pair, not {variant!r}")
    auth = splunk_home / "etc" / "auth"
    auth.mkdir(parents=True, exist_ok=True)
    default = certs.splunk_default_pki()
    shutil.copyfile(default.ca.pem, auth / "cacert.pem")
    shutil.copyfile(default.server.chain, auth / "server.pem")
    if variant == "default":
        return TlsFiles(variant, auth / "server.pem", auth / "cacert.pem", default.server.name)
    site = certs.hardened_pki()
    mine = auth / "mycerts"
    mine.mkdir(exist_ok=True)
    shutil.copyfile(site.ca.pem, mine / "myCACertificate.pem")
    shutil.copyfile(site.server.chain, mine / "mySplunkServerCertificate.pem")
    local = splunk_home / "etc" / "system" / "local"
    local.mkdir(parents=True, exist_ok=True)
    (local / "server.conf").write_text(
        "[general]\nserverName = sh1\n\n[sslConfig]\n"
        "serverCert = $SPLUNK_HOME/etc/auth/mycerts/mySplunkServerCertificate.pem\n"
        "sslRootCAPath = $SPLUNK_HOME/etc/auth/mycerts/myCACertificate.pem\n",
        encoding="utf-8",
    )
    return TlsFiles(variant, mine / "mySplunkServerCertificate.pem", mine / "myCACertificate.pem", site.server.name)


# -- search head clustering ------------------------------------------------------------------------
@dataclass
class ShCluster:
    """One search head cluster, shared by the emulators of its members.

    ``captain`` names the elected captain's ``serverName``; ``election = True`` means no captain is
    elected (every member answers 503 on ``shcluster/captain/info``); ``status`` maps a member's
    name to its ``shcluster/member/info`` status (``Up`` unless set).
    """

    captain: str
    election: bool = False
    status: dict[str, str] = field(default_factory=dict)

    def elect(self, captain: str) -> None:
        """End an election with ``captain`` as the new captain."""
        self.captain, self.election = captain, False


def server_roles(server_name: str, cluster: ShCluster | None) -> list[str]:
    """``server/info`` ``server_roles`` of a search head (standalone or cluster member)."""
    if cluster is None:
        return ["indexer", "license_manager", "kv_store", "search_head"]
    roles = ["search_head", "kv_store", "shc_member"]
    if not cluster.election and cluster.captain == server_name:
        roles.append("shc_captain")
    return roles


def captain_info(server_name: str, cluster: ShCluster | None) -> dict[str, Any]:
    """The content of ``shcluster/captain/info``; HttpError 503 on a standalone or mid-election."""
    if cluster is None:
        raise HttpError(503, STANDALONE_TEXT)
    if cluster.election:
        raise HttpError(503, NO_CAPTAIN_TEXT)
    return {
        "id": "6C7E8D4E-0B1B-4F0B-9E0A-2A61E3F7C001",
        "label": cluster.captain,
        "peer_scheme_host_port": f"https://{cluster.captain}:8089",
        "elected_captain": 1764126000,
        "initialized_flag": True,
        "maintenance_mode": False,
        "min_peers_joined_flag": True,
        "rolling_restart_flag": False,
        "service_ready_flag": True,
        "start_time": 1764120000,
    }


def member_info(server_name: str, cluster: ShCluster | None) -> dict[str, Any]:
    """The content of ``shcluster/member/info``; HttpError 503 on a standalone search head."""
    if cluster is None:
        raise HttpError(503, STANDALONE_TEXT)
    return {
        "label": server_name,
        "mgmt_uri": f"https://{server_name}:8089",
        "status": cluster.status.get(server_name, "Up"),
        "is_registered": True,
        "active_historical_search_count": 0,
        "active_realtime_search_count": 0,
    }


# -- KV store start-up -----------------------------------------------------------------------------
@dataclass
class KVStoreClock:
    """The KV store reports ``starting`` for ``starting_for`` seconds after ``start()``, then ``ready``;
    ``status`` set by a test overrides the clock."""

    starting_for: float = 0.0
    started_at: float = 0.0
    status: str | None = None

    def start(self) -> None:
        self.started_at = time.monotonic()

    def current(self) -> str:
        if self.status is not None:
            return self.status
        return "starting" if time.monotonic() - self.started_at < self.starting_for else "ready"

    def gate(self) -> None:
        """Refuse a ``storage/collections`` call unless the KV store is ready (HttpError 503)."""
        if self.current() != "ready":
            raise HttpError(503, KVSTORE_STARTING_TEXT)

    def content(self) -> dict[str, Any]:
        status = self.current()
        return {
            "current": {
                "status": status,
                "backupRestoreStatus": "Ready",
                "replicationStatus": "KV store captain" if status == "ready" else "Startup",
                "storageEngine": "wiredTiger",
            },
            "members": {},
        }


# -- index-time truncation ---------------------------------------------------------------------------
def truncate_limit(props: dict[str, dict[str, str]], sourcetype: str) -> int:
    """TRUNCATE of ``sourcetype`` from the app's props.conf ([sourcetype], then [default]), else 10000."""
    for stanza in (sourcetype, "default"):
        value = props.get(stanza, {}).get("TRUNCATE")
        if value is not None:
            return int(value)
    return DEFAULT_TRUNCATE


def truncate(raw: bytes, limit: int) -> bytes:
    """Cut ``raw`` to at most ``limit`` bytes, never inside a UTF-8 character (0 = no limit)."""
    if limit <= 0 or len(raw) <= limit:
        return raw
    end = limit
    while end > 0 and (raw[end] & 0xC0) == 0x80:  # a continuation byte: back to the character start
        end -= 1
    return raw[:end]
