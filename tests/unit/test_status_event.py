"""The status event's byte cap (splunkd/status_event.py): every event fits, the summary comes
first, lists are shortened with an exact "and N more", and nothing is cut that did not need to be."""

from __future__ import annotations

import json
import random

import pytest

from malicious_image.splunkd.status_event import (
    EXTRACTION_CUTOFF,
    MORE_KEY,
    SUMMARY_KEYS,
    dumps,
    fit,
    more_text,
    order,
    size,
)

pytestmark = pytest.mark.runtime


def test_a_small_event_is_only_reordered_summary_first():
    event = {"rejected": [], "zeta": 1, "message": "m", "counts": {"detections": 3}, "outcome": "updated"}
    fitted, cut = fit(event)
    assert fitted == event and cut == {}
    assert list(fitted)[:3] == ["outcome", "message", "counts"]


def test_the_largest_list_is_cut_to_the_most_items_that_fit_with_an_exact_count():
    event = {"outcome": "failed", "rejected": [{"path": f"p{n:04d}", "reason": "r" * 80} for n in range(1000)]}
    fitted, cut = fit(event, max_bytes=20000)
    kept = fitted["rejected"][:-1]
    assert size(fitted) <= 20000 and cut == {"rejected": event["rejected"]}
    assert kept == event["rejected"][: len(kept)]
    assert fitted["rejected"][-1] == more_text(1000 - len(kept))
    one_more = {**fitted, "rejected": [*event["rejected"][: len(kept) + 1], more_text(999 - len(kept))]}
    assert size(one_more) > 20000  # the most that fit, not fewer


def test_maps_are_cut_with_an_and_more_key():
    event = {"outcome": "failed", "duplicate_detection_ids": {f"id{n}": ["a" * 50, "b" * 50] for n in range(500)}}
    fitted, _ = fit(event, max_bytes=10000)
    ids = fitted["duplicate_detection_ids"]
    assert ids[MORE_KEY] == more_text(500 - (len(ids) - 1)) and size(fitted) <= 10000


def test_multibyte_text_is_counted_in_bytes():
    event = {"outcome": "failed", "rejected": ["€" * 100] * 200}
    fitted, _ = fit(event, max_bytes=8000)
    assert len(dumps(fitted).encode("utf-8")) <= 8000 < len(dumps(fitted)) * 3


def test_a_long_message_is_cut_in_the_event_and_the_summary_fits_the_extraction_cutoff():
    event = {"outcome": "failed", "error": "E", "message": "x" * 50000, "rejected": ["r" * 100] * 600,
             "commit": "c" * 40, "counts": {"detections": 1}}  # fmt: skip
    fitted, _ = fit(event)
    head = dumps(fitted).encode()[:EXTRACTION_CUTOFF].decode("utf-8", "ignore")
    assert all(f'"{k}": ' in head for k in ("outcome", "error", "message", "commit", "counts"))
    assert fitted["message"].startswith("x" * 1000) and "49000 more characters" in fitted["message"]


def test_an_impossible_cap_leaves_the_summary():
    fitted, cut = fit({"outcome": "failed", "message": "m", "big": {"a": "x" * 5000}}, max_bytes=300)
    assert set(fitted) <= set(SUMMARY_KEYS) and fitted["outcome"] == "failed" and size(fitted) <= 300
    assert "big" in cut


@pytest.mark.parametrize("seed", range(25))
def test_random_events_always_fit_and_keep_every_key(seed):
    rng = random.Random(seed)

    def value(depth=0):
        kind = rng.choice(["s", "n", "l", "d"] if depth < 2 else ["s", "n"])
        if kind == "s":
            return "é" * rng.randint(0, 600)
        if kind == "n":
            return rng.randint(0, 10**6)
        if kind == "l":
            return [value(depth + 1) for _ in range(rng.randint(0, 120))]
        return {f"k{i}": value(depth + 1) for i in range(rng.randint(0, 60))}

    event = {"outcome": "failed", **{f"f{i}": value() for i in range(rng.randint(1, 8))}}
    limit = rng.choice([5000, 20000, 60000])
    fitted, _ = fit(event, max_bytes=limit)
    assert size(fitted) <= limit
    if size(order(event)) <= limit:
        assert fitted == order(event)
    json.loads(dumps(fitted))
