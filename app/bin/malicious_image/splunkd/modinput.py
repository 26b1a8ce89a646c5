"""Modular input ``security_content``: keep the app's KV store lookups in step with upstream.

splunkd runs ``bin/security_content.py`` three ways (splunklib.modularinput.Script does the
protocol): ``--scheme`` (the scheme below), ``--validate-arguments`` (XML on stdin; an invalid
stanza exits 1 with ``<error><message>`` saying what to fix) and the run (input XML with
``server_uri``, ``session_key``, ``checkpoint_dir`` and the stanza's parameters on stdin).

A run, for each stanza:

1. Search head cluster guard (:mod:`malicious_image.splunkd.cluster`): membership from
   ``server/info`` ``server_roles``; in a cluster only the captain runs, and only while its member
   status is ``Up``. A member that is not the captain emits a ``skipped`` status event; "not now"
   (no captain elected, member not ``Up``) emits ``skipped`` with ``retry: true``.
2. Lock: an exclusive, non-blocking lock on ``<checkpoint_dir>/security_content.lock``; a second
   run while one holds it emits ``skipped`` and exits. The OS releases the lock when the holder
   dies (even by kill -9), so a crash never leaves a stale lock.
   Then the KV store must be ready (``kvstore/status``), waited for up to
   ``cluster.KVSTORE_WAIT_SECONDS`` (300 s), else ``skipped`` with ``retry: true``.
3. Secrets from ``storage/passwords``, realm ``malicious_image``: ``github_token`` (optional,
   a GitHub token) and ``proxy_password`` (optional, with the user name in the ``proxy`` URL).
   They are registered with the log redactor before anything else happens and never appear in a
   parameter, a log line or an event.
4. ``run_sync`` with the KV store writer and state store (:mod:`malicious_image.splunkd.kvstore`) and a
   parse cache in ``checkpoint_dir``; on a cluster captain, captaincy is checked again just before
   the lookups are switched (``cluster.CaptainGuard``).
5. One status event (sourcetype ``malicious_image:sync``, JSON, at most
   ``status_event.MAX_EVENT_BYTES``) on stdout, and one log line (plus one per list the byte cap
   shortened, holding the whole list). Any error becomes a ``failed`` status event and one ERROR
   log line; never a traceback on stdout.

Retry sooner: a run skipped with ``retry: true`` is tried again by the same process after
``RETRY_DELAYS`` (1, 2, 5, 10 and 15 minutes), each try writing its own status event, until one
is not a retryable skip. splunkd's ``interval`` (6 hours) restarts the input only after the
script exits, so a retry in-process is the only way to try again sooner without making every
interval short.

Settings: :mod:`malicious_image.settings` (one parser and validator; the scheme's arguments are
generated from its ``FIELDS``). splunkd: :mod:`malicious_image.splunkd.client` (one client; TLS
verified against the CA of server.conf ``[sslConfig]``, see its docstring).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any, BinaryIO, Callable

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
from malicious_image.splunkd import cluster, status_event, sync_input
from malicious_image.splunkd.client import SplunkdClient
from malicious_image.splunkd.cluster import RunSkipped
from malicious_image.splunkd.kvstore import kvstore_client
from malicious_image.splunkd.log import get_logger, kv, redact, register_secret

SCHEME_NAME = "security_content"
SOURCETYPE = "malicious_image:sync"
LOCK_NAME = "security_content.lock"
RETRY_DELAYS = (60.0, 120.0, 300.0, 600.0, 900.0)  # seconds before each retry of a "not now" skip
RETRY_SLEEP: Callable[[float], None] = time.sleep  # how the input waits between tries
__all__ = [
    "PASSWORD_REALM", "PROXY_PASSWORD_NAME", "TOKEN_NAME", "InputConfigError", "RunSkipped", "SecurityContentInput",
]  # fmt: skip


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
def check_captain(client: SplunkdClient, server_host: str = "") -> str:
    """``standalone`` or ``captain``; raises RunSkipped otherwise (see :mod:`cluster`).

    ``server_host`` is not used: the server's own ``serverName`` (``server/info``) is what the
    captain's ``label`` names.
    """
    return cluster.search_head_role(client)


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

            def emit(event: dict[str, Any], stanza: str = stanza) -> None:
                ew.write_event(
                    Event(
                        data=status_event.dumps(event),
                        stanza=stanza,
                        sourcetype=SOURCETYPE,
                        time=f"{time.time():.3f}",
                    )
                )

            run_with_retries(stanza, params, inputs.metadata, emit)


def run_with_retries(
    stanza: str,
    params: Mapping[str, Any],
    metadata: Mapping[str, Any],
    emit: Callable[[dict[str, Any]], None],
    *,
    delays: Sequence[float] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> list[dict[str, Any]]:
    """Run a stanza; while it ends ``skipped`` with ``retry: true``, wait and run it again.

    Every try's status event is handed to ``emit`` as it ends (splunklib's EventWriter flushes
    each one: it is indexed at once), with ``retry_in``, the seconds to the next try, when one
    follows; returns them all. ``delays`` defaults to ``RETRY_DELAYS``, ``sleep`` to ``RETRY_SLEEP``.
    The waits together stay within half the stanza's ``interval`` (when it is a number of seconds),
    so the retries end well before splunkd's next scheduled run.
    """
    delays = RETRY_DELAYS if delays is None else delays
    sleep = RETRY_SLEEP if sleep is None else sleep
    budget = retry_budget(params)
    events, waited = [], 0.0
    for attempt in range(len(delays) + 1):
        event = run_stanza(stanza, params, metadata)
        again = (
            event["outcome"] == "skipped"
            and event.get("retry") is True
            and attempt < len(delays)
            and waited + delays[attempt] <= budget
        )
        if again:
            event["retry_in"] = delays[attempt]
        emit(event)
        events.append(event)
        if not again:
            break
        sleep(delays[attempt])
        waited += delays[attempt]
    return events


def retry_budget(params: Mapping[str, Any]) -> float:
    """Half the stanza's ``interval`` in seconds; unlimited for a cron schedule or none."""
    try:
        return float(str(params.get("interval", "")).strip()) / 2
    except ValueError:
        return float("inf")


def run_stanza(stanza: str, params: Mapping[str, Any], metadata: Mapping[str, Any]) -> dict[str, Any]:
    """One run of one stanza; returns the status event (at most MAX_EVENT_BYTES). Never raises."""
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
        event["search_head"] = role = cluster.search_head_role(client)
        checkpoint_dir = str(metadata["checkpoint_dir"])
        with RunLock(os.path.join(checkpoint_dir, LOCK_NAME)):
            waited = cluster.wait_for_kvstore(client, timeout=cluster.KVSTORE_WAIT_SECONDS)
            secrets = read_secrets(client)
            guard = cluster.CaptainGuard(client, cluster.placement(client).server_name) if role == "captain" else None
            event.update(sync_input.run(settings, secrets, client, checkpoint_dir, before_switch=guard))
            if waited:
                event.setdefault("durations", {})["kvstore_wait"] = waited
    except RunSkipped as exc:
        event.update(outcome="skipped", message=str(exc), retry=exc.retry)
    except Exception as exc:  # every error becomes a status event and one log line
        event.update(outcome="failed", error=type(exc).__name__, message=redact(str(exc)) or type(exc).__name__)
    event.setdefault("durations", {})
    event["durations"]["run"] = round(time.monotonic() - started, 3)
    event = json.loads(redact(json.dumps(event)))
    event, shortened = status_event.fit(event)
    for path, whole in shortened.items():
        whole_json = json.dumps(whole, ensure_ascii=False)
        log.info(kv(event="status_event_shortened", stanza=stanza, field=path, value=whole_json))
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
