"""A splunkd-like REST server on 127.0.0.1 for tests (emulation, not Splunk).

Emulation; follows these sections of the Splunk REST API Reference Manual (Splunk Enterprise 9.x):

- REST API User Manual, "Authentication": ``Authorization: Splunk <session_key>`` on every call,
  401 otherwise; ``auth/login`` (POST username/password -> sessionKey).
- "KV store endpoint descriptions": ``storage/collections/config`` (list, create, delete) and
  ``storage/collections/data/{collection}`` (GET with ``query`` / ``limit`` / ``skip`` / ``fields`` /
  ``sort``; POST insert; DELETE with ``query``), ``.../{collection}/{key}`` (GET, POST update,
  DELETE) and ``.../{collection}/batch_save`` (upsert by ``_key``). ``batch_save`` rejects more than
  ``max_documents_per_batch_save`` documents (limits.conf ``[kvstore]``, 1,000 before Splunk 9.1)
  or more than ``max_size_per_batch_save_mb`` (50) with **400 Bad Request** and the message Splunk
  gives: "Request exceeds API limits - see limits.conf for details. (Too many documents for a
  single batch save, max_documents_per_batch_save=1000)". Reads return at most
  ``max_rows_per_query`` (50,000) documents. Data endpoints answer JSON, as Splunk does.
- "Access control endpoint descriptions": ``storage/passwords`` (POST name/password/realm creates
  ``realm:name:``, 409 when it exists; GET lists entries with ``clear_password``; POST on the entity
  updates the password; DELETE).
- "Cluster endpoint descriptions": ``shcluster/captain/info`` (503 on a standalone search head
  and on a member during a captain election; otherwise the captain's ``id``, ``label``,
  ``peer_scheme_host_port``, ``elected_captain``, ``service_ready_flag``...),
  ``shcluster/member/info`` (``status``). ``server/info`` (``serverName``, ``guid``,
  ``server_roles``: ``shc_member`` on members, ``shc_captain`` on the captain).
- "KV store endpoint descriptions": ``kvstore/status`` (``current.status`` ``starting`` then
  ``ready``); ``storage/collections/*`` answer 503 while the KV store starts.
- "Apps endpoint descriptions": ``apps/local/{name}`` (GET: 404 "Application does not exist" when
  the app is not installed; else the entry with ``disabled`` as a JSON boolean, as Splunk 9 answers).
- "Input endpoint descriptions": ``receivers/simple`` (POST a raw event with ``index``,
  ``sourcetype``, ``source``, ``host`` query parameters), cut at the sourcetype's props.conf
  ``TRUNCATE`` (default 10,000 bytes) before it is stored.

The platform behaviours (TLS like a default or a hardened install, clusters, KV store start-up,
truncation) live in :mod:`tests.emulators.splunkd_platform`, each with the document it follows.
- "Configuration endpoint descriptions": ``configs/conf-{file}`` and ``configs/conf-{file}/{stanza}``
  (GET; POST ``name=`` creates a stanza, POST on a stanza updates its keys).

Differences from Splunk, on purpose: ``tls=None`` serves plain HTTP (splunkd always serves HTTPS;
only tests of something else than splunkd's TLS, such as the alert action's subclass, use it);
entity endpoints answer JSON whatever
``output_mode`` says (clients here always ask for ``output_mode=json``); one app namespace (the
collections and conf stanzas of ``app``, reachable under ``/servicesNS/<owner>/<app>/`` and
``/services/``); the query language covers equality, ``$and``/``$or``/``$nor``, ``$ne``, ``$gt``,
``$gte``, ``$lt``, ``$lte``, ``$in``, ``$nin``, ``$exists``.

Small API for tests::

    server = SplunkdEmulator(app_dir=ROOT / "app", splunk_home=home).start()   # HTTPS, default cert
    server = SplunkdEmulator(tls="hardened", splunk_home=home)  # site CA named in server.conf
    server.url, server.session_key, server.ca_file, server.cert_name, server.splunk_home
    cluster = ShCluster(captain="sh1"); SplunkdEmulator(cluster=cluster, server_name="sh2")
    cluster.election = True                                # every member: captain/info 503
    SplunkdEmulator(kvstore_starting_for=2.0)              # kvstore/status "starting" for 2 s
    server.kvstore.status = "starting"                     # or switched by hand
    server.collections["malicious_image_detections_a"]    # list of documents
    server.events, server.passwords, server.confs, server.requests, server.batch_sizes
    server.fail_request(3, status=500, match="batch_save")  # fault on the 3rd matching request
    server.drop_request(1, match="storage/passwords")       # close the connection without answer
    server.delay = 0.5                                     # slow every answer
    server.apps["SplunkEnterpriseSecuritySuite"] = {"disabled": False}  # an installed app
    server.on_request = hook                               # hook(stage, method, path), see below
    server.stop()
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import ssl
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Union
from urllib.parse import parse_qs, unquote, urlsplit

from tests.emulators import splunkd_platform as platform
from tests.emulators.splunkd_kvstore import (
    MAX_DOCUMENTS_PER_BATCH_SAVE,
    MAX_ROWS_PER_QUERY,
    MAX_SIZE_PER_BATCH_SAVE_MB,
    _feed,
    _KVStore,
    matches,
)
from tests.emulators.splunkd_platform import HttpError, KVStoreClock, ShCluster

__all__ = [
    "MAX_DOCUMENTS_PER_BATCH_SAVE",
    "MAX_ROWS_PER_QUERY",
    "MAX_SIZE_PER_BATCH_SAVE_MB",
    "HttpError",
    "ShCluster",
    "SplunkdEmulator",
    "matches",
    "read_conf",
]



@dataclass
class Fault:
    """A switchable fault: the ``nth`` request whose path contains ``match`` fails."""

    kind: str  # "status" or "drop"
    nth: int
    match: str = ""
    status: int = 500
    seen: int = 0
    fired: bool = False


def read_conf(path: Path) -> dict[str, dict[str, str]]:
    """Read a Splunk .conf file: ``[stanza]`` headers, ``key = value`` lines, ``#`` comments,
    backslash line continuation (Splunk's conf syntax, Admin Manual "Configuration file structure")."""
    stanzas: dict[str, dict[str, str]] = {}
    current = stanzas.setdefault("default", {})
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = pending + raw
        if line.endswith("\\"):
            pending = line[:-1] + "\n"
            continue
        pending = ""
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            current = stanzas.setdefault(stripped[1:-1], {})
            continue
        key, sep, value = stripped.partition("=")
        if sep:
            current[key.strip()] = value.strip()
    if not stanzas["default"]:
        del stanzas["default"]
    return stanzas


class SplunkdEmulator:
    """splunkd-like REST server; see the module docstring for what it follows."""

    def __init__(
        self,
        *,
        app: str = "malicious_image",
        app_dir: Path | None = None,
        session_key: str | None = None,
        shc_role: str = "standalone",
        server_name: str = "sh1",
        captain_name: str = "sh1",
        max_documents_per_batch_save: int = MAX_DOCUMENTS_PER_BATCH_SAVE,
        username: str = "admin",
        password: str = "changeme",
        tls: Union[str, tuple[str, str], None] = "default",
        splunk_home: Path | None = None,
        cluster: ShCluster | None = None,
        kvstore_starting_for: float = 0.0,
    ) -> None:
        self.app = app
        # "default" (cacert.pem signs SplunkServerDefaultCert), "hardened" (a site CA named in
        # server.conf sslRootCAPath), a (certificate chain PEM, key PEM) pair, or None (plain HTTP)
        self.tls = tls
        self._own_home = splunk_home is None
        home = splunk_home if splunk_home is not None else tempfile.mkdtemp(prefix="splunk-home-")
        self.splunk_home = Path(home)
        self.ca_file: Path | None = None  # the CA a client must trust (set by start())
        self.cert_name = ""  # the name in splunkd's certificate (set by start())
        self.session_key = session_key or secrets.token_hex(16)
        self.server_name = server_name
        if cluster is None and shc_role in ("member", "captain"):
            cluster = ShCluster(captain=server_name if shc_role == "captain" else captain_name)
        self.cluster = cluster  # None: a standalone search head
        self.kvstore = KVStoreClock(starting_for=kvstore_starting_for)
        self.max_documents_per_batch_save = max_documents_per_batch_save
        self.credentials = (username, password)
        self.collections: dict[str, list[dict[str, Any]]] = {}
        self.collection_config: dict[str, dict[str, str]] = {}
        self.confs: dict[str, dict[str, dict[str, str]]] = {}
        self.passwords: dict[str, dict[str, str]] = {}
        self.events: list[dict[str, Any]] = []
        self.apps: dict[str, dict[str, Any]] = {}  # other installed apps: name -> {"disabled": bool}
        self.requests: list[tuple[str, str]] = []
        self.batch_sizes: list[int] = []
        self.faults: list[Fault] = []
        self.delay = 0.0
        # called as on_request(stage, method, path) with stage "before" (nothing applied yet) and
        # "after" (applied, answer not sent): crash tests kill the client at an exact request
        self.on_request: Callable[[str, str, str], None] | None = None
        # extra endpoints: route(handler, method, path, query_string, body) -> (status, payload) | None
        self.routes: list[Callable[[Any, str, str, str, bytes], tuple[int, Any] | None]] = []
        self.lock = threading.RLock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        if app_dir is not None:
            self.install_app(Path(app_dir))

    # -- life cycle ---------------------------------------------------------------------------
    def install_app(self, app_dir: Path) -> None:
        """Create the collections of ``default/collections.conf`` and load ``default/*.conf``."""
        for conf in sorted((app_dir / "default").glob("*.conf")):
            self.confs[conf.stem] = read_conf(conf)
        for name, settings in self.confs.get("collections", {}).items():
            self.collection_config[name] = dict(settings)
            self.collections.setdefault(name, [])

    def start(self) -> SplunkdEmulator:
        """Listen on 127.0.0.1 on a free port and serve in a daemon thread."""
        handler = type("Handler", (_Handler,), {"server_state": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        if isinstance(self.tls, str):
            files = platform.install_tls(self.splunk_home, self.tls)
            self.ca_file, self.cert_name = files.ca_file, files.cert_name
            chain: tuple[str, ...] = (str(files.chain),)
        else:
            chain = tuple(self.tls or ())
        if chain:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*chain)
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self.kvstore.start()
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
            _audit(self)
        if self._own_home:
            shutil.rmtree(self.splunk_home, ignore_errors=True)

    @property
    def url(self) -> str:
        assert self._httpd is not None, "start() first"
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> SplunkdEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- fault switches -----------------------------------------------------------------------
    def fail_request(self, nth: int, *, status: int = 500, match: str = "") -> Fault:
        """Answer ``status`` to the ``nth`` (1-based) request whose path contains ``match``."""
        fault = Fault("status", nth, match, status)
        self.faults.append(fault)
        return fault

    def drop_request(self, nth: int, *, match: str = "") -> Fault:
        """Close the connection without an answer on the ``nth`` request matching ``match``."""
        fault = Fault("drop", nth, match)
        self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        self.faults.clear()
        self.delay = 0.0

    def _fault_for(self, path: str) -> Fault | None:
        firing = None
        for fault in self.faults:
            if fault.fired or fault.match not in path:
                continue
            fault.seen += 1
            if fault.seen == fault.nth and firing is None:
                fault.fired = True
                firing = fault
        return firing

    # -- helpers for tests --------------------------------------------------------------------
    def store_password(self, realm: str, name: str, password: str) -> None:
        """Put a credential into storage/passwords as `splunk` CLI or Splunk Web would."""
        self.passwords[f"{realm}:{name}:"] = {"realm": realm, "username": name, "clear_password": password}

    def conf_value(self, conf: str, stanza: str, key: str) -> str | None:
        return self.confs.get(conf, {}).get(stanza, {}).get(key)

    @property
    def shc_role(self) -> str:
        """``standalone``, ``member`` or ``captain`` (none during an election)."""
        if self.cluster is None:
            return "standalone"
        return "captain" if "shc_captain" in platform.server_roles(self.server_name, self.cluster) else "member"


# ---------------------------------------------------------------------------------------------
def _audit(server: SplunkdEmulator) -> None:
    """Hand the events, KV store documents and conf files to the secrets audit (under pytest)."""
    try:
        from tests import secrets_audit
    except ImportError:  # run outside the test suite (benchmarks)
        return
    secrets_audit.record_splunkd(server)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body go out in two writes; with Nagle's algorithm the body then waits for the
    # client's delayed ACK (40 ms a request on Linux), which made every KV store write slow
    disable_nagle_algorithm = True
    server_state: SplunkdEmulator

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # -- plumbing -------------------------------------------------------------------------------
    def _dispatch(self, method: str) -> None:
        state = self.server_state
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with state.lock:
            state.requests.append((method, parts.path))
            fault = state._fault_for(parts.path)
        if state.delay:
            time.sleep(state.delay)
        if state.on_request is not None:
            state.on_request("before", method, parts.path)
        if fault is not None and fault.kind == "drop":
            self.close_connection = True
            self.connection.close()
            return
        if fault is not None:
            self._send(fault.status, {"messages": [{"type": "ERROR", "text": "Internal server error (fault)"}]})
            return
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        try:
            # plug-in endpoints first (e.g. tests/emulators/splunkd_inputs.py): each answers
            # (status, payload) for a request it serves, None for the others
            answer = next(filter(None, (r(self, method, parts.path, parts.query, body) for r in state.routes)), None)
            status, payload = answer or self._route(method, parts.path, query, body)
        except HttpError as exc:
            status, payload = exc.status, {"messages": [{"type": exc.kind, "text": exc.text}]}
        if state.on_request is not None:
            state.on_request("after", method, parts.path)
        try:
            self._send(status, payload)
        except OSError:  # the client is gone (killed): nothing to answer
            self.close_connection = True

    def _send(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _form(self, body: bytes) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}

    def _route(self, method: str, path: str, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        state = self.server_state
        match = re.match(r"^/servicesNS/([^/]+)/([^/]+)/(.*)$", path) or re.match(r"^/services/(.*)$", path)
        if match is None:
            raise HttpError(404, "Not Found")
        rest = match.group(match.lastindex or 1)
        app = match.group(2) if match.lastindex == 3 else state.app
        if rest == "auth/login" and method == "POST":
            form = self._form(body)
            if (form.get("username"), form.get("password")) != state.credentials:
                raise HttpError(401, "Login failed", "WARN")
            return 200, {"sessionKey": state.session_key}
        if self.headers.get("Authorization") != f"Splunk {state.session_key}":
            raise HttpError(401, "call not properly authenticated", "WARN")
        segments = [unquote(s) for s in rest.split("/")]
        with state.lock:
            if segments[:2] == ["storage", "collections"]:
                state.kvstore.gate()
            if segments[:3] == ["storage", "collections", "data"] and len(segments) >= 4:
                return _KVStore(state, app).data(method, segments[3:], query, body)
            if segments[:3] == ["storage", "collections", "config"]:
                return _KVStore(state, app).config(method, segments[3:], self._form(body))
            if segments[:2] == ["storage", "passwords"]:
                return _passwords(state, method, segments[2:], self._form(body))
            if segments == ["shcluster", "captain", "info"] and method == "GET":
                return 200, _feed([("captain", platform.captain_info(state.server_name, state.cluster))])
            if segments == ["shcluster", "member", "info"] and method == "GET":
                return 200, _feed([("member", platform.member_info(state.server_name, state.cluster))])
            if segments == ["kvstore", "status"] and method == "GET":
                return 200, _feed([("status", state.kvstore.content())])
            if segments == ["server", "info"] and method == "GET":
                return 200, _feed(
                    [
                        (
                            "server-info",
                            {
                                "serverName": state.server_name,
                                "guid": str(uuid.uuid5(uuid.NAMESPACE_DNS, state.server_name)),
                                "version": "9.4.0",
                                "server_roles": platform.server_roles(state.server_name, state.cluster),
                            },
                        )
                    ]
                )
            if segments[:2] == ["apps", "local"] and len(segments) == 3 and method == "GET":
                return _app(state, segments[2])
            if segments == ["receivers", "simple"] and method == "POST":
                return _receive(state, query, body)
            if segments[0] == "configs" and len(segments) >= 2:
                return _conf(state, method, segments[1:], self._form(body))
        raise HttpError(404, f"Not Found: {rest}")


def _app(state: SplunkdEmulator, name: str) -> tuple[int, Any]:
    if name == state.app:
        return 200, _feed([(name, {"disabled": False, "version": "1.0.0"})])
    if name not in state.apps:
        raise HttpError(404, f"Application does not exist: {name}")
    return 200, _feed([(name, {"disabled": bool(state.apps[name].get("disabled", False)), "version": "8.0.0"})])


def _receive(state: SplunkdEmulator, query: dict[str, str], body: bytes) -> tuple[int, Any]:
    """receivers/simple: index the body as one event, cut at its sourcetype's TRUNCATE."""
    meta = {k: query.get(k, "") for k in ("index", "sourcetype", "source", "host")}
    limit = platform.truncate_limit(state.confs.get("props", {}), meta["sourcetype"])
    raw = platform.truncate(body, limit)
    event = {"_raw": raw.decode("utf-8"), **meta}
    state.events.append(event)
    return 200, {"bytes": len(body), **meta}


def _passwords(state: SplunkdEmulator, method: str, rest: list[str], form: dict[str, str]) -> tuple[int, Any]:
    def entry(name: str) -> tuple[str, dict[str, Any]]:
        cred = state.passwords[name]
        return name, {**cred, "password": "********", "encr_password": "$7$" + "x" * 20}

    if not rest or rest == [""]:
        if method == "GET":
            return 200, _feed([entry(n) for n in sorted(state.passwords)])
        if method == "POST":
            if not form.get("name") or "password" not in form:
                raise HttpError(400, "Missing argument: name, password")
            name = f"{form.get('realm', '')}:{form['name']}:"
            if name in state.passwords:
                raise HttpError(409, f"An object with name={form['name']} already exists")
            state.store_password(form.get("realm", ""), form["name"], form["password"])
            return 201, _feed([entry(name)])
    name = rest[0]
    if name not in state.passwords:
        raise HttpError(404, f"Could not find object id={name}")
    if method == "GET":
        return 200, _feed([entry(name)])
    if method == "POST":
        state.passwords[name]["clear_password"] = form.get("password", "")
        return 200, _feed([entry(name)])
    if method == "DELETE":
        del state.passwords[name]
        return 200, _feed([])
    raise HttpError(405, "Method not allowed")


def _conf(state: SplunkdEmulator, method: str, rest: list[str], form: dict[str, str]) -> tuple[int, Any]:
    conf_name = rest[0][len("conf-") :] if rest[0].startswith("conf-") else ""
    if not conf_name:
        raise HttpError(404, "Not Found")
    conf = state.confs.setdefault(conf_name, {})
    if len(rest) == 1 or rest[1] == "":
        if method == "GET":
            return 200, _feed(sorted(conf.items()))
        if method == "POST":
            name = form.pop("name", "")
            if not name:
                raise HttpError(400, "Missing argument: name")
            if name in conf:
                raise HttpError(409, f"An object with name={name} already exists")
            conf[name] = form
            return 201, _feed([(name, conf[name])])
    stanza = rest[1]
    if stanza not in conf:
        raise HttpError(404, f"Could not find object id={stanza}")
    if method == "GET":
        return 200, _feed([(stanza, conf[stanza])])
    if method == "POST":
        conf[stanza].update(form)
        return 200, _feed([(stanza, conf[stanza])])
    if method == "DELETE":
        del conf[stanza]
        return 200, _feed([])
    raise HttpError(405, "Method not allowed")
