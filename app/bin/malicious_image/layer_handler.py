"""The ATT&CK Navigator layer as a file download: ``GET /services/malicious_image/attack_layer``
(splunkd) or ``/en-US/splunkd/__raw/services/malicious_image/attack_layer`` (Splunk Web, exposed
by web.conf).

A persistent REST handler (restmap.conf ``scripttype = persist``; entry point
``bin/malicious_image_layer.py``). splunkd hands each request over as JSON (the caller's
``session.authtoken``, ``server.rest_uri``, ``query``); the handler reads, with the CALLER's
session (so the KV store's and saved searches' own permissions apply: whoever may read the
app's lookups may download the layer), the live collections of ``malicious_image_techniques``,
``_tactics`` and ``_detections`` and the enabled scheduled searches carrying ATT&CK annotations,
builds the layer with :mod:`malicious_image.navigator` and answers it with
``Content-Disposition: attachment; filename="malicious_image_attack_layer_<release>.json"``.

Fired state (risk/notable events of the last 7 days) needs a search job; the download leaves it
out (the dashboard shows it) and says so in the layer's metadata.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Mapping, Tuple
from urllib.parse import quote

from malicious_image.navigator import layer_from_tables, layer_json
from malicious_image.settings import is_true

__all__ = ["enabled_searches", "handle_request", "read_table"]

TABLES = ("techniques", "tactics", "detections")
PAGE = 10000
_TECHNIQUE_ID = re.compile(r"T\d{4}(?:\.\d{3})?")


def read_table(client: Any, table: str) -> List[Dict[str, Any]]:
    """Every document of the live collection of ``malicious_image_<table>`` (paged)."""
    from malicious_image.splunkd.kvstore import KVStoreTableWriter

    live = KVStoreTableWriter(client).live_collection(table)
    url = client.ns(f"storage/collections/data/{quote(live)}")
    rows: List[Dict[str, Any]] = []
    while True:
        page = client.call("GET", url, params={"limit": PAGE, "skip": len(rows), "sort": "_key"}).json()
        rows.extend(page)
        if len(page) < PAGE:
            return rows


def enabled_searches(client: Any) -> List[Tuple[str, List[str]]]:
    """(title, technique ids) of every enabled scheduled saved search with ATT&CK annotations
    (``action.correlationsearch.annotations`` ``mitre_attack``), in any app the caller can see."""
    url = f"{client.base}/servicesNS/-/-/saved/searches"
    answer = client.call("GET", url, params={"output_mode": "json", "count": 0, "search": "is_scheduled=1"})
    out = []
    for entry in answer.json().get("entry", []):
        content = entry.get("content") or {}
        if is_true(content.get("disabled", "0")) or not is_true(content.get("is_scheduled", "0")):
            continue
        try:
            annotations = json.loads(content.get("action.correlationsearch.annotations") or "{}")
        except ValueError:
            continue
        mitre = annotations.get("mitre_attack") if isinstance(annotations, dict) else None
        text = " ".join(map(str, mitre)) if isinstance(mitre, list) else ""
        ids = list(dict.fromkeys(_TECHNIQUE_ID.findall(text)))
        if ids:
            out.append((str(entry.get("name", "")), ids))
    return out


def _query(request: Mapping[str, Any]) -> Dict[str, str]:
    query = request.get("query") or []
    if isinstance(query, dict):
        pairs = list(query.items())
    else:
        pairs = [p for p in query if isinstance(p, (list, tuple)) and len(p) == 2]
    return {str(k): str(v) for k, v in pairs}


def _answer(status: int, payload: str, headers: Mapping[str, str] | None = None) -> Dict[str, Any]:
    return {"status": status, "payload": payload, "headers": {"Content-Type": "application/json", **(headers or {})}}


def handle_request(request: Mapping[str, Any], *, client_factory: Any = None) -> Dict[str, Any]:
    """Answer one request (splunkd's persistent-handler JSON, parsed).

    Arguments:
        request: with ``method``, ``session.authtoken``, ``server.rest_uri``, ``query``.
        client_factory: ``(rest_uri, token) -> client`` (default: the app's splunkd client).

    Returns:
        ``{"status", "payload", "headers"}``: 200 with the layer file, 405 for a method other
        than GET, 502 when splunkd could not be read (the message names the call, never the token).
    """
    if str(request.get("method", "GET")).upper() != "GET":
        return _answer(405, json.dumps({"error": "only GET is supported"}), {"Allow": "GET"})
    session = request.get("session") or {}
    server = request.get("server") or {}
    token, rest_uri = str(session.get("authtoken", "")), str(server.get("rest_uri", ""))
    if not token or not rest_uri:
        return _answer(401, json.dumps({"error": "no session: call this endpoint as a logged-in user"}))
    if client_factory is None:
        from malicious_image.splunkd.kvstore import kvstore_client

        client_factory = kvstore_client  # the one splunkd client, its TLS policy (splunkd/client.py)
    from malicious_image.splunkd.kvstore import KVStoreError

    client = client_factory(rest_uri, token)
    try:
        tables = {name: read_table(client, name) for name in TABLES}
    except (KVStoreError, ValueError) as exc:
        return _answer(502, json.dumps({"error": f"the synced lookups could not be read: {exc}"}))
    notes: List[Tuple[str, str]] = []
    try:
        enabled = enabled_searches(client)
    except (KVStoreError, ValueError) as exc:
        enabled = []
        notes.append(("enabled searches", f"not read ({exc}); states are of the synced content only"))
    if not tables["techniques"]:
        return _answer(404, json.dumps({"error": "no ATT&CK catalogue synced yet: run the security_content input"}))
    layer = layer_from_tables(tables["techniques"], tables["tactics"], tables["detections"], enabled=enabled)
    layer["metadata"].append({"name": "fired state", "value": "not in the download (see the dashboard)"})
    layer["metadata"].extend({"name": k, "value": v} for k, v in notes)
    if is_true(_query(request).get("compact")):
        payload = json.dumps(layer, separators=(",", ":"))
    else:
        payload = layer_json(layer)
    release = next((m["value"] for m in layer["metadata"] if m["name"] == "ATT&CK release"), "")
    suffix = re.sub(r"[^0-9.]", "", release) or "unknown"
    filename = f"malicious_image_attack_layer_{suffix}.json"
    return _answer(200, payload, {"Content-Disposition": f'attachment; filename="{filename}"'})


def handle_json(in_string: str | bytes, **kwargs: Any) -> Dict[str, Any]:
    """:func:`handle_request` for the raw JSON splunkd passes; a malformed request is a 400."""
    try:
        request = json.loads(in_string)
    except ValueError:
        return _answer(400, json.dumps({"error": "the request is not JSON"}))
    if not isinstance(request, dict):
        return _answer(400, json.dumps({"error": "the request is not a JSON object"}))
    return handle_request(request, **kwargs)
