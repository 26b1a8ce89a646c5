"""The splunkd emulator answers as the REST API reference says (so tests built on it mean something)."""

from __future__ import annotations

import json

import pytest
import requests

from tests.emulators.splunkd_server import SplunkdEmulator
from tests.support.splunkd_tls import trusting_session

NS = "/servicesNS/nobody/malicious_image"


@pytest.fixture
def splunkd(splunkd):
    """The shared emulator (tests/support/splunkd.py) plus a collection of our own."""
    splunkd.collections["things"] = []
    splunkd.collection_config["things"] = {}
    return splunkd


def call(server, method, path, *, auth=True, **kwargs):
    headers = {"Authorization": f"Splunk {server.session_key}"} if auth else {}
    return trusting_session(server).request(method, server.url + path, headers=headers, timeout=5, **kwargs)


def test_every_call_needs_the_session_key(splunkd):
    assert call(splunkd, "GET", f"{NS}/storage/collections/data/things", auth=False).status_code == 401
    bad = trusting_session(splunkd).get(
        splunkd.url + f"{NS}/storage/collections/data/things",
        headers={"Authorization": "Splunk wrong"},
        timeout=5,
    )
    assert bad.status_code == 401
    assert call(splunkd, "GET", f"{NS}/storage/collections/data/things").json() == []


def test_login_gives_the_session_key(splunkd):
    answer = trusting_session(splunkd).post(
        splunkd.url + "/services/auth/login",
        data={"username": "admin", "password": "changeme"},
        params={"output_mode": "json"},
        timeout=5,
    )
    assert answer.json()["sessionKey"] == splunkd.session_key


def test_kv_insert_query_sort_fields_and_delete(splunkd):
    for n in range(5):
        doc = {"name": f"d{n}", "n": n, "tags": ["even" if n % 2 == 0 else "odd"]}
        assert call(splunkd, "POST", f"{NS}/storage/collections/data/things", json=doc).status_code == 201
    rows = call(
        splunkd,
        "GET",
        f"{NS}/storage/collections/data/things",
        params={"query": json.dumps({"tags": "even"}), "sort": "n:-1", "fields": "name"},
    ).json()
    assert [r["name"] for r in rows] == ["d4", "d2", "d0"]
    assert set(rows[0]) == {"name", "_key"}
    page = call(
        splunkd, "GET", f"{NS}/storage/collections/data/things", params={"sort": "n", "skip": 1, "limit": 2}
    ).json()
    assert [r["n"] for r in page] == [1, 2]
    gt = call(
        splunkd,
        "GET",
        f"{NS}/storage/collections/data/things",
        params={"query": json.dumps({"n": {"$gte": 3}})},
    ).json()
    assert sorted(r["n"] for r in gt) == [3, 4]
    call(
        splunkd,
        "DELETE",
        f"{NS}/storage/collections/data/things",
        params={"query": json.dumps({"tags": "odd"})},
    )
    assert len(splunkd.collections["things"]) == 3
    call(splunkd, "DELETE", f"{NS}/storage/collections/data/things")
    assert splunkd.collections["things"] == []


def test_document_by_key(splunkd):
    key = call(splunkd, "POST", f"{NS}/storage/collections/data/things", json={"_key": "k1", "a": 1}).json()["_key"]
    assert key == "k1"
    dup = call(splunkd, "POST", f"{NS}/storage/collections/data/things", json={"_key": "k1", "a": 2})
    assert dup.status_code == 409
    call(splunkd, "POST", f"{NS}/storage/collections/data/things/k1", json={"a": 3})
    assert call(splunkd, "GET", f"{NS}/storage/collections/data/things/k1").json()["a"] == 3
    assert call(splunkd, "DELETE", f"{NS}/storage/collections/data/things/k1").status_code == 200
    assert call(splunkd, "GET", f"{NS}/storage/collections/data/things/k1").status_code == 404
    assert call(splunkd, "GET", f"{NS}/storage/collections/data/nothere").status_code == 404


def test_batch_save_upserts_and_rejects_more_than_the_limit_like_splunk(splunkd):
    ok = call(
        splunkd,
        "POST",
        f"{NS}/storage/collections/data/things/batch_save",
        json=[{"_key": str(i), "i": i} for i in range(1000)],
    )
    assert ok.status_code == 200 and len(ok.json()) == 1000
    call(splunkd, "POST", f"{NS}/storage/collections/data/things/batch_save", json=[{"_key": "5", "i": 55}])
    assert len(splunkd.collections["things"]) == 1000
    too_many = call(
        splunkd,
        "POST",
        f"{NS}/storage/collections/data/things/batch_save",
        json=[{"i": i} for i in range(1001)],
    )
    assert too_many.status_code == 400
    assert "max_documents_per_batch_save=1000" in too_many.json()["messages"][0]["text"]
    assert len(splunkd.collections["things"]) == 1000
    assert splunkd.batch_sizes == [1000, 1, 1001]


def test_passwords_create_list_with_clear_password(splunkd):
    created = call(
        splunkd,
        "POST",
        "/services/storage/passwords",
        data={"name": "github_token", "password": "s3cret", "realm": "malicious_image"},
    )
    assert created.status_code == 201
    again = call(
        splunkd,
        "POST",
        "/services/storage/passwords",
        data={"name": "github_token", "password": "x", "realm": "malicious_image"},
    )
    assert again.status_code == 409
    listed = call(splunkd, "GET", f"{NS}/storage/passwords", params={"output_mode": "json"}).json()
    content = listed["entry"][0]["content"]
    assert listed["entry"][0]["name"] == "malicious_image:github_token:"
    assert (content["realm"], content["username"], content["clear_password"]) == (
        "malicious_image",
        "github_token",
        "s3cret",
    )


def test_captain_info_503_standalone_and_captain_label_in_a_cluster(splunkd):
    assert call(splunkd, "GET", "/services/shcluster/captain/info", params={"output_mode": "json"}).status_code == 503
    member = SplunkdEmulator(shc_role="member", server_name="sh2", captain_name="sh1").start()
    try:
        info = call(member, "GET", "/services/shcluster/captain/info", params={"output_mode": "json"}).json()
        assert info["entry"][0]["content"]["label"] == "sh1"
    finally:
        member.stop()


def test_receivers_simple_and_conf_endpoints(splunkd):
    call(
        splunkd,
        "POST",
        "/services/receivers/simple",
        data=b'{"outcome": "updated"}',
        params={"sourcetype": "malicious_image:sync", "index": "main", "source": "s", "host": "h"},
    )
    assert splunkd.events == [
        {
            "_raw": '{"outcome": "updated"}',
            "index": "main",
            "sourcetype": "malicious_image:sync",
            "source": "s",
            "host": "h",
        }
    ]
    call(splunkd, "POST", f"{NS}/configs/conf-transforms", data={"name": "lk", "collection": "a"})
    call(splunkd, "POST", f"{NS}/configs/conf-transforms/lk", data={"collection": "b"})
    got = call(splunkd, "GET", f"{NS}/configs/conf-transforms/lk", params={"output_mode": "json"}).json()
    assert got["entry"][0]["content"]["collection"] == "b"


def test_faults_fail_drop_and_then_recover(splunkd):
    splunkd.fail_request(2, status=500, match="things")
    splunkd.drop_request(3, match="things")
    path = f"{NS}/storage/collections/data/things"
    assert call(splunkd, "GET", path).status_code == 200
    assert call(splunkd, "GET", path).status_code == 500
    with pytest.raises(requests.ConnectionError):
        call(splunkd, "GET", path)
    assert call(splunkd, "GET", path).status_code == 200


def test_apps_local_answers_installed_apps_and_their_disabled_flag(splunkd):
    es = "/services/apps/local/SplunkEnterpriseSecuritySuite"
    absent = call(splunkd, "GET", es, params={"output_mode": "json"})
    assert absent.status_code == 404 and "Application does not exist" in absent.text
    splunkd.apps["SplunkEnterpriseSecuritySuite"] = {"disabled": True}
    entry = call(splunkd, "GET", es, params={"output_mode": "json"}).json()["entry"][0]
    assert entry["name"] == "SplunkEnterpriseSecuritySuite" and entry["content"]["disabled"] is True
    own = call(splunkd, "GET", "/services/apps/local/malicious_image").json()["entry"][0]
    assert own["content"]["disabled"] is False
    assert call(splunkd, "GET", es, auth=False).status_code == 401
