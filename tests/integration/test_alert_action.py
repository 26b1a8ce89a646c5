"""The custom alert action run as splunkd runs it: ``bin/malicious_image_notable.py --execute`` in a
subprocess, the JSON payload on stdin, a gzipped CSV results file, against the splunkd emulator."""

from __future__ import annotations

import csv
import gzip
import json
import os
import re
import subprocess
import sys

import pytest

from devtools import replay
from malicious_image import alerting
from tests import secrets_audit
from tests.emulators.splunkd_server import SplunkdEmulator
from tests.rules_support import HIGH, UNKNOWN
from tests.support.certs import make_ca, openssl_available
from tests.support.paths import APP

pytestmark = pytest.mark.runtime
SCRIPT = APP / "bin" / "malicious_image_notable.py"
SAMPLE_NOW = "2026-11-21T03:10:00Z"
# The interpreter that runs the action, as splunkd would (set it to a Python 3.9 or 3.13 to test those).
ACTION_PYTHON = os.environ.get("MALICIOUS_IMAGE_ACTION_PYTHON", sys.executable)


ES_APP = "SplunkEnterpriseSecuritySuite"


@pytest.fixture(scope="module")
def sample_outcome():
    return replay.replay_file(replay.ROOT / "samples" / "cloudtrail_ecr_sample.json", now=SAMPLE_NOW)


def _result(outcome, stanza):
    return next(r for r in outcome.results if r.stanza == stanza)


def write_results(path, rows):
    """Write rows as splunkd writes results.csv.gz: multivalues in __mv_<field> as $a$;$b$."""
    fields = []
    for row in rows:
        fields += [k for k in row if k not in fields]
    header = []
    for name in fields:
        header += [name, f"__mv_{name}"]
    with gzip.open(path, "wt", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            line = []
            for name in fields:
                value = row.get(name, "")
                if isinstance(value, list):
                    line += ["\n".join(value), ";".join("$" + v.replace("$", "$$") + "$" for v in value)]
                else:
                    line += [value, ""]
            writer.writerow(line)
    return path


def payload(server, stanza, results_file, **config):
    saved = replay.App.load().savedsearches[stanza]
    configuration = {"mode": "auto", "notable_index": "notable", "risk_index": "risk", "ca_file": ""}
    configuration.update(
        {k[len(alerting.PARAM_PREFIX) :]: v for k, v in saved.items() if k.startswith(alerting.PARAM_PREFIX)}
    )
    configuration.update(config)
    return {
        "app": "malicious_image",
        "owner": "nobody",
        "results_file": str(results_file),
        "results_link": "http://sh1:8000/app/malicious_image/search?sid=scheduler__nobody__rt_1",
        "search_uri": f"/servicesNS/nobody/malicious_image/saved/searches/{stanza}",
        "server_host": "sh1",
        "server_uri": server.url,
        "session_key": server.session_key,
        "sid": "scheduler__nobody__malicious_image__RMD5abc_at_1795748400_1",
        "search_name": stanza,
        "configuration": configuration,
        "result": {},
    }


def run_action(body, *args, splunk_home=None):
    """Run the action as splunkd does; ``splunk_home`` is the $SPLUNK_HOME splunkd gives its
    scripts (where the emulator keeps its CA, etc/auth/cacert.pem, and server.conf)."""
    env = {k: v for k, v in os.environ.items() if k != "SPLUNK_HOME"}
    if splunk_home is not None:
        env["SPLUNK_HOME"] = str(splunk_home)
    text = body if isinstance(body, str) else json.dumps(body)
    done = subprocess.run(
        [ACTION_PYTHON, str(SCRIPT), *(args or ("--execute",))],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    secrets_audit.record("alert action stdout", done.stdout)
    secrets_audit.record("alert action stderr", done.stderr)
    return done


def test_writes_one_notable_per_result_and_the_risk_events(splunkd, tmp_path, sample_outcome):
    high = _result(sample_outcome, HIGH)
    results = write_results(tmp_path / "results.csv.gz", high.rows)
    done = run_action(payload(splunkd, HIGH, results), splunk_home=splunkd.splunk_home)
    assert done.returncode == 0, done.stderr
    assert "notables=3 risk_events=3" in done.stderr
    assert splunkd.session_key not in done.stderr + done.stdout
    notables = [e for e in splunkd.events if e["sourcetype"] == "malicious_image:notable"]
    risks = [e for e in splunkd.events if e["sourcetype"] == "malicious_image:risk"]
    assert [(e["index"], e["source"], e["host"]) for e in notables] == [("notable", HIGH, "sh1")] * 3
    assert [(e["index"], e["source"]) for e in risks] == [("risk", HIGH)] * 3
    # props.conf reads the timestamp from the first key: TIME_PREFIX = ^\{"_time":\s*, TIME_FORMAT = %s
    assert all(re.match(r'^\{"_time": \d{10}', e["_raw"]) for e in splunkd.events)
    written = [json.loads(e["_raw"]) for e in notables]
    expected = [dict(n) for n in high.notables]
    for item in written + expected:
        for key in ("_time", "orig_sid", "event_id"):
            item.pop(key)
    assert written == expected
    first = written[0]
    assert first["rule_title"] == "Vulnerabilities with severity critical found in repository payments/api"
    assert (first["severity"], first["risk_object"], first["mitre_attack_technique"]) == (
        "critical",
        "payments/api",
        "T1204.003",
    )
    assert first["drilldown_searches"][0]["name"] == "View the detection results for payments/api"
    risk = json.loads(risks[0]["_raw"])
    assert (risk["risk_object"], risk["risk_object_type"], risk["risk_score"]) == (
        "payments/api",
        "other",
        70,
    )
    assert (risk["threat_object"], risk["threat_object_type"]) == (["security-audit"], ["user"])
    assert risk["annotations.mitre_attack"] == ["T1204.003", "T1204"]


def test_anomaly_rule_writes_risk_only_and_multivalues_survive(splunkd, tmp_path, sample_outcome):
    unknown = _result(sample_outcome, UNKNOWN)
    rows = [dict(unknown.rows[0], imageDigest=["sha256:1", "sha256:2"])]
    done = run_action(
        payload(splunkd, UNKNOWN, write_results(tmp_path / "r.csv.gz", rows)), splunk_home=splunkd.splunk_home
    )
    assert done.returncode == 0, done.stderr
    assert [e["sourcetype"] for e in splunkd.events] == ["malicious_image:risk"]
    risk = json.loads(splunkd.events[0]["_raw"])
    assert (risk["risk_object"], risk["risk_score"], risk["threat_object"]) == (
        "contractor-role",
        49,
        ["192.0.2.66"],
    )
    assert risk["imageDigest"] == ["sha256:1", "sha256:2"]
    assert risk["risk_message"] == "Container uploaded from unknown user contractor-role"


def test_with_enterprise_security_auto_mode_leaves_it_to_es(tmp_path, sample_outcome):
    rows = _result(sample_outcome, HIGH).rows
    with SplunkdEmulator(app_dir=APP) as server:
        server.apps[ES_APP] = {"disabled": False}
        done = run_action(
            payload(server, HIGH, write_results(tmp_path / "r.csv.gz", rows)), splunk_home=server.splunk_home
        )
        assert done.returncode == 0 and "mode=es" in done.stderr
        assert server.events == []
        forced = run_action(
            payload(server, HIGH, tmp_path / "r.csv.gz", mode="standalone"), splunk_home=server.splunk_home
        )
        assert forced.returncode == 0 and len(server.events) == 6


def test_a_disabled_enterprise_security_counts_as_absent(tmp_path, sample_outcome):
    rows = _result(sample_outcome, HIGH).rows
    with SplunkdEmulator(app_dir=APP) as server:
        server.apps[ES_APP] = {"disabled": True}  # installed, disabled = 1 in its app.conf
        done = run_action(
            payload(server, HIGH, write_results(tmp_path / "r.csv.gz", rows)), splunk_home=server.splunk_home
        )
        assert done.returncode == 0, done.stderr
        assert "mode=es" not in done.stderr and len(server.events) == 6
        assert ("GET", f"/services/apps/local/{ES_APP}") in server.requests


def test_es_mode_never_writes_and_never_asks(splunkd, tmp_path):
    done = run_action(payload(splunkd, HIGH, tmp_path / "absent.csv.gz", mode="es"), splunk_home=splunkd.splunk_home)
    assert done.returncode == 0 and splunkd.events == []
    assert not any("apps/local" in path for _, path in splunkd.requests)


@pytest.mark.parametrize(
    ("body", "args", "code", "message"),
    [
        ("not json", ("--execute",), 2, "not JSON"),
        (json.dumps({"search_name": "x"}), ("--execute",), 2, "lacks server_uri, session_key, results_file"),
        ("{}", ("--validate",), 2, "--execute"),
    ],
)
def test_bad_invocations_exit_2_with_a_message(body, args, code, message):
    done = run_action(body, *args)
    assert done.returncode == code and message in done.stderr


def test_bad_mode_and_missing_results_file(splunkd, tmp_path):
    done = run_action(payload(splunkd, HIGH, tmp_path / "r.csv.gz", mode="sometimes"), splunk_home=splunkd.splunk_home)
    assert done.returncode == 2 and "param.mode" in done.stderr
    done = run_action(payload(splunkd, HIGH, tmp_path / "missing.csv.gz"), splunk_home=splunkd.splunk_home)
    assert done.returncode == 2 and "cannot read the results file" in done.stderr


def test_splunkd_refusing_the_event_exits_3(splunkd, tmp_path, sample_outcome):
    splunkd.fail_request(1, status=403, match="receivers/simple")
    rows = _result(sample_outcome, HIGH).rows
    done = run_action(
        payload(splunkd, HIGH, write_results(tmp_path / "r.csv.gz", rows)), splunk_home=splunkd.splunk_home
    )
    assert done.returncode == 3 and "HTTP 403" in done.stderr and "index 'notable'" in done.stderr


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    if not openssl_available():
        pytest.skip("the openssl command line tool is missing")
    ca = make_ca(tmp_path_factory.mktemp("tls"), "Alert Action Test CA")
    return ca, ca.issue("server", "127.0.0.1", sans=("IP:127.0.0.1",))


def test_writes_against_splunkds_default_and_hardened_certificates(tmp_path, sample_outcome):
    """splunkd hands the action https://127.0.0.1:8089; its default certificate names only
    SplunkServerDefaultCert (no IP), a hardened one comes from the site CA of server.conf
    [sslConfig] sslRootCAPath with the old cacert.pem still on disk (REFERENCE.md section 8)."""
    rows = _result(sample_outcome, UNKNOWN).rows
    results = write_results(tmp_path / "r.csv.gz", rows)
    for variant in ("default", "hardened"):
        home = tmp_path / variant
        with SplunkdEmulator(app_dir=APP, tls=variant, splunk_home=home) as server:
            assert server.url.startswith("https://127.0.0.1:") and server.cert_name != "127.0.0.1"
            done = run_action(payload(server, UNKNOWN, results), splunk_home=home)
            assert done.returncode == 0, (variant, done.stderr)
            assert len(server.events) == 2 and {e["sourcetype"] for e in server.events} == {"malicious_image:risk"}


def test_tls_is_verified(certificate, tmp_path, sample_outcome):
    rows = _result(sample_outcome, UNKNOWN).rows
    results = write_results(tmp_path / "r.csv.gz", rows)
    ca, server_cert = certificate
    with SplunkdEmulator(app_dir=APP, tls=server_cert.pair) as server:
        untrusted = run_action(payload(server, UNKNOWN, results), splunk_home=server.splunk_home)
        assert untrusted.returncode == 3 and "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr
        assert server.events == []
        trusted = run_action(payload(server, UNKNOWN, results, ca_file=str(ca.cert)), splunk_home=server.splunk_home)
        assert trusted.returncode == 0, trusted.stderr
        assert len(server.events) == 2
