"""Plug-in endpoints of the splunkd emulator for the settings page: the modular input's stanzas.

Emulation, not Splunk. Plugged into :class:`~tests.emulators.splunkd_server.SplunkdEmulator`
through its ``routes`` hook::

    server = SplunkdEmulator(app_dir=APP)
    inputs = ModularInputEndpoints(APP, local_app_dir=tmp_path / "malicious_image").attach(server)
    server.start()

Each behaviour and the Splunk document it follows:

- ``data/inputs/<scheme>`` is the REST endpoint splunkd makes for a modular input from its scheme
  (Developing Views and Apps for Splunk Web, "Modular inputs": "Define a scheme for
  introspection", the ``<endpoint><args>``): GET lists the scheme's stanzas
  (``[<scheme>://<name>]``) merged over the scheme's default stanza, ``disabled`` as a boolean;
  POST with ``name`` creates one (409 when it exists); POST on ``<scheme>/<name>`` edits it; DELETE
  removes it; ``<name>/enable`` and ``<name>/disable`` set ``disabled`` (REST API Reference, "Input
  endpoint descriptions": the enable/disable entity actions of ``data/inputs/*``).
  The arguments accepted are the scheme's ``<arg>`` names (read from the real script's
  ``--scheme`` output) plus the settings every input takes (inputs.conf.spec: host, index, source,
  sourcetype, interval, disabled); any other is refused with 400 ``Argument "X" is not supported
  by this handler.``, as splunkd's admin handlers do.
- ``data/inputs/<scheme>/_new`` answers the accepted arguments as ``eai:attributes``
  (``requiredFields``, ``optionalFields``, ``wildcardFields``), the EAI convention of every
  ``_new`` entity (REST API User Manual, "Atom Feed responses").
- With ``<use_external_validation>true``, a create or an edit first runs the input's script with
  ``--validate-arguments`` and the ``<items>`` XML (server_host, server_uri, session_key,
  checkpoint_dir, one ``<item name>`` with the stanza's parameters after the change) on stdin;
  a non-zero exit refuses the change with 400 and the text of the script's ``<error><message>``
  ("Set up external validation"). Nothing is written then.
- A change is written to the app's ``local/inputs.conf`` (Admin Manual, "Configuration file
  precedence": REST writes go to ``local/`` of the namespace's app), which is replaced atomically.
- ``f=<field>`` (repeatable) on a GET of ``storage/passwords`` keeps only the named fields of
  each entry's content (REST API User Manual, "Request and response details": ``f``), so a page
  can ask whether a secret exists without the password in the answer.

Differences on purpose: the script runs under the test's Python (splunkd uses its own), from the
repository's ``app/bin`` (splunkd runs the installed app's), and the default stanza is read from
``app/default/inputs.conf`` only (no system-wide layering).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote
from xml.sax.saxutils import escape, quoteattr

from tests.emulators.splunkd_server import HttpError, _feed, _passwords, read_conf

STANDARD_ARGUMENTS = ("host", "index", "source", "sourcetype", "interval", "disabled")
VALIDATION_TIMEOUT = 60


def scheme_arguments(script: Path, python: str = sys.executable) -> tuple[str, list[str], bool]:
    """Run ``script --scheme``; return (title, argument names, use_external_validation)."""
    done = subprocess.run([python, str(script), "--scheme"], capture_output=True, timeout=60, check=True)
    root = ET.fromstring(done.stdout)
    names = [arg.get("name", "") for arg in root.iter("arg")]
    external = (root.findtext("use_external_validation") or "").strip().lower() == "true"
    return root.findtext("title") or "", names, external


def write_conf(path: Path, stanzas: dict[str, dict[str, str]]) -> None:
    """Write a .conf file atomically (a reader sees the old file or the new one)."""
    lines = []
    for stanza, keys in stanzas.items():
        lines.append(f"[{stanza}]")
        lines.extend(f"{key} = {value}" for key, value in keys.items())
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".inputs.conf.")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write("\n".join(lines))
    os.replace(temp, path)


class ModularInputEndpoints:
    """``data/inputs/<scheme>`` over a temporary app folder's ``local/inputs.conf``."""

    def __init__(self, app_dir: Path, *, local_app_dir: Path, scheme: str = "security_content") -> None:
        self.app_dir = Path(app_dir)
        self.local_app_dir = Path(local_app_dir)
        self.scheme = scheme
        self.script = self.app_dir / "bin" / f"{scheme}.py"
        self.title, self.arguments, self.external_validation = scheme_arguments(self.script)
        self.validations: list[dict[str, str]] = []  # the <item> params of every validation run
        self.lock = threading.Lock()
        self.server: Any = None

    @property
    def conf_path(self) -> Path:
        return self.local_app_dir / "local" / "inputs.conf"

    def attach(self, server: Any) -> ModularInputEndpoints:
        """Plug these endpoints into a SplunkdEmulator (before or after start())."""
        self.server = server
        server.routes.append(self.route)
        return self

    # -- conf ---------------------------------------------------------------------------------
    def local(self) -> dict[str, dict[str, str]]:
        return read_conf(self.conf_path) if self.conf_path.is_file() else {}

    def defaults(self) -> dict[str, str]:
        return dict(read_conf(self.app_dir / "default" / "inputs.conf").get(self.scheme, {}))

    def _entry(self, name: str, keys: dict[str, str]) -> tuple[str, dict[str, Any]]:
        content: dict[str, Any] = {**self.defaults(), **keys}
        content["disabled"] = content.get("disabled", "0").strip().lower() in ("1", "true", "t", "yes")
        return name, content

    def _save(self, stanzas: dict[str, dict[str, str]]) -> None:
        write_conf(self.conf_path, stanzas)
        if self.server is not None:  # splunkd's merged view, which the secrets audit reads
            self.server.confs.setdefault("inputs", {}).update(stanzas)

    # -- REST -----------------------------------------------------------------------------------
    def route(self, handler: Any, method: str, path: str, query: str, body: bytes) -> tuple[int, Any] | None:
        """Serve ``data/inputs/<scheme>...`` and ``f=`` on storage/passwords; None for the rest."""
        match = re.match(r"^/servicesNS/[^/]+/[^/]+/(.*)$", path) or re.match(r"^/services/(.*)$", path)
        if match is None:
            return None
        segments = [unquote(s) for s in match.group(1).split("/")]
        mine = segments[:3] == ["data", "inputs", self.scheme]
        fields = parse_qs(query).get("f", [])
        if not mine and not (segments[:2] == ["storage", "passwords"] and method == "GET" and fields):
            return None
        state = handler.server_state
        if handler.headers.get("Authorization") != f"Splunk {state.session_key}":
            raise HttpError(401, "call not properly authenticated", "WARN")
        if not mine:
            with state.lock:
                status, payload = _passwords(state, method, segments[2:], {})
            for entry in payload.get("entry", []):
                entry["content"] = {k: v for k, v in entry["content"].items() if k in fields}
            return status, payload
        form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
        form.pop("output_mode", None)
        with self.lock:
            return self._inputs(state, method, segments[3:], form)

    def _inputs(self, state: Any, method: str, rest: list[str], form: dict[str, str]) -> tuple[int, Any]:
        prefix = f"{self.scheme}://"
        stanzas = self.local()
        if rest in ([], [""]):
            if method == "GET":
                return 200, _feed(
                    [self._entry(s[len(prefix) :], k) for s, k in sorted(stanzas.items()) if s.startswith(prefix)]
                )
            if method == "POST":
                name = form.pop("name", "")
                if not name:
                    raise HttpError(400, "Missing argument: name")
                if prefix + name in stanzas:
                    raise HttpError(409, f"An object with name={name} already exists")
                self._check_arguments(form)
                self._validate(state, name, {**self.defaults(), **form})
                stanzas[prefix + name] = dict(form)
                self._save(stanzas)
                return 201, _feed([self._entry(name, stanzas[prefix + name])])
            raise HttpError(405, "Method not allowed")
        if rest == ["_new"] and method == "GET":
            attributes = {
                "requiredFields": ["name"],
                "optionalFields": [*self.arguments, *STANDARD_ARGUMENTS],
                "wildcardFields": [],
            }
            return 200, _feed([("_new", {"eai:attributes": attributes})])
        name = rest[0]
        if prefix + name not in stanzas:
            raise HttpError(404, f"Could not find object id={name}")
        keys = stanzas[prefix + name]
        if len(rest) == 2 and rest[1] in ("enable", "disable") and method == "POST":
            keys["disabled"] = "0" if rest[1] == "enable" else "1"
            self._save(stanzas)
            return 200, _feed([self._entry(name, keys)])
        if len(rest) > 1:
            raise HttpError(404, f"Not Found: {'/'.join(rest)}")
        if method == "GET":
            return 200, _feed([self._entry(name, keys)])
        if method == "POST":
            self._check_arguments(form)
            self._validate(state, name, {**self.defaults(), **keys, **form})
            keys.update(form)
            self._save(stanzas)
            return 200, _feed([self._entry(name, keys)])
        if method == "DELETE":
            del stanzas[prefix + name]
            self._save(stanzas)
            return 200, _feed([])
        raise HttpError(405, "Method not allowed")

    def _check_arguments(self, form: dict[str, str]) -> None:
        for key in form:
            if key not in self.arguments and key not in STANDARD_ARGUMENTS:
                raise HttpError(400, f'Argument "{key}" is not supported by this handler.')

    def _validate(self, state: Any, name: str, params: dict[str, str]) -> None:
        """Run ``--validate-arguments`` as splunkd does; HttpError(400) with its message on failure."""
        if not self.external_validation:
            return
        self.validations.append(dict(params))
        items = "".join(f"<param name={quoteattr(k)}>{escape(v)}</param>" for k, v in params.items())
        server_uri = state.url if state._httpd is not None else "https://127.0.0.1:8089"
        with tempfile.TemporaryDirectory(prefix="modinput-validate-") as checkpoint_dir:
            document = (
                f"<items><server_host>{escape(state.server_name)}</server_host>"
                f"<server_uri>{escape(server_uri)}</server_uri>"
                f"<session_key>{escape(state.session_key)}</session_key>"
                f"<checkpoint_dir>{escape(checkpoint_dir)}</checkpoint_dir>"
                f"<item name={quoteattr(name)}>{items}</item></items>"
            )
            done = subprocess.run(
                [sys.executable, str(self.script), "--validate-arguments"],
                input=document.encode("utf-8"),
                capture_output=True,
                timeout=VALIDATION_TIMEOUT,
                env={**os.environ, "SPLUNK_HOME": str(self.local_app_dir.parent)},
            )
        if done.returncode == 0:
            return
        text = _error_message(done.stdout) or (
            f"Validation for scheme={self.scheme} failed: The script returned with exit status {done.returncode}."
        )
        raise HttpError(400, text)


def _error_message(stdout: bytes) -> str:
    """The text of ``<error><message>`` in a validation script's output, or ''."""
    found = re.search(rb"<error>.*</error>", stdout, re.S)
    if not found:
        return ""
    try:
        return (ET.fromstring(found.group(0)).findtext("message") or "").strip()
    except ET.ParseError:
        return ""


def conf_text(path: Path) -> str:
    """The text of a conf file, '' when absent (for assertions)."""
    return path.read_text(encoding="utf-8") if path.is_file() else ""
