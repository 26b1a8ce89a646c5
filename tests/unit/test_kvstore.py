"""KV store writer and state store against the splunkd emulator: batches, A/B switch, faults."""

from __future__ import annotations

import json

import pytest

from malicious_image.splunkd.kvstore import (
    KVStoreError,
    KVStoreStateStore,
    KVStoreTableWriter,
    batches,
    kvstore_client,
)
from malicious_image.sync.state import SyncState
from malicious_image.sync.tables import TABLE_NAMES
from tests.emulators.splunkd_server import SplunkdEmulator
from tests.support.paths import APP

pytestmark = pytest.mark.runtime


def client_for(server, **kwargs):
    kwargs.setdefault("verify", str(server.ca_file))
    return kvstore_client(server.url, server.session_key, retry_delays=(0.0, 0.0), **kwargs)


def rows(n, tag="old"):
    return [{"name": f"macro_{i}", "definition": f"search {tag}", "arguments": ["a", "b"]} for i in range(n)]


def lookup(server, table):
    """What `| inputlookup malicious_image_<table>` returns: the live collection's documents."""
    live = server.conf_value("transforms", f"malicious_image_{table}", "collection")
    return server.collections[live]


def test_the_shipped_conf_defines_two_collections_per_lookup():
    transforms = SplunkdEmulator(app_dir=APP).confs["transforms"]
    collections = SplunkdEmulator(app_dir=APP).confs["collections"]
    tables = set(TABLE_NAMES)
    kvstore = {name for name, stanza in transforms.items() if stanza.get("external_type") == "kvstore"}
    assert {name.removeprefix("malicious_image_") for name in kvstore} == tables
    for table in tables:
        assert transforms[f"malicious_image_{table}"]["external_type"] == "kvstore"
        assert {f"malicious_image_{table}_a", f"malicious_image_{table}_b"} <= set(collections)
        assert "generation" not in transforms[f"malicious_image_{table}"]["fields_list"]
    assert "malicious_image_sync_state" in collections


def test_batches_never_exceed_1000_documents_or_the_byte_cap():
    sizes = [len(json.loads(b)) for b in batches([{"i": i} for i in range(2501)])]
    assert sizes == [1000, 1000, 501]
    big = [{"text": "x" * 1000} for _ in range(50)]
    assert all(len(b) <= 10_000 for b in batches(big, max_bytes=10_000))
    assert sum(len(json.loads(b)) for b in batches(big, max_bytes=10_000)) == 50


def test_replace_writes_the_standby_then_switches_the_lookup(splunkd):
    writer = KVStoreTableWriter(client_for(splunkd))
    writer.replace_tables({"macros": rows(2500), "tactics": [{"tactic": "execution", "tactic_order": 1}]}, "g1")
    assert splunkd.conf_value("transforms", "malicious_image_macros", "collection") == "malicious_image_macros_b"
    assert len(lookup(splunkd, "macros")) == 2500
    assert {d["generation"] for d in lookup(splunkd, "macros")} == {"g1"}
    assert max(splunkd.batch_sizes) == 1000 and writer.batch_sizes == [1000, 1000, 500, 1]

    writer.replace_tables({"macros": rows(10, "new"), "tactics": []}, "g2")
    assert splunkd.conf_value("transforms", "malicious_image_macros", "collection") == "malicious_image_macros_a"
    assert [d["definition"] for d in lookup(splunkd, "macros")] == ["search new"] * 10
    assert lookup(splunkd, "tactics") == []
    # the previous generation stays whole in the standby until the next run
    assert len(splunkd.collections["malicious_image_macros_b"]) == 2500


@pytest.mark.parametrize("fault", ["status", "drop"])
def test_a_failure_mid_write_leaves_the_lookup_on_the_previous_generation(splunkd, fault):
    writer = KVStoreTableWriter(client_for(splunkd))
    writer.replace_tables({"macros": rows(1500), "stories": [{"id": "s1", "name": "Dev Sec Ops"}]}, "g1")
    before = {t: list(lookup(splunkd, t)) for t in ("macros", "stories")}
    for attempt in range(3):  # the client retries twice; all three attempts fail
        if fault == "status":
            splunkd.fail_request(2 + attempt, status=500, match="batch_save")
        else:
            splunkd.drop_request(2 + attempt, match="batch_save")
    with pytest.raises(KVStoreError, match="batch_save"):
        writer.replace_tables({"macros": rows(1500, "new"), "stories": []}, "g2")
    assert {t: lookup(splunkd, t) for t in ("macros", "stories")} == before
    splunkd.clear_faults()
    writer.replace_tables({"macros": rows(1500, "new"), "stories": []}, "g3")  # the next run recovers
    assert {d["definition"] for d in lookup(splunkd, "macros")} == {"search new"}
    assert len(lookup(splunkd, "macros")) == 1500 and lookup(splunkd, "stories") == []


def test_one_failed_batch_is_retried_with_the_same_keys(splunkd):
    writer = KVStoreTableWriter(client_for(splunkd))
    splunkd.fail_request(2, status=503, match="batch_save")
    writer.replace_tables({"macros": rows(2500)}, "g1")
    assert len(lookup(splunkd, "macros")) == 2500


def test_an_unknown_table_fails_before_any_switch(splunkd):
    writer = KVStoreTableWriter(client_for(splunkd))
    with pytest.raises(KVStoreError, match="malicious_image_nosuch"):
        writer.replace_tables({"macros": rows(3), "nosuch": rows(1)}, "g1")
    assert splunkd.conf_value("transforms", "malicious_image_macros", "collection") == "malicious_image_macros_a"


def test_a_wrong_session_key_is_a_clear_error(splunkd):
    client = kvstore_client(splunkd.url, "not-the-key", retry_delays=(), verify=str(splunkd.ca_file))
    with pytest.raises(KVStoreError, match="401"):
        KVStoreTableWriter(client).replace_tables({"macros": rows(1)}, "g1")


def test_state_round_trip_keeps_paths_with_dots(splunkd):
    store = KVStoreStateStore(client_for(splunkd))
    assert store.load() is None
    state = SyncState(commit="b13b314", etag='W/"abc"', blobs={"detections/cloud/aws_ecr.yml": "f00d"})
    store.save(state)
    store.save(state)  # upsert: still one document
    assert len(splunkd.collections["malicious_image_sync_state"]) == 1
    assert store.load() == state


def test_a_state_the_lookups_do_not_show_is_not_trusted(splunkd):
    client = client_for(splunkd)
    store = KVStoreStateStore(client)
    writer = KVStoreTableWriter(client)
    writer.replace_tables({"macros": rows(3), "stories": []}, "7-x")
    store.save(SyncState(commit="abc", generation="7-x"))
    assert store.load() == SyncState(commit="abc", generation="7-x")
    # a crash after the switch to generation 8 but before the state save
    writer.replace_tables({"macros": rows(3, "new")}, "8-y")
    assert store.load() is None


def test_counts_page_through_large_collections(splunkd, monkeypatch):
    monkeypatch.setattr("malicious_image.splunkd.kvstore.READ_PAGE", 700)
    writer = KVStoreTableWriter(client_for(splunkd))
    writer.replace_tables({"macros": rows(2100)}, "g1")  # 3 full pages and an empty one
    assert len(lookup(splunkd, "macros")) == 2100


def test_a_failed_switch_puts_the_switched_lookups_back(splunkd):
    writer = KVStoreTableWriter(client_for(splunkd))
    writer.replace_tables({"macros": rows(3), "stories": [{"id": "s"}], "tactics": [{"tactic": "x"}]}, "g1")
    live_before = {
        t: splunkd.conf_value("transforms", f"malicious_image_{t}", "collection")
        for t in ("macros", "stories", "tactics")
    }
    # 3 reads of the live collections, then the switches: the third (tactics) fails with its retries
    for nth in (6, 7, 8):
        splunkd.fail_request(nth, status=500, match="configs/conf-transforms/malicious_image_")
    splunkd.requests.clear()
    with pytest.raises(KVStoreError, match="conf-transforms/malicious_image_tactics"):
        writer.replace_tables({"macros": rows(4), "stories": [], "tactics": []}, "g2")
    assert {
        t: splunkd.conf_value("transforms", f"malicious_image_{t}", "collection") for t in live_before
    } == live_before
    assert len(lookup(splunkd, "macros")) == 3
    switches = [p.rsplit("/", 1)[1] for m, p in splunkd.requests if m == "POST" and "conf-transforms" in p]
    assert switches == ["malicious_image_macros", "malicious_image_stories"] + ["malicious_image_tactics"] * 3 + [
        "malicious_image_stories",
        "malicious_image_macros",
    ]
