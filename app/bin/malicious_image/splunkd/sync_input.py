"""Glue between the modular input's settings and the sync core (no Splunk protocol here).

Builds the content source from the stanza's :class:`~malicious_image.settings.InputSettings` and
the secrets read from
storage/passwords, runs :func:`malicious_image.sync.engine.run_sync` with the KV store writer and
state store, and returns the status event (``SyncReport.to_event()``) with the KV store figures
added under ``kvstore``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Callable
from urllib.parse import quote

from malicious_image.content.source_base import ContentSource
from malicious_image.settings import InputSettings, proxy_with_password
from malicious_image.splunkd.client import SplunkdClient
from malicious_image.splunkd.kvstore import KVStoreStateStore, KVStoreTableWriter
from malicious_image.splunkd.log import register_secret

PARSE_CACHE_DIR = "parse_cache"
ATTACK_CACHE_DIR = "attack"


def proxy_url(proxy: str, password: str | None) -> str | None:
    """The proxy URL with the stored password put in (``http://USER:PASSWORD@host:port``).

    The result is a secret: it is registered with the log redactor and never logged.
    """
    url = proxy_with_password(proxy, password)
    if url and password and url != proxy:
        register_secret(quote(password, safe=""))
        register_secret(url)
    return url


def build_source(settings: InputSettings, secrets: Mapping[str, str]) -> ContentSource:
    """The content source the stanza names: a local tarball or folder, or a GitHub repository."""
    from malicious_image.content.source_spec import source_from_spec

    if settings.is_local:
        return source_from_spec(settings.repository)
    return source_from_spec(
        settings.repository,
        ref=settings.ref,
        token=secrets.get("token") or None,
        api_url=settings.api_url,
        proxy=proxy_url(settings.proxy, secrets.get("proxy_password")),
        ca_bundle=settings.ca_bundle or None,
    )


def sync_options(settings: InputSettings, secrets: Mapping[str, str], checkpoint_dir: str) -> dict[str, Any]:
    """The keyword arguments of ``run_sync`` that come from settings: the drift guard's override
    and the ATT&CK catalogue provider (``settings.effective_attack_source``; its last good
    catalogue is cached in ``<checkpoint_dir>/attack``)."""
    from malicious_image.content.attack_sources import attack_from_settings

    attack = attack_from_settings(
        settings,
        cache_dir=os.path.join(checkpoint_dir, ATTACK_CACHE_DIR),
        proxy=proxy_url(settings.proxy, secrets.get("proxy_password")),
        ca_bundle=settings.ca_bundle or None,
    )
    return {"accept_format_change": settings.accept_format_change, "attack": attack}


def run(
    settings: InputSettings,
    secrets: Mapping[str, str],
    client: SplunkdClient,
    checkpoint_dir: str,
    *,
    before_switch: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """One sync into the KV store; returns the status event (outcome updated, unchanged or failed).

    ``before_switch`` is handed to the KV store writer (the cluster's captaincy check); what it
    raises (``cluster.CaptaincyLost``, a ``SyncInterrupted``) ends the run with nothing switched and
    no state saved, and is raised again here.
    """
    from malicious_image.sync import state as state_module
    from malicious_image.sync.engine import run_sync

    source = build_source(settings, secrets)
    writer = KVStoreTableWriter(client, before_switch=before_switch)
    store = KVStoreStateStore(client)
    cache = state_module.ParseCache(os.path.join(checkpoint_dir, PARSE_CACHE_DIR))
    report = run_sync(source, writer, store, cache=cache, **sync_options(settings, secrets, checkpoint_dir))
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
