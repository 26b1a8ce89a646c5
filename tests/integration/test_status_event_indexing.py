"""Status events survive indexing: the worst-case event the input can write goes through the
emulator's receivers/simple, which cuts at the sourcetype's props.conf TRUNCATE as splunkd does,
and every field reads back.

Two worst cases: a real run (as splunkd runs it) over a content with 600 broken detections whose
paths and reasons are long and not ASCII, and a synthetic event in which every list the status
event can carry is huge.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from malicious_image.splunkd import status_event
from tests import hostile_archives as H
from tests.emulators.splunkd_server import SplunkdEmulator, read_conf
from tests.integration.modinput_harness import fixture, log_text, run_modinput
from tests.support import certs
from tests.support.paths import APP
from tests.support.splunkd_tls import trusting_session

pytestmark = [
    pytest.mark.runtime,
    pytest.mark.skipif(not certs.openssl_available(), reason="the openssl command line tool is missing"),
]

SOURCETYPE = "malicious_image:sync"
BROKEN = 600


def index(server, raw: str, sourcetype: str = SOURCETYPE) -> str:
    """POST one event to receivers/simple; return the _raw splunkd stored."""
    answer = trusting_session(server).post(
        server.url + "/services/receivers/simple",
        headers={"Authorization": f"Splunk {server.session_key}"},
        params={"sourcetype": sourcetype, "index": "main", "source": "security_content://upstream", "host": "sh1"},
        data=raw.encode("utf-8"),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return server.events[-1]["_raw"]


def test_props_truncate_holds_the_largest_event_the_input_writes():
    props = read_conf(APP / "default" / "props.conf")[SOURCETYPE]
    assert props["KV_MODE"] == "json"
    assert int(props["TRUNCATE"]) >= status_event.MAX_EVENT_BYTES


def test_a_run_with_600_rejections_reads_back_whole_after_indexing(tmp_path):
    home = tmp_path / "splunk"
    (home / "var" / "log" / "splunk").mkdir(parents=True)
    paths = [f"detections/cloud/détection_cassée_{'x' * 60}_{n:04d}.yml" for n in range(BROKEN)]
    content = tmp_path / "content.tar.gz"
    content.write_bytes(H.tarball([H.regular(p, b"name: [unclosed \xc3\xa9\n") for p in paths]))
    with SplunkdEmulator(app_dir=APP, splunk_home=home) as server:
        xml = fixture("run_local.xml", server_host="sh1", server_uri=server.url, session_key=server.session_key,
                      checkpoint_dir=str(tmp_path / "cp"), repository=str(content))  # fmt: skip
        done = run_modinput([], xml, home)
        raw = ET.fromstring(done.stdout).find("event/data").text  # the event text as splunkd gets it
        data = done.status
        stored = index(server, raw)
        cut_by_default = index(server, raw, sourcetype="some:other")
    assert data["outcome"] == "updated" and data["rejected_total"] == BROKEN
    assert json.loads(stored) == data  # every field, whole
    with pytest.raises(ValueError):  # what happened before props.conf had the stanza
        json.loads(cut_by_default)
    size = len(raw.encode("utf-8"))
    assert 10000 < size <= status_event.MAX_EVENT_BYTES
    listed = [r for r in data["rejected"] if isinstance(r, dict)]
    assert data["rejected"][-1] == status_event.more_text(BROKEN - len(listed))
    assert [r["path"] for r in listed] == paths[: len(listed)]
    head = raw.encode("utf-8")[: status_event.EXTRACTION_CUTOFF].decode("utf-8", "ignore")
    for key in ("outcome", "commit", "message", "counts", "rejected_total"):
        assert f'"{key}": ' in head, f"{key} is not in the first {status_event.EXTRACTION_CUTOFF} bytes"
    log = log_text(home)
    shortened = [line for line in log.splitlines() if "event=status_event_shortened" in line]
    assert len(shortened) == 1 and "field=rejected" in shortened[0]
    assert all(p in shortened[0] for p in paths)  # the whole list is in the log


def worst_case_event() -> dict:
    """Every list and map the status event can carry, huge, with multi-byte text."""
    reason = "YAML parse error: unexpected end of stream — «ligne 3» " * 6
    return {
        "outcome": "failed",
        "stanza": "security_content://upstream",
        "repository": "https://github.com/splunk/security_content",
        "ref": "develop",
        "commit": "b" * 40,
        "generation": "7-20261205T070000Z",
        "error": "FormatDriftError",
        "message": "the content's format changed: " + "ünknown key 'x' " * 400,
        "counts": {t: 1711 for t in ("detections", "techniques", "tactics", "stories", "macros", "groups")},
        "rejected": [{"path": f"detections/cloud/rule_{n:05d}.yml", "reason": reason} for n in range(5000)],
        "rejected_total": 5000,
        "duplicate_detection_ids": {f"{n:08d}-0000-4000-8000-000000000000": [f"a/{n}.yml", f"b/{n}.yml"]
                                    for n in range(3000)},
        "unmapped_detections": {"count": 900, "first": [{"path": f"detections/x_{n}.yml", "id": str(n)}
                                                         for n in range(100)]},
        "unknown_keys": {f"key_{n}": [f"detections/y_{m}.yml" for m in range(50)] for n in range(200)},
        "attack": {"source": "github", "version": "19.0", "fallback": True, "message": "é" * 5000},
        "durations": {"resolve": 0.1, "download": 1.2, "parse": 9.5, "total": 11.5, "run": 11.6},
        "kvstore": {"requests": 30, "batches": 6, "largest_batch": 1000, "documents_written": 2812},
        "search_head": "captain",
    }


def test_the_synthetic_worst_case_reads_back_whole_after_indexing(tmp_path):
    event, cut = status_event.fit(worst_case_event())
    raw = status_event.dumps(event)
    assert len(raw.encode("utf-8")) <= status_event.MAX_EVENT_BYTES
    assert set(cut) >= {"rejected", "duplicate_detection_ids", "unknown_keys"}
    with SplunkdEmulator(app_dir=APP, splunk_home=tmp_path) as server:
        stored = index(server, raw)
    assert json.loads(stored) == event
    assert set(event) == set(worst_case_event())  # no field lost, only shortened
    assert (event["outcome"], event["error"], event["commit"]) == ("failed", "FormatDriftError", "b" * 40)
