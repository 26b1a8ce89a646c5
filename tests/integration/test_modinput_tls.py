"""The modular input over HTTPS to an emulated splunkd, as splunkd runs it (issue 11 item 2).

splunkd hands the input ``server_uri = https://127.0.0.1:8089``. Emulated here, each after
Splunk's "Securing Splunk Enterprise" and server.conf.spec ``[sslConfig]``:

- a default install: splunkd's certificate names only its CN ``SplunkServerDefaultCert`` (no IP
  address in its subject alternative names) and is signed by ``$SPLUNK_HOME/etc/auth/cacert.pem``;
- a hardened install: the certificate comes from another CA, named in
  ``etc/system/local/server.conf [sslConfig] sslRootCAPath``, with the old ``cacert.pem`` on disk;
- the same hardened certificate with no server.conf to read (a CA kept elsewhere): the run fails
  with a message naming the setting, and succeeds once ``splunkd_ca_file`` names the CA.
"""

from __future__ import annotations

import pytest

from tests import hostile_archives as H
from tests.emulators.github_server import GitHubEmulator
from tests.emulators.splunkd_server import SplunkdEmulator
from tests.integration.modinput_harness import fixture, run_modinput
from tests.support.certs import make_ca, openssl_available
from tests.support.paths import APP

pytestmark = pytest.mark.runtime


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    if not openssl_available():
        pytest.skip("the openssl command line tool is missing")
    folder = tmp_path_factory.mktemp("pki")
    splunk_ca = make_ca(folder, "SplunkCommonCA")
    corp_ca = make_ca(folder, "Example Corp Issuing CA", name="corp_ca")
    return {
        "cacert": splunk_ca.cert,
        "corp_ca": corp_ca.cert,
        "default": splunk_ca.issue("default_server", "SplunkServerDefaultCert"),
        "hardened": corp_ca.issue("corp_server", "splunk-sh1.corp.example", sans=("DNS:splunk-sh1.corp.example",)),
    }


@pytest.fixture(scope="module")
def github():
    server = GitHubEmulator().start()
    server.set_ref_bytes("develop", H.tarball([]), H.COMMIT)
    yield server
    server.stop()


def splunk_home(tmp_path, pki, *, server_conf: bool):
    home = tmp_path / "splunk"
    (home / "var" / "log" / "splunk").mkdir(parents=True)
    (home / "etc" / "auth" / "mycerts").mkdir(parents=True)
    (home / "etc" / "auth" / "cacert.pem").write_bytes(pki["cacert"].read_bytes())
    (home / "etc" / "auth" / "mycerts" / "corp_ca.pem").write_bytes(pki["corp_ca"].read_bytes())
    if server_conf:
        (home / "etc" / "system" / "local").mkdir(parents=True)
        (home / "etc" / "system" / "local" / "server.conf").write_text(
            "[sslConfig]\nserverCert = $SPLUNK_HOME/etc/auth/mycerts/corp_server.pem\n"
            "sslRootCAPath = $SPLUNK_HOME/etc/auth/mycerts/corp_ca.pem\n"
        )
    return home


def run(server, github, home, **settings):
    xml = fixture(
        "run_github.xml",
        server_host="sh1",
        server_uri=server.url,
        session_key=server.session_key,
        api_url=github.url,
        checkpoint_dir=str(home / "modinputs" / "security_content"),
    )
    extra = "".join(f'<param name="{k}">{v}</param>' for k, v in settings.items())
    done = run_modinput([], xml.replace('<param name="ref">', extra + '<param name="ref">', 1), home)
    assert done.returncode == 0 and "Traceback" not in done.stdout + done.stderr, done.stderr
    return done.status


@pytest.mark.parametrize(("site", "server_conf"), [("default", False), ("hardened", True)])
def test_a_run_succeeds_on_the_default_and_the_hardened_certificate(pki, github, tmp_path, site, server_conf):
    home = splunk_home(tmp_path, pki, server_conf=server_conf)
    with SplunkdEmulator(app_dir=APP, tls=pki[site].pair) as server:
        assert server.url.startswith("https://127.0.0.1:")
        status = run(server, github, home)
        assert status["outcome"] == "updated", status.get("message")
        assert status["counts"]["detections"] == 3
        assert server.conf_value("transforms", "malicious_image_detections", "collection").endswith("_b")


def test_a_ca_splunkd_does_not_name_is_set_with_splunkd_ca_file(pki, github, tmp_path):
    home = splunk_home(tmp_path, pki, server_conf=False)
    with SplunkdEmulator(app_dir=APP, tls=pki["hardened"].pair) as server:
        failed = run(server, github, home)
        assert failed["outcome"] == "failed" and failed["error"] == "KVStoreError"
        assert "TLS verification of splunkd failed ([SSL: CERTIFICATE_VERIFY_FAILED]" in failed["message"]
        assert "etc/auth/cacert.pem" in failed["message"] and "splunkd_ca_file" in failed["message"]
        assert server.events == [] and not any("storage/collections" in p for _, p in server.requests)
        fixed = run(server, github, home, splunkd_ca_file=str(home / "etc" / "auth" / "mycerts" / "corp_ca.pem"))
        assert fixed["outcome"] == "updated", fixed.get("message")


def test_a_wrong_certificate_name_fails_and_the_right_one_succeeds(pki, github, tmp_path):
    home = splunk_home(tmp_path, pki, server_conf=False)
    with SplunkdEmulator(app_dir=APP, tls=pki["default"].pair) as server:
        wrong = run(server, github, home, splunkd_cert_name="SomeOtherCert")
        assert wrong["outcome"] == "failed" and "TLS verification of splunkd failed" in wrong["message"]
        right = run(server, github, home, splunkd_cert_name="SplunkServerDefaultCert")
        assert right["outcome"] == "updated", right.get("message")
