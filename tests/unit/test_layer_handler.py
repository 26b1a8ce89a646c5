"""The layer download (malicious_image.layer_handler, restmap.conf/web.conf) against the splunkd
emulator's KV store: tables written by the real KV store writer from a generated v19 catalogue."""

from __future__ import annotations

import json
import subprocess
import sys

import jsonschema
import pytest

from malicious_image.content.stix import read_bundle
from malicious_image.layer_handler import enabled_searches, handle_json, handle_request
from malicious_image.splunkd.kvstore import KVStoreTableWriter, kvstore_client
from malicious_image.sync.tables import build_tables
from tests import attack_bundles as B
from tests.emulators.splunkd_server import SplunkdEmulator
from tests.support.paths import APP
from tests.unit.test_navigator_layer import SCHEMA

pytestmark = pytest.mark.runtime


@pytest.fixture(scope="module")
def splunkd():
    server = SplunkdEmulator(app_dir=APP).start()
    tables = build_tables([], [], [], "c0ffee", catalogue=read_bundle(B.v19_bundle("19.0")))
    detection = {"name": "AWS ECR Container Upload Unknown User", "attack_technique_id": ["T1204.003"]}
    tables["detections"] = [detection]
    client = kvstore_client(server.url, server.session_key, verify=str(server.ca_file))
    KVStoreTableWriter(client).replace_tables(tables, "g1")
    yield server
    server.stop()


@pytest.fixture
def _factory(splunkd):
    return lambda uri, token: kvstore_client(uri, token, retry_delays=(0.0,), verify=str(splunkd.ca_file))


def _request(server, **extra):
    return {"method": "GET", "session": {"authtoken": server.session_key}, "server": {"rest_uri": server.url}, **extra}


def test_download_is_a_named_valid_layer(splunkd, _factory):
    answer = handle_request(_request(splunkd), client_factory=_factory)
    assert answer["status"] == 200
    assert answer["headers"]["Content-Disposition"] == 'attachment; filename="malicious_image_attack_layer_19.0.json"'
    layer = json.loads(answer["payload"])
    jsonschema.validate(layer, SCHEMA)
    image = [t for t in layer["techniques"] if t["techniqueID"] == "T1204.003"]
    assert [t["score"] for t in image] == [1] and layer["versions"]["attack"] == "19"
    assert splunkd.session_key not in answer["payload"]


def test_refusals(splunkd, _factory):
    assert handle_request({**_request(splunkd), "method": "POST"})["status"] == 405
    assert handle_request({"method": "GET"})["status"] == 401
    assert handle_json(b"not json")["status"] == 400
    bad = handle_request(
        {"method": "GET", "session": {"authtoken": "wrong-token"}, "server": {"rest_uri": splunkd.url}},
        client_factory=_factory,
    )
    assert bad["status"] == 502 and "wrong-token" not in bad["payload"]


def test_the_entry_point_imports_outside_splunk():
    code = (
        "import sys; sys.path.insert(0, 'app/bin'); import malicious_image_layer as m; "
        "print(m.LayerHandler().handle('[]')['status'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=APP.parent)
    assert out.stdout.strip() == "400"


def test_conf_exposes_the_handler():
    restmap = (APP / "default" / "restmap.conf").read_text()
    web = (APP / "default" / "web.conf").read_text()
    assert "handler = malicious_image_layer.LayerHandler" in restmap and "python.version = python3" in restmap
    assert "requireAuthentication = true" in restmap and "pattern = malicious_image/attack_layer" in web


def test_enabled_searches_keeps_scheduled_enabled_annotated_ones():
    key = "action.correlationsearch.annotations"
    twice = json.dumps({"mitre_attack": ["T1204.003"] * 2})
    entries = [
        {"name": "A", "content": {"is_scheduled": "1", "disabled": "0", key: twice}},
        {"name": "B", "content": {"is_scheduled": "1", "disabled": "1", key: '{"mitre_attack": ["T1610"]}'}},
        {"name": "C", "content": {"is_scheduled": "0", key: '{"mitre_attack": ["T1204"]}'}},
        {"name": "D", "content": {"is_scheduled": "true", key: "not json"}},
    ]  # fmt: skip

    class Client:
        base = "https://127.0.0.1:8089"

        def call(self, method, url, **kwargs):
            assert url == self.base + "/servicesNS/-/-/saved/searches" and kwargs["params"]["count"] == 0
            return type("Answer", (), {"json": lambda self: {"entry": entries}})()

    assert enabled_searches(Client()) == [("A", ["T1204.003"])]
