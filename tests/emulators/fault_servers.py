"""Small local servers for network-fault tests, on 127.0.0.1 only.

- :class:`LocalServer`: an HTTP or HTTPS server whose answer is a function of the request
  (``respond(handler) -> (status, headers, body)``); every request is recorded. Used as a host
  GitHub never uses (a redirect must never reach it), as an HTTPS "GitHub API" with a certificate
  made at test time, and as a server that gzip-encodes its answer.
- :class:`Proxy407`: an HTTP proxy that answers every ``CONNECT`` and every proxied ``GET`` with
  ``407 Proxy Authentication Required`` (RFC 9110 section 15.5.8) and records whether a
  ``Proxy-Authorization`` header came with it.
- :func:`make_certificates`: a throw-away CA, a server certificate for 127.0.0.1/localhost signed
  by it, and one for another host name, made by ``tests/support/certs.py`` (the one builder).
"""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Tuple

from tests.support.certs import make_ca, openssl_available  # noqa: F401 - openssl_available re-exported

Answer = Tuple[int, dict, bytes]


@dataclass
class Seen:
    method: str
    path: str
    headers: dict = field(default_factory=dict)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FaultServer/1.0"
    owner: Any

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _handle(self) -> None:
        self.owner.seen.append(Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
        status, headers, body = self.owner.respond(self)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_HEAD = do_CONNECT = _handle


class LocalServer:
    """A threading HTTP(S) server on 127.0.0.1 answering with ``respond(handler)``.

    Arguments:
        respond: ``handler -> (status, headers, body)``; ``handler.path``, ``handler.headers``.
        certfile, keyfile: serve HTTPS with this certificate (PEM) when given.
    """

    def __init__(self, respond: Callable[[Any], Answer], *, certfile: Path | None = None, keyfile: Path | None = None):
        self.respond = respond
        self.seen: list[Seen] = []
        handler = type("Handler", (_Handler,), {"owner": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.scheme = "http"
        if certfile is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(certfile), str(keyfile))
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}"

    def __enter__(self) -> LocalServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _answer_407(handler: Any) -> Answer:
    return 407, {"Proxy-Authenticate": 'Basic realm="corporate proxy"', "Connection": "close"}, b"Proxy login required"


class Proxy407(LocalServer):
    """An HTTP proxy that refuses every request with 407 (CONNECT for https, GET for http)."""

    def __init__(self) -> None:
        super().__init__(_answer_407)


@dataclass(frozen=True)
class Certificates:
    ca: Path  # the CA certificate: the right ca_bundle
    server_cert: Path  # for 127.0.0.1 and localhost, signed by the CA
    server_key: Path
    other_cert: Path  # for other-host.example only, signed by the CA (a host name mismatch)
    other_key: Path


def make_certificates(folder: Path) -> Certificates:
    """A CA and two server certificates (EC P-256, valid two days), from :mod:`tests.support.certs`."""
    ca = make_ca(folder, "Hostile Tests CA")
    server = ca.issue("server", "server", sans=("IP:127.0.0.1", "DNS:localhost"))
    other = ca.issue("other", "other", sans=("DNS:other-host.example",))
    return Certificates(ca.cert, server.cert, server.key, other.cert, other.key)
