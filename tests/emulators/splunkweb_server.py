"""A Splunk Web-like server on 127.0.0.1 for the settings page test (emulation, not Splunk).

It serves one app's HTML views and static files and proxies ``/<locale>/splunkd/__raw/...`` to
an emulated splunkd, as Splunk Web does for a logged-in user. Each behaviour and the Splunk
document it follows:

- Views: ``/<locale>/app/<app>/<view>`` renders ``default/data/ui/views/<view>.xml``. A
  ``<view type="html" template="<app>:/templates/<file>">`` is served from the app's
  ``appserver/templates/<file>`` (the layout UCC generates for its configuration page;
  Developing Views and Apps, "Customize Splunk Web"). Splunk Web reads such a template as Mako;
  this emulator renders no Mako, so a template with ``${`` or ``<%`` is refused (500): the
  page must work with plain relative URLs, which resolve the same way under any locale and
  ``root_endpoint``.
- Static files: ``/<locale>/static/app/<app>/<path>`` from ``appserver/static/<path>``.
- Login: the first page view logs the browser in, as a login form would, setting the session
  cookie and the CSRF cookie ``splunkweb_csrf_token_<port>`` (web.conf.spec, and the
  "X-Splunk-Form-Key" header Splunk Web's own JavaScript sends: Developing Views and Apps,
  "Use the REST API from Splunk Web"); without the session cookie, proxy calls answer 401.
- The splunkd proxy: only endpoints an ``[expose:<name>]`` stanza of the app's ``default/web.conf``
  lists, with its ``methods`` (default GET) and ``pattern`` rules (``*`` one path element,
  ``**`` any number, ``elem*`` a prefix; matched under ``/services/`` and ``/servicesNS/*/*/``),
  are proxied (web.conf.spec ``[expose:<unique_name>]``); others answer 404. Splunk's own
  default web.conf exposes more; this emulator knows only the app's stanzas, so the page cannot
  silently depend on an endpoint the app does not declare.
- CSRF: a POST or DELETE through the proxy without an ``X-Splunk-Form-Key`` header equal to the
  CSRF cookie answers 401 and is not forwarded (Splunk Web's CSRF protection, the
  ``skipCSRFProtection`` setting of web.conf.spec defaulting to 0).
- The proxied request carries the session's ``Authorization: Splunk <key>``; the answer's status
  and body come back unchanged.

Small API::

    web = SplunkWebEmulator(app_dir=APP, splunkd=server).start()
    web.url, web.page_url("settings"), web.proxied   # [(method, path, status)]
    web.answers                                      # [(method, path, body)] of proxied answers
    web.stop()
"""

from __future__ import annotations

import json
import mimetypes
import re
import secrets
import threading
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.emulators.splunkd_server import read_conf
from tests.support.splunkd_tls import trusting_session

LOCALE = "en-US"


def expose_rules(app_dir: Path) -> list[tuple[str, set[str]]]:
    """(pattern, methods) of every ``[expose:*]`` stanza of the app's default/web.conf."""
    path = app_dir / "default" / "web.conf"
    stanzas = read_conf(path) if path.is_file() else {}
    rules = []
    for name, keys in stanzas.items():
        if name.startswith("expose:") and keys.get("pattern"):
            methods = {m.strip().upper() for m in keys.get("methods", "GET").split(",") if m.strip()}
            rules.append((keys["pattern"], methods))
    return rules


def pattern_matches(pattern: str, elements: list[str]) -> bool:
    """web.conf.spec pattern rules over the path elements under /services."""
    parts = pattern.split("/")
    if not parts:
        return not elements
    head, rest = parts[0], "/".join(parts[1:])
    if head == "**":
        return any(pattern_matches(rest, elements[i:]) if rest else True for i in range(len(elements) + 1))
    if not elements:
        return False
    element = elements[0]
    if head == "*" or head == element or (head.endswith("*") and element.startswith(head[:-1])):
        return pattern_matches(rest, elements[1:]) if rest else len(elements) == 1
    return False


def exposed(rules: list[tuple[str, set[str]]], services_path: str, method: str) -> bool:
    """Whether ``/services/...`` or ``/servicesNS/o/a/...`` is exposed for ``method``."""
    match = re.match(r"^servicesNS/[^/]+/[^/]+/(.*)$", services_path) or re.match(r"^services/(.*)$", services_path)
    if match is None:
        return False
    elements = [e for e in match.group(1).split("/") if e != ""]
    return any(method in methods and pattern_matches(p, elements) for p, methods in rules)


class SplunkWebEmulator:
    """Splunk Web-like server; see the module docstring for what it follows."""

    def __init__(self, *, app_dir: Path, splunkd: Any, app: str = "malicious_image") -> None:
        self.app_dir = Path(app_dir)
        self.app = app
        self.splunkd = splunkd
        self.rules = expose_rules(self.app_dir)
        self.session_cookie = secrets.token_hex(16)
        self.csrf_token = secrets.token_hex(20)
        self.proxied: list[tuple[str, str, int]] = []
        self.answers: list[tuple[str, str, str]] = []
        self.lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    def start(self) -> SplunkWebEmulator:
        handler = type("Handler", (_Handler,), {"web": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
            try:
                from tests import secrets_audit
            except ImportError:
                return
            # what the page read: splunkd's answer to a POST on storage/passwords carries the password
            # just sent (splunkd's doing, not a read-back), so only GET answers are audited
            gets = [body for method, _, body in self.answers if method == "GET"]
            secrets_audit.record("Splunk Web emulator: proxied splunkd answers to GET", gets)

    @property
    def port(self) -> int:
        assert self._httpd is not None, "start() first"
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def page_url(self, view: str) -> str:
        return f"{self.url}/{LOCALE}/app/{self.app}/{view}"

    @property
    def cookies(self) -> dict[str, str]:
        """The cookies a logged-in browser holds."""
        return {f"splunkd_{self.port}": self.session_cookie, f"splunkweb_csrf_token_{self.port}": self.csrf_token}

    def __enter__(self) -> SplunkWebEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    web: SplunkWebEmulator

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _send(self, status: int, data: bytes, content_type: str, cookies: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (cookies or {}).items():
            self.send_header("Set-Cookie", f"{name}={value}; Path=/; SameSite=Strict")
        self.end_headers()
        self.wfile.write(data)

    def _cookies(self) -> dict[str, str]:
        jar = {}
        for part in (self.headers.get("Cookie") or "").split(";"):
            name, _, value = part.strip().partition("=")
            if name:
                jar[name] = value
        return jar

    def _dispatch(self, method: str) -> None:
        web = self.web
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        prefix = f"/{LOCALE}/"
        if not parts.path.startswith(prefix):
            self._send(404, b"Not Found", "text/plain")
            return
        rest = parts.path[len(prefix) :]
        if rest.startswith("splunkd/__raw/"):
            self._proxy(method, rest[len("splunkd/__raw/") :], parts.query, body)
        elif method == "GET" and rest.startswith(f"app/{web.app}/"):
            self._view(rest[len(f"app/{web.app}/") :])
        elif method == "GET" and rest.startswith(f"static/app/{web.app}/"):
            self._static(rest[len(f"static/app/{web.app}/") :])
        else:
            self._send(404, b"Not Found", "text/plain")

    def _view(self, view: str) -> None:
        web = self.web
        xml_path = web.app_dir / "default" / "data" / "ui" / "views" / f"{view}.xml"
        if "/" in view or not xml_path.is_file():
            self._send(404, b"View not found", "text/plain")
            return
        root = ET.parse(xml_path).getroot()
        template = root.get("template", "")
        expected = f"{web.app}:/templates/"
        if root.tag != "view" or root.get("type") != "html" or not template.startswith(expected):
            self._send(500, b"This emulator serves only <view type='html' template='APP:/templates/...'>", "text/plain")
            return
        page = web.app_dir / "appserver" / "templates" / template[len(expected) :]
        text = page.read_text(encoding="utf-8")
        if "${" in text or "<%" in text:
            self._send(500, b"Mako expressions are not rendered by this emulator", "text/plain")
            return
        self._send(200, text.encode("utf-8"), "text/html; charset=utf-8", cookies=web.cookies)

    def _static(self, relative: str) -> None:
        base = (self.web.app_dir / "appserver" / "static").resolve()
        path = (base / relative).resolve()
        if base not in path.parents or not path.is_file():
            self._send(404, b"Not Found", "text/plain")
            return
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        self._send(200, path.read_bytes(), content_type)

    def _proxy(self, method: str, services_path: str, query: str, body: bytes) -> None:
        web = self.web
        jar = self._cookies()
        if jar.get(f"splunkd_{web.port}") != web.session_cookie:
            self._send(401, b'{"messages":[{"type":"ERROR","text":"Not logged in"}]}', "application/json")
            return
        if not exposed(web.rules, services_path, method):
            self._record(method, services_path, 404)
            self._send(404, b'{"messages":[{"type":"ERROR","text":"Not exposed"}]}', "application/json")
            return
        if method != "GET" and (
            not self.headers.get("X-Splunk-Form-Key")
            or self.headers.get("X-Splunk-Form-Key") != jar.get(f"splunkweb_csrf_token_{web.port}")
        ):
            self._record(method, services_path, 401)
            text = "Splunk cannot authenticate the request. CSRF validation failed."
            self._send(401, json.dumps({"messages": [{"type": "ERROR", "text": text}]}).encode(), "application/json")
            return
        headers = {"Authorization": f"Splunk {web.splunkd.session_key}"}
        if self.headers.get("Content-Type"):
            headers["Content-Type"] = self.headers["Content-Type"]
        # splunkd serves HTTPS with its own CA and a certificate named SplunkServerDefaultCert
        answer = trusting_session(web.splunkd).request(
            method,
            f"{web.splunkd.url}/{services_path}" + (f"?{query}" if query else ""),
            data=body or None,
            headers=headers,
            timeout=120,
        )
        self._record(method, services_path, answer.status_code, answer.text)
        self._send(answer.status_code, answer.content, answer.headers.get("Content-Type", "application/json"))

    def _record(self, method: str, path: str, status: int, text: str = "") -> None:
        with self.web.lock:
            self.web.proxied.append((method, path, status))
            if text:
                self.web.answers.append((method, path, text))
