"""Glue between the modular input's settings and the sync core (no Splunk protocol here).

Builds the content source from the stanza's settings and the secrets read from
storage/passwords, runs :func:`malicious_image.sync.engine.run_sync` with the KV store writer and
state store, and returns the status event (``SyncReport.to_event()``) with the KV store figures
added under ``kvstore``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Callable
from urllib.parse import quote, urlsplit, urlunsplit

from malicious_image.splunkd.kvstore import KVStoreStateStore, KVStoreTableWriter, SplunkdClient
from malicious_image.splunkd.log import register_secret

PARSE_CACHE_DIR = "parse_cache"


def proxy_url(proxy: str, password: str | None) -> str | None:
    """The proxy URL with the stored password put in (``http://USER:PASSWORD@host:port``).

    The result is a secret: it is registered with the log redactor and never logged.
    """
    if not proxy:
        return None
    parts = urlsplit(proxy)
    if not password or not parts.username:
        return proxy
    userinfo = f"{quote(parts.username, safe='')}:{quote(password, safe='')}"
    host = parts.netloc.rpartition("@")[2]
    url = urlunsplit((parts.scheme, f"{userinfo}@{host}", parts.path, parts.query, parts.fragment))
    register_secret(quote(password, safe=""))
    register_secret(url)
    return url


def build_source(settings: Mapping[str, str], secrets: Mapping[str, str]) -> Any:
    """The content source the stanza names: a local tarball or folder, or a GitHub repository."""
    from malicious_image.content.sources import source_from_spec

    repository = settings["repository"]
    if os.path.isabs(repository):
        return source_from_spec(repository)
    return source_from_spec(
        repository,
        ref=settings["ref"],
        token=secrets.get("token") or None,
        api_url=settings["api_url"],
        proxy=proxy_url(settings.get("proxy", ""), secrets.get("proxy_password")),
        ca_bundle=settings.get("ca_bundle") or None,
    )


def run(
    settings: Mapping[str, str],
    secrets: Mapping[str, str],
    client: SplunkdClient,
    checkpoint_dir: str,
    *,
    before_switch: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """One sync into the KV store; returns the status event (outcome updated, unchanged or failed).

    ``before_switch`` is handed to the KV store writer (the cluster's captaincy check); if it
    raised, that exception is raised again here (the engine reports it as a failure otherwise).
    """
    from malicious_image.sync import state as state_module
    from malicious_image.sync.engine import run_sync

    source = build_source(settings, secrets)
    raised: list[BaseException] = []

    def guarded() -> None:
        try:
            before_switch() if before_switch is not None else None
        except Exception as exc:
            raised.append(exc)
            raise

    writer = KVStoreTableWriter(client, before_switch=guarded if before_switch is not None else None)
    store = KVStoreStateStore(client, getattr(state_module, "SyncState", None))
    cache = state_module.ParseCache(os.path.join(checkpoint_dir, PARSE_CACHE_DIR))
    report = run_sync(source, writer, _SilencedAfter(store, raised), cache=cache)
    if raised:
        raise raised[0]
    # every rejection: the status event's byte cap (splunkd/status_event.py) shortens the list and
    # logs it whole
    event = dict(report.to_event(max_rejected=max(1, len(report.rejected))))
    event["kvstore"] = {
        "requests": client.requests_made,
        "batches": len(writer.batch_sizes),
        "largest_batch": max(writer.batch_sizes, default=0),
        "documents_written": sum(writer.batch_sizes),
    }
    return event


class _SilencedAfter:
    """The state store, which saves nothing once ``raised`` holds an exception: a search head that
    lost captaincy during its sync must not overwrite the state the new captain saves."""

    def __init__(self, store: KVStoreStateStore, raised: list[BaseException]) -> None:
        self.store = store
        self.raised = raised

    def load(self) -> Any:
        return self.store.load()

    def save(self, state: Any) -> None:
        if not self.raised:
            self.store.save(state)
