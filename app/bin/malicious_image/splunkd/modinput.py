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

Settings: :mod:`malicious_image.settings` (one parser and validator; the scheme's arguments are
generated from its ``FIELDS``). splunkd: :mod:`malicious_image.splunkd.client` (one client; TLS
verified against the CA of server.conf ``[sslConfig]``, see its docstring).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from typing import Any, BinaryIO

from splunklib.modularinput import Argument, Event, EventWriter, Scheme, Script

from malicious_image.settings import (
    FIELDS,
    PASSWORD_REALM,
    PROXY_PASSWORD_NAME,
    TOKEN_NAME,
    InputConfigError,
    InputSettings,
    parse_input_settings,
)
from malicious_image.splunkd import sync_input
from malicious_image.splunkd.client import SplunkdClient
from malicious_image.splunkd.kvstore import KVStoreError, kvstore_client
from malicious_image.splunkd.log import get_logger, kv, redact, register_secret

SCHEME_NAME = "security_content"
SOURCETYPE = "malicious_image:sync"
LOCK_NAME = "security_content.lock"
__all__ = ["PASSWORD_REALM", "PROXY_PASSWORD_NAME", "TOKEN_NAME", "InputConfigError", "SecurityContentInput"]


class RunSkipped(Exception):
    """This run must not sync (SHC member that is not captain, or another run holds the lock)."""


# -- secrets ---------------------------------------------------------------------------------------
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
        for field in FIELDS:
            argument = Argument(
                field.name,
                title=field.title,
                description=field.description,
                data_type=Argument.data_type_string,
                required_on_create=False,
                required_on_edit=False,
            )
            scheme.add_argument(argument)
        return scheme

    def validate_input(self, definition: Any) -> None:
        try:
            parse_input_settings(definition.parameters)
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
        "repository": str(params.get("repository") or InputSettings.repository),
        "ref": str(params.get("ref") or InputSettings.ref),
    }
    try:
        register_secret(str(metadata.get("session_key") or ""))
        settings = parse_input_settings(params)
        client = kvstore_client(
            str(metadata["server_uri"]),
            str(metadata["session_key"]),
            verify=settings.splunkd_ca_file or None,
            cert_name=settings.splunkd_cert_name,
        )
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
