"""The emulator is as strict as a real splunkd where the app could otherwise pass by luck: TLS like a
default and a hardened install, search head cluster roles and elections, KV store start-up and
index-time truncation (tests/emulators/splunkd_platform.py cites the document for each)."""

from __future__ import annotations

import json
import socket
import ssl
import time

import pytest
import requests

from tests.emulators.splunkd_platform import KVSTORE_STARTING_TEXT, truncate
from tests.emulators.splunkd_server import ShCluster, SplunkdEmulator
from tests.support import certs
from tests.support.paths import APP
from tests.support.splunkd_tls import trusting_session

pytestmark = pytest.mark.skipif(not certs.openssl_available(), reason="the openssl command line tool is missing")


def get(server, path, **params):
    return trusting_session(server).get(
        server.url + path,
        headers={"Authorization": f"Splunk {server.session_key}"},
        params={"output_mode": "json", **params},
        timeout=5,
    )


def content(answer):
    assert answer.status_code == 200, answer.text
    return answer.json()["entry"][0]["content"]


def handshake(server, cafile, check_hostname=True):
    """A TLS handshake with Python's default client context (what requests does by default)."""
    context = ssl.create_default_context(cafile=str(cafile))
    context.check_hostname = check_hostname
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            return tls.getpeercert()


def test_default_install_serves_splunks_default_certificate_named_only_by_its_cn(tmp_path):
    with SplunkdEmulator(splunk_home=tmp_path) as server:
        assert server.url.startswith("https://127.0.0.1:")
        assert server.ca_file == tmp_path / "etc" / "auth" / "cacert.pem"
        peer = handshake(server, server.ca_file, check_hostname=False)
        assert dict(x[0] for x in peer["subject"])["commonName"] == "SplunkServerDefaultCert"
        assert "subjectAltName" not in peer
        # Python's default context checks the address against the certificate: it fails
        with pytest.raises(ssl.SSLCertVerificationError, match=r"IP address mismatch|doesn't match"):
            handshake(server, server.ca_file)
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(server.url + "/services/server/info", verify=str(server.ca_file), timeout=5)
        assert content(get(server, "/services/server/info"))["serverName"] == "sh1"


def test_hardened_install_uses_the_site_ca_of_server_conf_and_keeps_the_old_cacert(tmp_path):
    with SplunkdEmulator(tls="hardened", splunk_home=tmp_path) as server:
        conf = (tmp_path / "etc" / "system" / "local" / "server.conf").read_text()
        assert "sslRootCAPath = $SPLUNK_HOME/etc/auth/mycerts/myCACertificate.pem" in conf
        old = tmp_path / "etc" / "auth" / "cacert.pem"
        assert old.is_file() and server.ca_file == tmp_path / "etc" / "auth" / "mycerts" / "myCACertificate.pem"
        with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
            handshake(server, old, check_hostname=False)
        peer = handshake(server, server.ca_file, check_hostname=False)
        assert peer["subjectAltName"] == (("DNS", certs.HARDENED_NAME),)
        assert content(get(server, "/services/server/info"))["serverName"] == "sh1"


def test_an_emulator_without_a_given_home_cleans_up_its_own():
    server = SplunkdEmulator().start()
    home = server.splunk_home
    assert (home / "etc" / "auth" / "cacert.pem").is_file()
    server.stop()
    assert not home.exists()


def test_server_roles_and_captain_info_standalone_member_captain_and_during_an_election():
    cluster = ShCluster(captain="sh1")
    members = [SplunkdEmulator(cluster=cluster, server_name=name).start() for name in ("sh1", "sh2", "sh3")]
    alone = SplunkdEmulator().start()
    try:
        roles = content(get(alone, "/services/server/info"))["server_roles"]
        assert "search_head" in roles and "shc_member" not in roles
        assert get(alone, "/services/shcluster/captain/info").status_code == 503
        assert get(alone, "/services/shcluster/member/info").status_code == 503
        for member in members:
            roles = content(get(member, "/services/server/info"))["server_roles"]
            assert "shc_member" in roles
            assert ("shc_captain" in roles) == (member.server_name == "sh1")
            assert content(get(member, "/services/shcluster/captain/info"))["label"] == "sh1"
            assert content(get(member, "/services/shcluster/member/info"))["status"] == "Up"
        cluster.election = True
        for member in members:
            answer = get(member, "/services/shcluster/captain/info")
            assert answer.status_code == 503 and "election" in answer.json()["messages"][0]["text"]
            assert "shc_captain" not in content(get(member, "/services/server/info"))["server_roles"]
        cluster.elect("sh3")
        assert [m.shc_role for m in members] == ["member", "member", "captain"]
        cluster.status["sh2"] = "ManualDetention"
        assert content(get(members[1], "/services/shcluster/member/info"))["status"] == "ManualDetention"
    finally:
        for server in (*members, alone):
            server.stop()


def test_the_kv_store_says_starting_and_refuses_calls_until_ready():
    with SplunkdEmulator(app_dir=APP, kvstore_starting_for=0.6) as server:
        assert content(get(server, "/services/kvstore/status"))["current"]["status"] == "starting"
        answer = get(server, "/servicesNS/nobody/malicious_image/storage/collections/data/malicious_image_macros_a")
        assert answer.status_code == 503 and answer.json()["messages"][0]["text"] == KVSTORE_STARTING_TEXT
        assert get(server, "/servicesNS/nobody/malicious_image/configs/conf-transforms").status_code == 200
        time.sleep(0.7)
        assert content(get(server, "/services/kvstore/status"))["current"]["status"] == "ready"
        assert get(server, "/servicesNS/nobody/malicious_image/storage/collections/data/malicious_image_macros_a").json() == []  # noqa: E501
        server.kvstore.status = "failed"
        assert get(server, "/servicesNS/nobody/malicious_image/storage/collections/config").status_code == 503


def post_event(server, raw: bytes, sourcetype: str):
    answer = trusting_session(server).post(
        server.url + "/services/receivers/simple",
        headers={"Authorization": f"Splunk {server.session_key}"},
        params={"sourcetype": sourcetype, "index": "main", "source": "s", "host": "h"},
        data=raw,
        timeout=5,
    )
    assert answer.status_code == 200
    return server.events[-1]["_raw"]


def test_receivers_simple_cuts_events_at_the_sourcetypes_truncate(tmp_path):
    big = json.dumps({"outcome": "failed", "rejected": ["x" * 50] * 400}).encode()
    with SplunkdEmulator(app_dir=APP) as server:
        unknown = post_event(server, big, "some:other")
        assert len(unknown.encode()) == 10000  # the default TRUNCATE: the JSON is cut, unreadable
        with pytest.raises(ValueError):
            json.loads(unknown)
        server.confs["props"]["my:json"] = {"TRUNCATE": "0"}
        assert post_event(server, big, "my:json") == big.decode()
        server.confs["props"]["my:small"] = {"TRUNCATE": "7"}
        assert post_event(server, "abcdeé€".encode(), "my:small") == "abcdeé"  # not mid-character


def test_truncate_never_splits_a_character():
    text = "a€b€c".encode()  # € is three bytes
    assert [truncate(text, n).decode() for n in range(0, 10)] == [
        "a€b€c", "a", "a", "a", "a€", "a€b", "a€b", "a€b", "a€b€", "a€b€c"
    ]  # fmt: skip
