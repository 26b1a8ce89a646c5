"""The KV store part of the splunkd emulator: collections config and data, the query language,
``batch_save`` limits (see :mod:`tests.emulators.splunkd_server` for the documents followed).

Moved out of splunkd_server.py unchanged when the platform behaviours made that module too long.
"""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING, Any

from tests.emulators.splunkd_platform import HttpError

if TYPE_CHECKING:
    from tests.emulators.splunkd_server import SplunkdEmulator

MAX_DOCUMENTS_PER_BATCH_SAVE = 1000
MAX_SIZE_PER_BATCH_SAVE_MB = 50
MAX_ROWS_PER_QUERY = 50000


def _feed(entries: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    return {
        "entry": [{"name": name, "content": content} for name, content in entries],
        "paging": {"total": len(entries), "perPage": 30, "offset": 0},
    }



def _compare(value: Any, op: str, arg: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    if op == "$ne":
        return all(v != arg for v in values)
    if op == "$in":
        return any(v in arg for v in values)
    if op == "$nin":
        return all(v not in arg for v in values)
    if op == "$exists":
        return (value is not None) == bool(arg)
    checks = {
        "$gt": lambda a, b: a > b,
        "$gte": lambda a, b: a >= b,
        "$lt": lambda a, b: a < b,
        "$lte": lambda a, b: a <= b,
    }
    if op in checks:
        try:
            return any(v is not None and checks[op](v, arg) for v in values)
        except TypeError:
            return False
    raise HttpError(400, f"Unsupported query operator {op}")


def matches(doc: dict[str, Any], query: dict[str, Any]) -> bool:
    """Whether a KV store document matches a (Mongo-like) KV store query."""
    for key, cond in query.items():
        if key == "$and":
            if not all(matches(doc, q) for q in cond):
                return False
        elif key == "$or":
            if not any(matches(doc, q) for q in cond):
                return False
        elif key == "$nor":
            if any(matches(doc, q) for q in cond):
                return False
        elif isinstance(cond, dict) and cond and all(k.startswith("$") for k in cond):
            if not all(_compare(doc.get(key), op, arg) for op, arg in cond.items()):
                return False
        else:
            value = doc.get(key)
            if not (value == cond or (isinstance(value, list) and cond in value)):
                return False
    return True


def _new_key() -> str:
    return secrets.token_hex(12)  # 24 hex digits, like a MongoDB ObjectId


class _KVStore:
    def __init__(self, state: SplunkdEmulator, app: str) -> None:
        self.state = state
        if app not in (state.app, "-"):
            raise HttpError(404, f"App {app} not found")

    def _collection(self, name: str) -> list[dict[str, Any]]:
        if name not in self.state.collections:
            raise HttpError(404, f"Could not find collection={name}")
        return self.state.collections[name]

    def config(self, method: str, rest: list[str], form: dict[str, str]) -> tuple[int, Any]:
        cfg = self.state.collection_config
        if not rest or rest == [""]:
            if method == "GET":
                return 200, _feed(sorted(cfg.items()))
            if method == "POST":
                name = form.pop("name", "")
                if not name:
                    raise HttpError(400, "Missing argument: name")
                if name in cfg:
                    raise HttpError(409, f"An object with name={name} already exists")
                cfg[name] = form
                self.state.collections[name] = []
                return 201, _feed([(name, form)])
        name = rest[0]
        if name not in cfg:
            raise HttpError(404, f"Could not find object id={name}")
        if method == "GET":
            return 200, _feed([(name, cfg[name])])
        if method == "POST":
            cfg[name].update(form)
            return 200, _feed([(name, cfg[name])])
        if method == "DELETE":
            del cfg[name]
            self.state.collections.pop(name, None)
            return 200, _feed([])
        raise HttpError(405, "Method not allowed")

    def data(self, method: str, rest: list[str], query: dict[str, str], body: bytes) -> tuple[int, Any]:
        docs = self._collection(rest[0])
        sub = rest[1] if len(rest) > 1 and rest[1] else ""
        if sub == "batch_save" and method == "POST":
            return self._batch_save(docs, body)
        if sub:
            return self._one(docs, method, sub, body)
        if method == "GET":
            return 200, self._read(docs, query)
        if method == "POST":
            doc = self._json(body, dict)
            key = str(doc.get("_key") or _new_key())
            if any(d["_key"] == key for d in docs):
                raise HttpError(409, f"A document with the same key already exists: _key={key}")
            docs.append({**doc, "_key": key, "_user": "nobody"})
            return 201, {"_key": key}
        if method == "DELETE":
            where = json.loads(query["query"]) if query.get("query") else {}
            docs[:] = [d for d in docs if not matches(d, where)]
            return 200, ""
        raise HttpError(405, "Method not allowed")

    @staticmethod
    def _json(body: bytes, kind: type) -> Any:
        try:
            value = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise HttpError(400, f"Invalid JSON: {exc}") from exc
        if not isinstance(value, kind):
            raise HttpError(400, f"Invalid JSON: expected {kind.__name__}")
        return value

    def _batch_save(self, docs: list[dict[str, Any]], body: bytes) -> tuple[int, Any]:
        limit = self.state.max_documents_per_batch_save
        if len(body) > MAX_SIZE_PER_BATCH_SAVE_MB * 1024 * 1024:
            raise HttpError(
                400,
                "Request exceeds API limits - see limits.conf for details. (Batch save size "
                f"exceeds max_size_per_batch_save_mb={MAX_SIZE_PER_BATCH_SAVE_MB})",
            )
        batch = self._json(body, list)
        self.state.batch_sizes.append(len(batch))
        if len(batch) > limit:
            raise HttpError(
                400,
                "Request exceeds API limits - see limits.conf for details. (Too many documents "
                f"for a single batch save, max_documents_per_batch_save={limit})",
            )
        by_key = {d["_key"]: i for i, d in enumerate(docs)}
        keys = []
        for doc in batch:
            if not isinstance(doc, dict):
                raise HttpError(400, "Invalid JSON: each document must be an object")
            key = str(doc.get("_key") or _new_key())
            stored = {**doc, "_key": key, "_user": "nobody"}
            if key in by_key:
                docs[by_key[key]] = stored
            else:
                by_key[key] = len(docs)
                docs.append(stored)
            keys.append(key)
        return 200, keys

    def _one(self, docs: list[dict[str, Any]], method: str, key: str, body: bytes) -> tuple[int, Any]:
        index = next((i for i, d in enumerate(docs) if d["_key"] == key), None)
        if index is None:
            raise HttpError(404, f"Could not find object with _key={key}")
        if method == "GET":
            return 200, docs[index]
        if method == "POST":
            docs[index] = {**self._json(body, dict), "_key": key, "_user": "nobody"}
            return 200, {"_key": key}
        if method == "DELETE":
            del docs[index]
            return 200, ""
        raise HttpError(405, "Method not allowed")

    @staticmethod
    def _read(docs: list[dict[str, Any]], query: dict[str, str]) -> list[dict[str, Any]]:
        try:
            where = json.loads(query["query"]) if query.get("query") else {}
            skip = int(query.get("skip") or 0)
            limit = int(query.get("limit") or 0) or MAX_ROWS_PER_QUERY
        except ValueError as exc:
            raise HttpError(400, f"Invalid argument: {exc}") from exc
        rows = [d for d in docs if matches(d, where)]
        for spec in reversed([s for s in query.get("sort", "").split(",") if s]):
            field, _, direction = spec.partition(":")
            rows.sort(key=lambda d, f=field: (d.get(f) is None, str(d.get(f))), reverse=direction == "-1")
        rows = rows[skip : skip + min(limit, MAX_ROWS_PER_QUERY)]
        fields = [f for f in query.get("fields", "").split(",") if f]
        if fields:
            include = [f for f in fields if not f.endswith(":0")]
            exclude = {f[:-2] for f in fields if f.endswith(":0")}
            if include:
                keep = {f.partition(":")[0] for f in include} | ({"_key"} - exclude)
                rows = [{k: v for k, v in d.items() if k in keep} for d in rows]
            else:
                rows = [{k: v for k, v in d.items() if k not in exclude} for d in rows]
        return rows
