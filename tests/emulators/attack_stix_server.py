"""An emulation of raw.githubusercontent.com serving ``mitre-attack/attack-stix-data`` on 127.0.0.1.

What it reproduces (the ATT&CK provider's path, ``content/attack_sources.py``):

- ``GET /mitre-attack/attack-stix-data/master/index.json``: the collection index
  (``collections[].versions[{version, url, modified}]``, the format of the real ``index.json``
  in ../shared/attack-stix/), its URLs pointing back at this server.
- ``GET /mitre-attack/attack-stix-data/master/<domain>/<domain>-<version>.json``: a bundle.
- Conditional requests: every 200 answer carries a strong ``ETag``; a request whose
  ``If-None-Match`` matches gets ``304 Not Modified`` without a body (RFC 9110 sections 8.8.3 and
  13.1.2; GitHub: "Use conditional requests if appropriate",
  https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate;
  raw.githubusercontent.com answers the same way for file contents).
- Faults on the next bundle request: ``status`` (answer ``code``), ``drop`` (full
  ``Content-Length``, half the body, then close).
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Tuple

PREFIX = "/mitre-attack/attack-stix-data/master/"


class AttackStixEmulator:
    """Serve bundles by release; ``requests`` logs (path, status)."""

    def __init__(self) -> None:
        self.bundles: Dict[str, bytes] = {}  # "enterprise-attack/enterprise-attack-19.0.json" -> bytes
        self.requests: List[Tuple[str, int]] = []
        self.faults: List[Tuple[str, Dict[str, Any]]] = []
        self._server: ThreadingHTTPServer | None = None

    def __enter__(self) -> AttackStixEmulator:
        handler = type("Handler", (_Handler,), {"emulator": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def index_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}{PREFIX}index.json"

    def add(self, version: str, data: bytes, domain: str = "enterprise-attack") -> None:
        """Publish ``data`` as ``domain`` release ``version`` (the index changes with it)."""
        self.bundles[f"{domain}/{domain}-{version}.json"] = data

    def fault(self, kind: str, **params: Any) -> None:
        """Make the next bundle request fail (``status`` with ``code``, or ``drop``)."""
        self.faults.append((kind, params))

    def index(self) -> bytes:
        base = self.index_url.rsplit("/", 1)[0]
        domains: Dict[str, List[Dict[str, str]]] = {}
        for path in sorted(self.bundles):
            domain, name = path.split("/")
            version = name[len(domain) + 1 : -len(".json")]
            domains.setdefault(domain, []).append(
                {"version": version, "url": f"{base}/{path}", "modified": "2026-04-28T14:00:00.000Z"}
            )
        collections = [
            {"id": f"x-mitre-collection--{domain}", "name": domain, "versions": versions[::-1]}
            for domain, versions in domains.items()
        ]
        return json.dumps({"id": "index", "name": "MITRE ATT&CK", "collections": collections}, indent=4).encode()


class _Handler(BaseHTTPRequestHandler):
    emulator: AttackStixEmulator

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if not path.startswith(PREFIX):
            return self._answer(404, b"404: Not Found")
        name = path[len(PREFIX) :]
        if name == "index.json":
            return self._answer(200, self.emulator.index())
        body = self.emulator.bundles.get(name)
        if body is None:
            return self._answer(404, b"404: Not Found")
        if self.emulator.faults:
            kind, params = self.emulator.faults.pop(0)
            if kind == "status":
                return self._answer(int(params.get("code", 500)), b"error", etag=False)
            if kind == "drop":
                self.emulator.requests.append((path, 200))
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.close_connection = True
                return
        return self._answer(200, body)

    def _answer(self, code: int, body: bytes, etag: bool = True) -> None:
        tag = '"' + hashlib.sha1(body).hexdigest() + '"'
        if code == 200 and etag and tag in [t.strip() for t in self.headers.get("If-None-Match", "").split(",")]:
            code, body = 304, b""
        self.emulator.requests.append((self.path.split("?", 1)[0], code))
        self.send_response(code)
        if code in (200, 304) and etag:
            self.send_header("ETag", tag)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
