"""The status event as it must reach the index: a byte cap, and the summary first.

splunkd cuts an event at its sourcetype's ``TRUNCATE`` (props.conf.spec; 10,000 bytes unless the
sourcetype says otherwise), and a cut JSON event loses every extracted field. The app's
``default/props.conf`` gives ``malicious_image:sync`` a ``TRUNCATE`` above :data:`MAX_EVENT_BYTES`
(a test holds the two together), and :func:`fit` keeps every event under it:

- the largest list or map is shortened to as many items as fit, followed by the item
  ``"and N more (all in malicious_image.log)"`` (for a map, the key ``and_more``), then the next
  largest, until the event fits; long strings are cut last. The caller logs every shortened value
  whole (:func:`fit` returns them).
- keys are written summary first (outcome, stanza, commit, error, message, counts...), lists
  last: automatic JSON extraction (``KV_MODE = json``) and ``spath`` read only the first
  ``extraction_cutoff`` bytes of an event (limits.conf ``[spath]``, 5,000 by default), so the
  fields an admin filters on must sit in those bytes whatever the lists hold.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Tuple, Union

MAX_EVENT_BYTES = 60000  # props.conf [malicious_image:sync] TRUNCATE must be at least this
EXTRACTION_CUTOFF = 5000  # limits.conf [spath] extraction_cutoff (default)
MAX_SUMMARY_STRING = 1000  # characters of message and other summary strings
SUMMARY_KEYS = (
    "outcome", "stanza", "search_head", "retry", "retry_in", "repository", "ref", "commit",
    "generation", "error", "message", "counts", "rejected_total",
)  # fmt: skip
MORE_KEY = "and_more"

Path = Tuple[Union[str, int], ...]


def more_text(count: int) -> str:
    """The marker that replaces ``count`` items left out of a list or map."""
    return f"and {count} more (all in malicious_image.log)"


def dumps(event: Dict[str, Any]) -> str:
    """The event as JSON, keys in the order :func:`order` gives them (no sorting)."""
    return json.dumps(event, ensure_ascii=False, separators=(", ", ": "))


def size(event: Dict[str, Any]) -> int:
    """Bytes of the event as written (UTF-8)."""
    return _bytes(event)


def _bytes(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(", ", ": ")).encode("utf-8"))


def order(event: Dict[str, Any]) -> Dict[str, Any]:
    """Summary keys first, then the other scalars, then small containers, the largest last."""
    def weight(item: Tuple[str, Any]) -> Tuple[int, int, str]:
        key, value = item
        if key in SUMMARY_KEYS:
            return (0, SUMMARY_KEYS.index(key), "")
        if not isinstance(value, (dict, list)):
            return (1, 0, key)
        return (2, len(json.dumps(value)), key)

    ordered = dict(sorted(event.items(), key=weight))
    for key in SUMMARY_KEYS:
        value = ordered.get(key)
        if isinstance(value, str) and len(value) > MAX_SUMMARY_STRING:
            ordered[key] = _cut_string(value, MAX_SUMMARY_STRING)
    return ordered


def _cut_string(text: str, keep: int) -> str:
    return text[:keep] + f"... ({len(text) - keep} more characters in malicious_image.log)"


def _containers(value: Any, path: Path = ()) -> List[Path]:
    found: List[Path] = []
    if isinstance(value, dict):
        if path and len(value) > 1:
            found.append(path)
        for key, item in value.items():
            found += _containers(item, (*path, key))
    elif isinstance(value, list):
        if len(value) > 1:
            found.append(path)
        for index, item in enumerate(value):
            found += _containers(item, (*path, index))
    return found


def _get(root: Any, path: Path) -> Any:
    for step in path:
        root = root[step]
    return root


def _set(root: Any, path: Path, value: Any) -> None:
    _get(root, path[:-1])[path[-1]] = value


def _shortened(value: Any, keep: int) -> Any:
    if isinstance(value, list):
        return [*value[:keep], more_text(len(value) - keep)]
    items = list(value.items())
    return {**dict(items[:keep]), MORE_KEY: more_text(len(items) - keep)}


def _strings(value: Any, path: Path = ()) -> List[Path]:
    if isinstance(value, str):
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _strings(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _strings(v, (*path, i))]
    return []


def fit(event: Dict[str, Any], max_bytes: int = MAX_EVENT_BYTES) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """Return ``(event that fits in max_bytes, {dotted path: whole value})`` for what was cut.

    The input is not changed. Lists and maps are cut largest first, each to the most items that
    fit; strings longer than 200 characters are cut after that; an event that still does not fit
    (only with a tiny ``max_bytes``) becomes its summary keys alone.
    """
    fitted = order(json.loads(json.dumps(event)))
    cut: Dict[str, Any] = {}
    done: set = set()
    while size(fitted) > max_bytes:
        candidates = [p for p in _containers(fitted) if p not in done and p[:1] not in {(k,) for k in SUMMARY_KEYS}]
        if not candidates:
            break
        path = max(candidates, key=lambda p: _bytes(_get(fitted, p)))
        whole = _get(fitted, path)
        cut.setdefault(".".join(map(str, path)), whole)
        rest = size(fitted) - _bytes(whole)  # JSON is compositional: the rest does not change
        low, high = 0, len(whole) - 1  # the most items that fit (0 when none does)
        while low < high:
            middle = (low + high + 1) // 2
            if rest + _bytes(_shortened(whole, middle)) <= max_bytes:
                low = middle
            else:
                high = middle - 1
        _set(fitted, path, _shortened(whole, low))
        done.add(path)
        done.update(p for p in _containers(_get(fitted, path), path))
    for path in sorted(_strings(fitted), key=lambda p: -len(_get(fitted, p))):
        if size(fitted) <= max_bytes:
            break
        text = _get(fitted, path)
        if len(text) > 200:
            cut.setdefault(".".join(map(str, path)), text)
            _set(fitted, path, _cut_string(text, 200))
    if size(fitted) > max_bytes:
        summary = {k: fitted[k] for k in SUMMARY_KEYS if k in fitted and not isinstance(fitted[k], (dict, list))}
        cut.update({k: v for k, v in fitted.items() if k not in summary})
        summary["message"] = _cut_string(str(summary.get("message", "")), 200)
        fitted = summary
    return fitted, cut
