"""The modular input against the strict splunkd emulator: search head clusters (captain only,
elections, a member not Up, captaincy lost during a sync), the KV store at start-up, and retries
sooner than the interval. Content is the small hostile-fixture base (no snapshot, no GitHub): the
repository is a local tarball.

Runs in-process (``run_with_retries`` / ``run_stanza`` with short waits) where a test needs to
control time, and as splunkd runs it (a subprocess fed the XML) where the defaults are fast enough.
"""

from __future__ import annotations

import io
import json
import types
import xml.etree.ElementTree as ET

import pytest
from splunklib.modularinput import EventWriter

from malicious_image.splunkd import cluster, modinput
from tests import hostile_archives as H
from tests.emulators.splunkd_server import ShCluster, SplunkdEmulator
from tests.integration.modinput_harness import fixture, run_modinput
from tests.support import certs
from tests.support.paths import APP

pytestmark = [
    pytest.mark.runtime,
    pytest.mark.skipif(not certs.openssl_available(), reason="the openssl command line tool is missing"),
]

STANZA = "security_content://upstream"


@pytest.fixture
def home(tmp_path, monkeypatch):
    """One SPLUNK_HOME for the in-process runs (the emulators all use the same default CA)."""
    path = tmp_path / "splunk"
    (path / "var" / "log" / "splunk").mkdir(parents=True)
    monkeypatch.setenv("SPLUNK_HOME", str(path))
    return path


@pytest.fixture
def content(tmp_path):
    path = tmp_path / "content.tar.gz"
    path.write_bytes(H.tarball([]))
    return path


def metadata(server, checkpoint):
    return {
        "server_host": server.server_name,
        "server_uri": server.url,
        "session_key": server.session_key,
        "checkpoint_dir": str(checkpoint),
    }


def kv_writes(server):
    return [(m, p) for m, p in server.requests if m in ("POST", "DELETE") and "/storage/collections/data/" in p]


def switches(server):
    return [p for m, p in server.requests if m == "POST" and "/configs/conf-transforms/" in p]


def start_cluster(names, captain, home):
    shc = ShCluster(captain=captain)
    members = {name: SplunkdEmulator(app_dir=APP, cluster=shc, server_name=name, splunk_home=home).start()
               for name in names}  # fmt: skip
    return shc, members


def test_only_the_captain_syncs_before_during_and_after_an_election(home, content, tmp_path):
    shc, members = start_cluster(("sh1", "sh2", "sh3"), "sh1", home)
    params = {"repository": str(content)}
    try:
        before = {n: modinput.run_with_retries(STANZA, params, metadata(s, tmp_path / n), lambda e: None, delays=())
                  for n, s in members.items()}  # fmt: skip
        assert [e[-1]["outcome"] for e in before.values()] == ["updated", "skipped", "skipped"]
        assert [bool(kv_writes(s)) for s in members.values()] == [True, False, False]
        assert before["sh2"][0]["retry"] is False and "not the captain (sh1)" in before["sh2"][0]["message"]

        for server in members.values():
            server.requests.clear()
        shc.election = True
        slept = []

        def sleep(seconds):  # the election ends while the members wait to retry
            slept.append(seconds)
            shc.elect("sh3")

        during = {}
        for name, server in members.items():
            shc.election = True
            during[name] = modinput.run_with_retries(
                STANZA, params, metadata(server, tmp_path / name), lambda e: None, delays=(0.01, 0.01), sleep=sleep
            )
        for events in during.values():
            first = events[0]
            assert (first["outcome"], first["retry"], first["retry_in"]) == ("skipped", True, 0.01)
            assert "no captain is elected" in first["message"]
        assert [e[-1]["outcome"] for e in during.values()] == ["skipped", "skipped", "updated"]
        assert [e[-1]["retry"] for n, e in during.items() if n != "sh3"] == [False, False]
        writers = [name for name, server in members.items() if kv_writes(server)]
        assert writers == ["sh3"]  # exactly one member synced during and after the election
        assert slept == [0.01, 0.01, 0.01]
    finally:
        for server in members.values():
            server.stop()


def test_a_member_that_is_not_up_skips_and_retries(home, content, tmp_path):
    shc, members = start_cluster(("sh1",), "sh1", home)
    shc.status["sh1"] = "ManualDetention"
    try:
        events = modinput.run_with_retries(
            STANZA, {"repository": str(content)}, metadata(members["sh1"], tmp_path), lambda e: None,
            delays=(0.01,), sleep=lambda s: shc.status.update(sh1="Up"),
        )  # fmt: skip
        assert [(e["outcome"], e.get("retry")) for e in events] == [("skipped", True), ("updated", None)]
        assert "member status 'ManualDetention'" in events[0]["message"]
    finally:
        members["sh1"].stop()


def test_captaincy_is_checked_again_before_the_lookups_switch(home, content, tmp_path):
    shc, members = start_cluster(("sh1", "sh2"), "sh1", home)
    sh1 = members["sh1"]

    def election_during_the_write(stage, method, path):
        if stage == "before" and path.endswith("/batch_save") and shc.captain == "sh1":
            shc.elect("sh2")

    try:
        live_before = {t: sh1.conf_value("transforms", f"malicious_image_{t}", "collection") for t in ("macros",)}
        sh1.on_request = election_during_the_write
        event = modinput.run_stanza(STANZA, {"repository": str(content)}, metadata(sh1, tmp_path))
        assert event["outcome"] == "skipped" and event["retry"] is False
        assert "stopped being the search head cluster captain during the sync (the captain is now sh2)" in event[
            "message"
        ]
        assert kv_writes(sh1) and switches(sh1) == []  # standbys written, nothing switched
        assert sh1.conf_value("transforms", "malicious_image_macros", "collection") == live_before["macros"]
        assert sh1.collections["malicious_image_sync_state"] == []
    finally:
        for server in members.values():
            server.stop()


def test_a_run_while_the_kv_store_starts_is_skipped_and_the_retry_succeeds(home, content, tmp_path, monkeypatch):
    monkeypatch.setattr(cluster, "KVSTORE_WAIT_SECONDS", 0.3)
    monkeypatch.setattr(cluster, "KVSTORE_POLL_SECONDS", 0.1)
    server = SplunkdEmulator(app_dir=APP, splunk_home=home).start()
    server.kvstore.status = "starting"
    emitted, ready_at = [], []

    def sleep(seconds):  # the KV store becomes ready while the input waits to retry
        ready_at.append(len(server.requests))
        server.kvstore.status = "ready"

    try:
        events = modinput.run_with_retries(
            STANZA, {"repository": str(content)}, metadata(server, tmp_path), emitted.append,
            delays=(0.01, 0.01), sleep=sleep,
        )  # fmt: skip
    finally:
        server.stop()
    assert emitted == events and [e["outcome"] for e in events] == ["skipped", "updated"]
    assert events[0]["retry"] is True and "KV store is not ready after 0 s (kvstore/status: starting)" in events[0][
        "message"
    ]
    while_starting = server.requests[: ready_at[0]]
    assert ("GET", "/services/kvstore/status") in while_starting
    assert not [p for _, p in while_starting if "/storage/" in p]  # nothing touched before it was ready


def test_as_splunkd_runs_it_a_run_at_kv_store_start_up_waits_then_syncs(tmp_path, content):
    home = tmp_path / "splunk"
    (home / "var" / "log" / "splunk").mkdir(parents=True)
    with SplunkdEmulator(app_dir=APP, splunk_home=home, kvstore_starting_for=2.5) as server:
        xml = fixture("run_local.xml", server_host="sh1", server_uri=server.url, session_key=server.session_key,
                      checkpoint_dir=str(tmp_path / "cp"), repository=str(content))  # fmt: skip
        done = run_modinput([], xml, home)
    status = done.status
    assert status["outcome"] == "updated", status
    assert status["durations"]["kvstore_wait"] >= 2.0
    assert all(p != "/servicesNS/nobody/malicious_image/storage/collections/data" for _, p in server.requests)


def test_as_splunkd_runs_it_a_hardened_splunkd_is_trusted_through_server_conf(tmp_path, content):
    home = tmp_path / "splunk"
    (home / "var" / "log" / "splunk").mkdir(parents=True)
    with SplunkdEmulator(app_dir=APP, splunk_home=home, tls="hardened") as server:
        xml = fixture("run_local.xml", server_host="sh1", server_uri=server.url, session_key=server.session_key,
                      checkpoint_dir=str(tmp_path / "cp"), repository=str(content))  # fmt: skip
        done = run_modinput([], xml, home)
    assert done.status["outcome"] == "updated", done.status["message"]


def test_the_input_streams_one_event_per_try_as_each_try_ends(home, content, tmp_path, monkeypatch):
    shc, members = start_cluster(("sh1",), "sh1", home)
    shc.election = True
    out = io.StringIO()
    seen_before_retry = []

    def sleep(seconds):  # what splunkd has received when the input waits to retry
        seen_before_retry.append(out.getvalue())
        shc.elect("sh1")

    monkeypatch.setattr(modinput, "RETRY_DELAYS", (0.01,))
    monkeypatch.setattr(modinput, "RETRY_SLEEP", sleep)
    inputs = types.SimpleNamespace(
        inputs={STANZA: {"repository": str(content)}}, metadata=metadata(members["sh1"], tmp_path)
    )
    try:
        modinput.SecurityContentInput().stream_events(inputs, EventWriter(output=out, error=io.StringIO()))
    finally:
        members["sh1"].stop()
    assert len(seen_before_retry) == 1 and seen_before_retry[0].count("<event") == 1
    events = ET.fromstring(out.getvalue() + "</stream>").findall("event")
    data = [json.loads(e.findtext("data")) for e in events]
    assert [(d["outcome"], d.get("retry_in")) for d in data] == [("skipped", 0.01), ("updated", None)]
    assert all(e.findtext("sourcetype") == "malicious_image:sync" for e in events)
    assert next(iter(data[0])) == "outcome"  # summary first (status_event.order)


def test_retries_stay_within_half_the_interval(home, content, tmp_path):
    server = SplunkdEmulator(app_dir=APP, splunk_home=home).start()
    shc = ShCluster(captain="sh1", election=True)
    server.cluster = shc
    slept = []
    try:
        params = {"repository": str(content), "interval": "300"}
        events = modinput.run_with_retries(STANZA, params, metadata(server, tmp_path), lambda e: None,
                                           delays=(60.0, 60.0, 60.0), sleep=slept.append)  # fmt: skip
    finally:
        server.stop()
    assert slept == [60.0, 60.0]  # a third wait would pass 150 s, half the interval
    assert [e.get("retry_in") for e in events] == [60.0, 60.0, None]
    assert modinput.retry_budget({"interval": "0 */6 * * *"}) == float("inf")
