"""Small local servers for network-fault tests, on 127.0.0.1 only.

- :class:`LocalServer`: an HTTP or HTTPS server whose answer is a function of the request
  (``respond(handler) -> (status, headers, body)``); every request is recorded. Used as a host
  GitHub never uses (a redirect must never reach it), as an HTTPS "GitHub API" with a certificate
  made at test time, and as a server that gzip-encodes its answer.
- :class:`Proxy407`: an HTTP proxy that answers every ``CONNECT`` and every proxied ``GET`` with
  ``407 Proxy Authentication Required`` (RFC 9110 section 15.5.8) and records whether a
  ``Proxy-Authorization`` header came with it.
- :func:`make_certificates`: a throw-away CA, a server certificate for 127.0.0.1/localhost signed
  by it, and one for another host name, with the ``openssl`` command line tool.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Tuple

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


def openssl_available() -> bool:
    return shutil.which("openssl") is not None


@dataclass(frozen=True)
class Certificates:
    ca: Path  # the CA certificate: the right ca_bundle
    server_cert: Path  # for 127.0.0.1 and localhost, signed by the CA
    server_key: Path
    other_cert: Path  # for other-host.example only, signed by the CA (a host name mismatch)
    other_key: Path


def make_certificates(folder: Path) -> Certificates:
    """A CA and two server certificates (EC P-256, valid two days), made with ``openssl``."""
    folder.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=folder, timeout=60)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Hostile Tests CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    for name, san in (("server", "IP:127.0.0.1,DNS:localhost"), ("other", "DNS:other-host.example")):
        (folder / f"{name}.ext").write_text(
            f"subjectAltName={san}\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
            "extendedKeyUsage=serverAuth\nauthorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n"
        )
        run("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext")  # fmt: skip
    return Certificates(
        folder / "ca.pem", folder / "server.pem", folder / "server.key", folder / "other.pem", folder / "other.key"
    )
