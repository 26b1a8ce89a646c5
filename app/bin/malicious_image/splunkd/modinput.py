"""Modular input ``security_content``: keep the app's KV store lookups in step with upstream.

splunkd runs ``bin/security_content.py`` three ways (splunklib.modularinput.Script does the
protocol): ``--scheme`` (the scheme below), ``--validate-arguments`` (XML on stdin; an invalid
stanza exits 1 with ``<error><message>`` saying what to fix) and the run (input XML with
``server_uri``, ``session_key``, ``checkpoint_dir`` and the stanza's parameters on stdin).

A run, for each stanza:

1. Search head cluster guard: ``GET /services/shcluster/captain/info``. 503 means a standalone
   search head: run. In a cluster only the captain runs (its ``label`` is this server's name):
   the KV store and the lookup definitions replicate to every member, so one writer is enough,
   and two writers would fight over the A/B switch. The captain is the one member the cluster
   guarantees to be unique at a time; ``run_only_one`` in inputs.conf is documented as not
   supported for this. A member that is not the captain emits a ``skipped`` status event.
2. Lock: an exclusive, non-blocking lock on ``<checkpoint_dir>/security_content.lock``; a second
   run while one holds it emits ``skipped`` and exits. The OS releases the lock when the holder
   dies (even by kill -9), so a crash never leaves a stale lock.
3. Secrets from ``storage/passwords``, realm ``malicious_image``: ``github_token`` (optional,
   a GitHub token) and ``proxy_password`` (optional, with the user name in the ``proxy`` URL).
   They are registered with the log redactor before anything else happens and never appear in a
   parameter, a log line or an event.
4. ``run_sync`` with the KV store writer and state store (:mod:`malicious_image.splunkd.kvstore`) and a
   parse cache in ``checkpoint_dir``.
5. One status event (sourcetype ``malicious_image:sync``, JSON) on stdout, and one log line.
   Any error becomes a ``failed`` status event and one ERROR log line; never a traceback on stdout.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Mapping
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from splunklib.modularinput import Argument, Event, EventWriter, Scheme, Script

from malicious_image.splunkd import sync_input
from malicious_image.splunkd.kvstore import KVStoreError, SplunkdClient
from malicious_image.splunkd.log import get_logger, kv, redact, register_secret

SCHEME_NAME = "security_content"
SOURCETYPE = "malicious_image:sync"
PASSWORD_REALM = "malicious_image"  # noqa: S105 - a realm name, not a secret
TOKEN_NAME = "github_token"  # noqa: S105 - a storage/passwords entry name
PROXY_PASSWORD_NAME = "proxy_password"  # noqa: S105 - an entry name
DEFAULT_REPOSITORY = "https://github.com/splunk/security_content"
DEFAULT_REF = "develop"
DEFAULT_API_URL = "https://api.github.com"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
LOCK_NAME = "security_content.lock"
_REF_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")


class InputConfigError(ValueError):
    """A stanza parameter is invalid; the message tells the admin what to enter instead."""


class RunSkipped(Exception):
    """This run must not sync (SHC member that is not captain, or another run holds the lock)."""


# -- parameters -----------------------------------------------------------------------------------
def validate_params(params: Mapping[str, Any]) -> dict[str, str]:
    """Check a stanza's parameters and return them with defaults filled in.

    Raises:
        InputConfigError: with a message an admin can act on.
    """
    repository = str(params.get("repository") or DEFAULT_REPOSITORY).strip()
    ref = str(params.get("ref") or DEFAULT_REF).strip()
    proxy = str(params.get("proxy") or "").strip()
    ca_bundle = str(params.get("ca_bundle") or "").strip()
    api_url = str(params.get("api_url") or DEFAULT_API_URL).strip().rstrip("/")
    url = urlsplit(repository)
    if url.scheme in ("http", "https"):
        if url.scheme != "https":
            raise InputConfigError(f"repository must use https:// (got {url.scheme}://)")
        if url.username or url.password:
            raise InputConfigError(
                "repository must not contain credentials; store a GitHub token in "
                f"storage/passwords (realm {PASSWORD_REALM}, name {TOKEN_NAME})"
            )
        if len([p for p in url.path.split("/") if p]) != 2:
            raise InputConfigError(f"repository must look like https://github.com/OWNER/NAME (got {repository})")
    elif not os.path.isabs(repository):
        raise InputConfigError(
            "repository must be an https:// GitHub URL or the absolute path of a "
            f".tar.gz or folder on this search head (got {repository!r})"
        )
    elif not os.path.exists(repository):
        raise InputConfigError(f"repository path {repository} does not exist on this search head")
    if not _REF_RE.match(ref) or ".." in ref:
        raise InputConfigError(f"ref must be a branch, tag or commit SHA such as develop or v4.42.0 (got {ref!r})")
    if proxy:
        purl = urlsplit(proxy)
        if purl.scheme not in ("http", "https") or not purl.hostname:
            raise InputConfigError(f"proxy must be a URL such as http://proxy.example.com:3128 (got {redact(proxy)!r})")
        if purl.password:
            raise InputConfigError(
                "proxy must not contain a password; store it in storage/passwords "
                f"(realm {PASSWORD_REALM}, name {PROXY_PASSWORD_NAME}) and keep only "
                "http://USER@host:port here"
            )
    api = urlsplit(api_url)
    if not api.hostname or not (api.scheme == "https" or (api.scheme == "http" and api.hostname in LOOPBACK_HOSTS)):
        raise InputConfigError(
            "api_url must be https://api.github.com or, for GitHub Enterprise, "
            f"https://HOST/api/v3 (plain http only on this host's loopback; got {api_url!r})"
        )
    if api.username or api.password:
        raise InputConfigError("api_url must not contain credentials")
    if ca_bundle and not (os.path.isabs(ca_bundle) and os.path.isfile(ca_bundle)):
        raise InputConfigError(
            f"ca_bundle must be the absolute path of a PEM file on this search head (got {ca_bundle!r})"
        )
    return {"repository": repository, "ref": ref, "proxy": proxy, "ca_bundle": ca_bundle, "api_url": api_url}


def read_secrets(client: SplunkdClient) -> dict[str, str]:
    """The token and proxy password from storage/passwords (realm ``malicious_image``), if stored.

    Returns ``{"token": ..., "proxy_password": ...}`` with only the entries that exist.
    """
    answer = client.call(
        "GET",
        client.ns("storage/passwords"),
        params={"output_mode": "json", "count": 0, "search": f"realm={PASSWORD_REALM}"},
    )
    found: dict[str, str] = {}
    for entry in answer.json().get("entry", []):
        content = entry.get("content", {})
        if content.get("realm") == PASSWORD_REALM and content.get("username") in (
            TOKEN_NAME,
            PROXY_PASSWORD_NAME,
        ):
            value = str(content.get("clear_password") or "")
            register_secret(value)
            found["token" if content["username"] == TOKEN_NAME else "proxy_password"] = value
    return found


# -- guards -----------------------------------------------------------------------------------------
def check_captain(client: SplunkdClient, server_host: str) -> str:
    """``standalone`` or ``captain``; raises RunSkipped on a member that is not the captain."""
    answer = client.call(
        "GET", client.global_url("shcluster/captain/info"), params={"output_mode": "json"}, ok=(200, 503)
    )
    if answer.status_code == 503:
        return "standalone"
    try:
        label = str(answer.json()["entry"][0]["content"]["label"])
    except (ValueError, KeyError, IndexError, TypeError):
        raise KVStoreError("shcluster/captain/info answered without a captain label") from None
    if label != server_host:
        raise RunSkipped(
            f"this search head ({server_host}) is a search head cluster member and not the captain "
            f"({label}); the captain runs the sync and the lookups replicate here"
        )
    return "captain"


class RunLock:
    """An exclusive, non-blocking lock on a file; released by the OS when the process dies."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.handle: BinaryIO | None = None

    def __enter__(self) -> RunLock:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        handle = open(self.path, "a+b")
        try:
            _lock_file(handle)
        except OSError:
            handle.seek(0)
            holder = handle.read(32).decode("ascii", "replace").strip() or "unknown"
            handle.close()
            raise RunSkipped(
                f"another run of the security_content input is in progress (pid {holder}); "
                "this run exits without syncing"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()).encode("ascii"))
        handle.flush()
        self.handle = handle
        return self

    def __exit__(self, *exc: object) -> None:
        if self.handle is not None:
            self.handle.close()  # closing releases the lock
            self.handle = None


def _lock_file(handle: BinaryIO) -> None:
    if os.name == "nt":  # pragma: no cover - Splunk on Windows
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


# -- the input --------------------------------------------------------------------------------------
class SecurityContentInput(Script):
    """The ``security_content`` modular input (splunklib Script API)."""

    def get_scheme(self) -> Scheme:
        scheme = Scheme("Security content sync")
        scheme.description = (
            "Keeps the malicious_image KV store lookups (detections, techniques, tactics, "
            "stories, macros) in step with splunk/security_content. The GitHub token and "
            "proxy password go in storage/passwords, realm malicious_image."
        )
        scheme.use_external_validation = True
        scheme.use_single_instance = False
        scheme.streaming_mode = Scheme.streaming_mode_xml
        for name, title, description in (
            (
                "repository",
                "Repository",
                "https://github.com/OWNER/NAME, or the absolute path of a .tar.gz or "
                f"folder on this search head. Default {DEFAULT_REPOSITORY}.",
            ),
            ("ref", "Ref", f"Branch, tag or commit SHA. Default {DEFAULT_REF}."),
            (
                "proxy",
                "Proxy",
                "http://[USER@]host:port, without a password (the password goes in "
                f"storage/passwords, realm {PASSWORD_REALM}, name {PROXY_PASSWORD_NAME}).",
            ),
            (
                "api_url",
                "GitHub API URL",
                f"Default {DEFAULT_API_URL}; GitHub Enterprise: https://HOST/api/v3.",
            ),
            (
                "ca_bundle",
                "CA bundle",
                "Absolute path of a PEM file to verify GitHub or the proxy against "
                "(TLS-inspecting proxies). Default: the bundled CA list.",
            ),
        ):
            argument = Argument(
                name,
                title=title,
                description=description,
                data_type=Argument.data_type_string,
                required_on_create=False,
                required_on_edit=False,
            )
            scheme.add_argument(argument)
        return scheme

    def validate_input(self, definition: Any) -> None:
        try:
            validate_params(definition.parameters)
        except InputConfigError as exc:
            raise InputConfigError(redact(str(exc))) from None

    def stream_events(self, inputs: Any, ew: EventWriter) -> None:
        for stanza, params in inputs.inputs.items():
            event = run_stanza(stanza, params, inputs.metadata)
            ew.write_event(
                Event(
                    data=json.dumps(event, sort_keys=True),
                    stanza=stanza,
                    sourcetype=SOURCETYPE,
                    time=f"{time.time():.3f}",
                )
            )


def run_stanza(stanza: str, params: Mapping[str, Any], metadata: Mapping[str, Any]) -> dict[str, Any]:
    """One run of one stanza; returns the status event. Never raises."""
    log = get_logger()
    started = time.monotonic()
    event: dict[str, Any] = {
        "outcome": "failed",
        "stanza": stanza,
        "repository": str(params.get("repository") or DEFAULT_REPOSITORY),
        "ref": str(params.get("ref") or DEFAULT_REF),
    }
    try:
        register_secret(str(metadata.get("session_key") or ""))
        settings = validate_params(params)
        client = SplunkdClient(str(metadata["server_uri"]), str(metadata["session_key"]))
        event["search_head"] = check_captain(client, str(metadata.get("server_host", "")))
        checkpoint_dir = str(metadata["checkpoint_dir"])
        with RunLock(os.path.join(checkpoint_dir, LOCK_NAME)):
            secrets = read_secrets(client)
            event.update(sync_input.run(settings, secrets, client, checkpoint_dir))
    except RunSkipped as exc:
        event.update(outcome="skipped", message=str(exc))
    except Exception as exc:  # every error becomes a status event and one log line
        event.update(outcome="failed", error=type(exc).__name__, message=redact(str(exc)) or type(exc).__name__)
    event.setdefault("durations", {})
    event["durations"]["run"] = round(time.monotonic() - started, 3)
    event = json.loads(redact(json.dumps(event)))
    level = {"failed": log.error, "skipped": log.warning}.get(event["outcome"], log.info)
    level(
        kv(
            event="sync_run",
            stanza=stanza,
            outcome=event["outcome"],
            commit=event.get("commit", ""),
            seconds=event["durations"]["run"],
            message=event.get("message", ""),
        )
    )
    return event


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``bin/security_content.py``."""
    return SecurityContentInput().run(list(sys.argv if argv is None else argv))
