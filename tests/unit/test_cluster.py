"""splunkd/cluster.py against the strict emulator: roles, readiness and the KV store wait, with an
injected clock (no real waiting)."""

from __future__ import annotations

import pytest

from malicious_image.splunkd import cluster
from malicious_image.splunkd.kvstore import KVStoreError, kvstore_client
from tests.emulators.splunkd_server import ShCluster, SplunkdEmulator
from tests.support import certs

pytestmark = [
    pytest.mark.runtime,
    pytest.mark.skipif(not certs.openssl_available(), reason="the openssl command line tool is missing"),
]


def client_of(server):
    # built as the input builds it (its errors are KVStoreError)
    return kvstore_client(server.url, server.session_key, verify=str(server.ca_file), retry_delays=())


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_the_kv_store_wait_polls_until_the_bound_then_skips_with_retry():
    clock = FakeClock()
    with SplunkdEmulator() as server:
        server.kvstore.status = "starting"
        with pytest.raises(cluster.RunSkipped, match=r"not ready after 300 s \(kvstore/status: starting\)") as raised:
            cluster.wait_for_kvstore(client_of(server), timeout=300, poll=2, clock=clock, sleep=clock.sleep)
    assert raised.value.retry is True
    assert sum(clock.slept) == 300 and len(clock.slept) == 150


def test_a_ready_kv_store_costs_one_request_and_no_wait():
    clock = FakeClock()
    with SplunkdEmulator() as server:
        assert cluster.wait_for_kvstore(client_of(server), clock=clock, sleep=clock.sleep) == 0
        assert [p for _, p in server.requests] == ["/services/kvstore/status"]
    assert clock.slept == []


def test_an_unanswered_kv_store_status_counts_as_not_ready():
    clock = FakeClock()
    with SplunkdEmulator() as server:
        server.fail_request(1, status=503, match="kvstore/status")
        assert cluster.wait_for_kvstore(client_of(server), poll=5, clock=clock, sleep=clock.sleep) == 5


def test_roles_decide_membership_not_a_503_from_captain_info():
    shc = ShCluster(captain="sh1", election=True)
    with SplunkdEmulator(cluster=shc, server_name="sh2") as member, SplunkdEmulator(server_name="solo") as alone:
        assert cluster.search_head_role(client_of(alone)) == "standalone"
        assert cluster.placement(client_of(member)).is_cluster_member
        with pytest.raises(cluster.RunSkipped, match="no captain is elected") as raised:
            cluster.search_head_role(client_of(member))
        assert raised.value.retry is True
        shc.elect("sh2")
        assert cluster.search_head_role(client_of(member)) == "captain"


def test_the_captain_guard_passes_while_captain_and_remembers_the_loss():
    shc = ShCluster(captain="sh1")
    with SplunkdEmulator(cluster=shc, server_name="sh1") as server:
        guard = cluster.CaptainGuard(client_of(server), "sh1")
        guard()
        assert guard.lost is None
        shc.election = True
        with pytest.raises(cluster.CaptaincyLost, match="no captain is elected now"):
            guard()
        assert guard.lost is not None and guard.lost.retry is True


def test_a_server_that_is_not_splunkd_gets_a_clear_error():
    with SplunkdEmulator() as server:
        server.confs.clear()
        client = client_of(server)
        client.global_url = lambda path: client.ns("configs/conf-nothing")  # answers an empty feed
        with pytest.raises(KVStoreError, match="server/info answered without the expected entry"):
            cluster.placement(client)
