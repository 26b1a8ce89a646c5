"""KV store table writer and state store over splunkd's REST API.

Atomicity: an A/B pair of collections per table, switched by the lookup definition
==================================================================================

The KV store has no multi-document transaction: a reader of a collection that is being rewritten
in batches of 1,000 sees a mix of old and new rows, or a half-empty table. Readers do not read
collections, though: they read lookup definitions (``| inputlookup malicious_image_detections``),
and a KV store lookup definition in transforms.conf names its collection in one setting,
``collection``. So every table ``<table>`` has two collections, ``malicious_image_<table>_a`` and
``malicious_image_<table>_b``, and one lookup definition, ``malicious_image_<table>``, whose
``collection`` names the *live* one. A run:

1. reads each definition's ``collection`` (``GET configs/conf-transforms/malicious_image_<table>``):
   the live slot; the other slot is the *standby*;
2. empties the standby collection (one ``DELETE``), writes the new rows into it with
   ``batch_save`` (at most 1,000 documents and 8 MB a request, keys ``000000``...: a retried batch
   overwrites itself), and reads back its key count: it must equal the row count;
3. only when every table's standby is complete, switches each definition's ``collection`` to its
   standby (one ``POST configs/conf-transforms/<definition>`` per table, back to back);
4. then the caller saves the sync state (commit, ETag, hashes).

A search resolves the definition once, when it starts, so it reads either the old collection
(untouched by this run) or the new, complete one: never a mix. A crash (kill -9) at any point
leaves each definition naming a complete collection: before its switch the old one, after it the
new one (one REST call flips it; splunkd writes the conf stanza as a whole). The standby may hold
junk; nobody reads it, and the next run empties it first. The state is saved after the switches,
so a crash before that makes the next run see a changed commit and rewrite: recovery needs no
manual step. A crash between two switches leaves some tables on the new generation and some on the
old, each complete (every row carries ``source_commit``); the next run rewrites them all. A switch
that fails (rather than crashes) switches the tables already switched back to their old,
untouched collections, so a failed run leaves every lookup on the previous sync. Every document
carries ``generation`` (the run's id) so that a check can prove a table holds one generation only;
the lookup definition's ``fields_list`` leaves it out, so lookups show exactly the contract's fields.

Why not one collection with a ``generation`` field and a transforms.conf ``filter``: the old rows
would have to be deleted after the switch (a second crash window, and the collection doubles),
and ``filter`` is documented for lookups, with no promise for every reader. Why the lookup
definition and not the state: the definition is what readers resolve, so it is the commit point.

In a search head cluster the KV store and conf changes made over REST replicate to every member;
the writer runs only on the captain (see modinput).

TLS: splunkd's certificate at ``server_uri`` is usually signed by Splunk's own CA, not a public
one. :func:`splunkd_verify` verifies the chain against ``$SPLUNK_HOME/etc/auth/cacert.pem`` when
that file exists (else the system's CA bundle); verification is never turned off. splunkd hands
modular inputs ``https://127.0.0.1:8089``, and its default certificate is issued to
``SplunkServerDefaultCert``, not to an address, so for a loopback ``server_uri`` only (127.0.0.1,
::1, localhost) the certificate's name is not compared with the address: the chain must still
lead to Splunk's CA, whose key only splunkd's own user can read. Any other ``server_uri`` gets the
full check, name included.

The state of the last run is one document (``_key = "state"``) in ``malicious_image_sync_state``;
the state itself is kept as a JSON string because its per-file hashes are keyed by paths, which
contain dots that the KV store does not allow in field names.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter

from malicious_image.sync.tables import TABLE_NAMES as TABLES  # the one list of tables

APP = "malicious_image"
OWNER = "nobody"
PREFIX = "malicious_image_"
SLOTS = ("a", "b")
STATE_COLLECTION = "malicious_image_sync_state"
STATE_KEY = "state"
MAX_BATCH_DOCUMENTS = 1000
MAX_BATCH_BYTES = 8 * 1024 * 1024
RETRY_DELAYS = (0.5, 1.0)
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
TIMEOUT = 60.0
READ_PAGE = 10000


class KVStoreError(Exception):
    """A KV store or splunkd REST call failed; the message says which call and what to check."""


def splunkd_verify(splunk_home: str | None = None) -> str | bool:
    """What ``requests`` should verify splunkd's certificate against.

    ``$SPLUNK_HOME/etc/auth/cacert.pem`` (Splunk's own CA, which signs the default server
    certificate) when it exists; otherwise True (the system's CA bundle). Never False.
    """
    home = splunk_home if splunk_home is not None else os.environ.get("SPLUNK_HOME", "")
    cacert = os.path.join(home, "etc", "auth", "cacert.pem") if home else ""
    return cacert if cacert and os.path.isfile(cacert) else True


class _LoopbackTLSAdapter(HTTPAdapter):
    """Verifies the certificate chain but not the name (loopback server_uri only; see module doc)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["assert_hostname"] = False
        super().init_poolmanager(*args, **kwargs)


class SplunkdClient:
    """A small splunkd REST client: session key auth, app namespace, retries on 5xx and drops.

    Arguments:
        server_uri: ``https://127.0.0.1:8089`` as splunkd gives it in the input XML.
        session_key: the session key from the input XML (never logged).
        verify: see :func:`splunkd_verify`.
    """

    def __init__(
        self,
        server_uri: str,
        session_key: str,
        *,
        app: str = APP,
        owner: str = OWNER,
        verify: str | bool | None = None,
        timeout: float = TIMEOUT,
        retry_delays: Sequence[float] = RETRY_DELAYS,
    ) -> None:
        self.base = server_uri.rstrip("/")
        self.app = app
        self.owner = owner
        self.timeout = timeout
        self.retry_delays = tuple(retry_delays)
        self.requests_made = 0
        self.session = requests.Session()
        self.session.trust_env = False  # splunkd is local: never through an HTTP(S)_PROXY
        self.session.headers["Authorization"] = f"Splunk {session_key}"
        parts = urlsplit(self.base)
        if parts.scheme == "https":
            self.session.verify = splunkd_verify() if verify is None else verify
            if self.session.verify is False:
                raise ValueError("TLS verification of splunkd cannot be turned off")
            if parts.hostname in LOOPBACK_HOSTS:
                self.session.mount(self.base + "/", _LoopbackTLSAdapter())

    def ns(self, path: str) -> str:
        """URL of ``path`` in the app's namespace (``/servicesNS/nobody/<app>/<path>``)."""
        return f"{self.base}/servicesNS/{self.owner}/{self.app}/{path}"

    def global_url(self, path: str) -> str:
        """URL of ``path`` outside any app (``/services/<path>``)."""
        return f"{self.base}/services/{path}"

    def call(
        self, method: str, url: str, *, ok: Sequence[int] = (200, 201), retry: bool = True, **kwargs: Any
    ) -> requests.Response:
        """Send one request; retry 5xx answers and broken connections (idempotent calls only).

        Raises:
            KVStoreError: the last answer was not in ``ok`` or splunkd could not be reached.
        """
        attempts = (0.0, *self.retry_delays) if retry else (0.0,)
        what = f"{method} {urlsplit(url).path}"
        failure = ""
        for delay in attempts:
            time.sleep(delay)
            self.requests_made += 1
            try:
                answer = self.session.request(method, url, timeout=self.timeout, **kwargs)
            except requests.exceptions.SSLError as exc:
                raise KVStoreError(
                    f"{what}: TLS verification of splunkd failed ({type(exc).__name__}); "
                    "check $SPLUNK_HOME/etc/auth/cacert.pem and server.conf [sslConfig]"
                ) from None
            except requests.RequestException as exc:
                failure = f"splunkd did not answer ({type(exc).__name__})"
                continue
            if answer.status_code in ok:
                return answer
            failure = f"HTTP {answer.status_code}: {_splunk_message(answer)}"
            if answer.status_code < 500:
                break
        raise KVStoreError(f"{what} failed: {failure}")


def _splunk_message(answer: requests.Response) -> str:
    try:
        messages = answer.json().get("messages") or []
        return "; ".join(str(m.get("text", "")) for m in messages)[:300] or answer.reason
    except (ValueError, AttributeError):
        return (answer.text or answer.reason or "")[:300]


def batches(
    rows: Sequence[Mapping[str, Any]],
    *,
    max_documents: int = MAX_BATCH_DOCUMENTS,
    max_bytes: int = MAX_BATCH_BYTES,
) -> Iterator[str]:
    """Yield JSON bodies for batch_save: at most ``max_documents`` documents and ``max_bytes``."""
    current: list[str] = []
    size = 2
    for row in rows:
        text = json.dumps(row, ensure_ascii=False, separators=(",", ":"))
        if current and (len(current) >= max_documents or size + len(text) + 1 > max_bytes):
            yield "[" + ",".join(current) + "]"
            current, size = [], 2
        current.append(text)
        size += len(text) + 1
    if current:
        yield "[" + ",".join(current) + "]"


class KVStoreTableWriter:
    """``TableWriter`` over the KV store: A/B collections switched by the lookup definition.

    Examples:
        >>> writer = KVStoreTableWriter(client)                      # doctest: +SKIP
        >>> writer.replace_tables({"macros": rows}, generation="b13b314-1732590000")  # doctest: +SKIP
    """

    def __init__(self, client: SplunkdClient) -> None:
        self.client = client
        self.batch_sizes: list[int] = []

    def live_collection(self, table: str) -> str:
        """The collection the lookup definition ``malicious_image_<table>`` names now."""
        definition = PREFIX + table
        answer = self.client.call(
            "GET",
            self.client.ns(f"configs/conf-transforms/{quote(definition)}"),
            params={"output_mode": "json"},
        )
        try:
            return str(answer.json()["entry"][0]["content"]["collection"])
        except (ValueError, KeyError, IndexError, TypeError):
            raise KVStoreError(
                f"lookup definition {definition} has no collection setting; reinstall the app "
                "or restore default/transforms.conf"
            ) from None

    def standby_collection(self, table: str, live: str) -> str:
        """The slot of ``table`` that readers do not use now."""
        slots = [f"{PREFIX}{table}_{slot}" for slot in SLOTS]
        return slots[1] if live == slots[0] else slots[0]

    def replace_tables(self, tables: Mapping[str, Sequence[Mapping[str, object]]], generation: str) -> None:
        """Write every table into its standby collection, then switch the lookup definitions.

        Raises:
            KVStoreError: a write or the final count failed (no lookup definition was switched), or
                a switch failed (those already switched are switched back, best effort).
        """
        plan = []
        for table, rows in tables.items():
            live = self.live_collection(table)
            standby = self.standby_collection(table, live)
            self._fill(standby, rows, generation)
            plan.append((table, live, standby))
        switched: list[tuple[str, str]] = []
        try:
            for table, live, standby in plan:
                self._point(table, standby)
                switched.append((table, live))
        except KVStoreError:
            for table, live in reversed(switched):  # best effort: back to the untouched old tables
                try:
                    self._point(table, live)
                except KVStoreError:
                    pass  # that table stays whole on the new generation; the next run rewrites all
            raise

    def _point(self, table: str, collection: str) -> None:
        """Switch the lookup definition of ``table`` to ``collection`` (one REST call)."""
        self.client.call(
            "POST",
            self.client.ns(f"configs/conf-transforms/{quote(PREFIX + table)}"),
            data={"collection": collection},
            params={"output_mode": "json"},
        )

    def _fill(self, collection: str, rows: Sequence[Mapping[str, object]], generation: str) -> None:
        url = self.client.ns(f"storage/collections/data/{quote(collection)}")
        self.client.call("DELETE", url)
        documents = [{**row, "generation": generation, "_key": f"{i:06d}"} for i, row in enumerate(rows)]
        for body in batches(documents):
            self.batch_sizes.append(body.count('"_key":"'))
            self.client.call(
                "POST",
                url + "/batch_save",
                data=body.encode("utf-8"),
                headers={"Content-Type": "application/json"},
            )
        stored = self.count(url)
        if stored != len(documents):
            raise KVStoreError(
                f"{collection} holds {stored} documents after the write, expected "
                f"{len(documents)}; the lookup still shows the previous sync"
            )

    def count(self, url: str) -> int:
        """Documents in a collection, read by key in pages of ``READ_PAGE`` (Splunk caps one read at
        limits.conf ``max_rows_per_query``, 50,000 by default)."""
        total = 0
        while True:
            page = self.client.call(
                "GET", url, params={"fields": "_key", "limit": READ_PAGE, "skip": total, "sort": "_key"}
            ).json()
            total += len(page)
            if len(page) < READ_PAGE:
                return total


class KVStoreStateStore:
    """``StateStore`` over the KV store: one document in ``malicious_image_sync_state``.

    :meth:`load` trusts the saved state only if every non-empty lookup shows the state's
    ``generation`` (one conf and one one-document read per table). A crash between the lookup
    switches and the state save, or a lost state document, thus makes the next run a full sync
    instead of a wrong "unchanged".
    """

    def __init__(self, client: SplunkdClient, state_type: type | None = None, tables: Sequence[str] = TABLES) -> None:
        self.client = client
        self.state_type = state_type
        self.tables = tuple(tables)
        self.url = client.ns(f"storage/collections/data/{STATE_COLLECTION}")

    def load(self) -> Any:
        """The state of the last complete run, or None when there is none, it is unreadable, or
        the lookups do not show its generation (then the next run rewrites every table)."""
        answer = self.client.call("GET", f"{self.url}/{STATE_KEY}", ok=(200, 404))
        if answer.status_code == 404:
            return None
        try:
            data = json.loads(answer.json()["state_json"])
        except (ValueError, KeyError, TypeError):
            return None  # unreadable state: the next run does a full sync
        generation = str(data.get("generation") or "")
        if generation and any(g not in ("", generation) for g in self.live_generations().values()):
            return None
        return state_from_dict(data, self.state_type)

    def live_generations(self) -> dict[str, str]:
        """The ``generation`` of one document of each lookup's live collection ("" when empty)."""
        writer = KVStoreTableWriter(self.client)
        found = {}
        for table in self.tables:
            url = self.client.ns(f"storage/collections/data/{quote(writer.live_collection(table))}")
            docs = self.client.call("GET", url, params={"limit": 1, "fields": "generation"}).json()
            found[table] = str(docs[0].get("generation", "")) if docs else ""
        return found

    def save(self, state: Any) -> None:
        """Save ``state`` in one request (batch_save upserts the ``state`` document)."""
        data = state_to_dict(state)
        document = {
            "_key": STATE_KEY,
            "state_json": json.dumps(data, sort_keys=True),
            "commit": str(data.get("commit", "")),
            "saved_at": time.time(),
        }
        self.client.call(
            "POST",
            self.url + "/batch_save",
            data=json.dumps([document]).encode("utf-8"),
            headers={"Content-Type": "application/json"},
        )


def state_to_dict(state: Any) -> dict[str, Any]:
    """A ``SyncState`` as a JSON-able dict (``to_dict()`` when it has one, else its dataclass fields)."""
    if hasattr(state, "to_dict"):
        return dict(state.to_dict())
    if dataclasses.is_dataclass(state) and not isinstance(state, type):
        return dataclasses.asdict(state)
    if isinstance(state, Mapping):
        return dict(state)
    raise TypeError(f"cannot store a sync state of type {type(state).__name__}")


def state_from_dict(data: dict[str, Any], state_type: type | None) -> Any:
    """Rebuild a ``SyncState`` (``from_dict()`` when it has one, else its constructor)."""
    if state_type is None:
        return data
    if hasattr(state_type, "from_dict"):
        return state_type.from_dict(data)
    return state_type(**data)
