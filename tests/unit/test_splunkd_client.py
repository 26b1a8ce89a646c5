"""The one splunkd client: its TLS policy against an emulated splunkd over HTTPS.

Emulated sites (Splunk's "Securing Splunk Enterprise": the default certificate
``SplunkServerDefaultCert`` is signed by ``$SPLUNK_HOME/etc/auth/cacert.pem``; hardening replaces
the certificate and names the new CA in server.conf ``[sslConfig] sslRootCAPath``, while the old
``cacert.pem`` stays on disk):

- default: a certificate whose only name is its CN ``SplunkServerDefaultCert`` (no IP address in
  its subject alternative names), signed by a test CA placed as ``etc/auth/cacert.pem``;
- hardened: a certificate from another CA named in ``etc/system/local/server.conf``.
"""

from __future__ import annotations

import pytest

from malicious_image.splunkd.client import (
    SplunkdClient,
    SplunkdConfigError,
    SplunkdError,
    read_conf_setting,
    splunkd_ca,
    splunkd_verify,
    tls_policy,
)
from malicious_image.splunkd.kvstore import KVStoreError, KVStoreTableWriter, kvstore_client
from malicious_image.splunkd.modinput import check_captain
from tests.emulators.splunkd_server import SplunkdEmulator
from tests.support.certs import make_ca, openssl_available
from tests.support.paths import APP

pytestmark = pytest.mark.runtime


@pytest.fixture(scope="module")
def splunk_pki(tmp_path_factory):
    """A CA like Splunk's (SplunkCommonCA), another CA, and a server certificate issued to
    SplunkServerDefaultCert only (no subject alternative names)."""
    if not openssl_available():
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("pki")
    ca = make_ca(folder, "SplunkCommonCA")
    make_ca(folder, "SomeOtherCA", name="other_ca")
    ca.issue("server", "SplunkServerDefaultCert")
    hardened = make_ca(folder, "Example Corp Issuing CA", name="corp_ca")
    hardened.issue("corp_server", "splunk-sh1.corp.example")
    return folder


def splunk_home(tmp_path, pki, *, hardened=False, local_conf=True):
    """$SPLUNK_HOME with etc/auth/cacert.pem (the default CA) and, when hardened, the corporate CA
    under etc/auth/mycerts named by server.conf [sslConfig] sslRootCAPath."""
    home = tmp_path / "splunk"
    (home / "etc" / "auth" / "mycerts").mkdir(parents=True)
    (home / "etc" / "auth" / "cacert.pem").write_bytes((pki / "ca.pem").read_bytes())
    if hardened:
        (home / "etc" / "auth" / "mycerts" / "corp_ca.pem").write_bytes((pki / "corp_ca.pem").read_bytes())
        level = "local" if local_conf else "default"
        (home / "etc" / "system" / level).mkdir(parents=True)
        (home / "etc" / "system" / level / "server.conf").write_text(
            "[general]\nserverName = sh1\n\n[sslConfig]\n# replaced by the security team\n"
            "serverCert = $SPLUNK_HOME/etc/auth/mycerts/corp_server.pem\n"
            "sslRootCAPath = $SPLUNK_HOME/etc/auth/mycerts/corp_ca.pem\n"
        )
    return home


def default_site(pki):
    return SplunkdEmulator(app_dir=APP, tls=(str(pki / "server.pem"), str(pki / "server.key")))


def hardened_site(pki):
    return SplunkdEmulator(app_dir=APP, tls=(str(pki / "corp_server.pem"), str(pki / "corp_server.key")))


# -- where the CA comes from ----------------------------------------------------------------------
def test_tls_verification_uses_splunks_ca_when_present(tmp_path):
    assert splunkd_verify(str(tmp_path)) is True
    auth = tmp_path / "etc" / "auth"
    auth.mkdir(parents=True)
    (auth / "cacert.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    assert splunkd_verify(str(tmp_path)) == str(auth / "cacert.pem")
    client = SplunkdClient("https://127.0.0.1:8089", "k", verify=splunkd_verify(str(tmp_path)))
    assert client.session.verify == str(auth / "cacert.pem")


def test_server_conf_local_then_default_names_the_ca(tmp_path):
    home = tmp_path / "splunk"
    for level, name in (("default", "default_ca.pem"), ("local", "local_ca.pem")):
        (home / "etc" / "system" / level).mkdir(parents=True)
        (home / "etc" / "auth" / name).parent.mkdir(parents=True, exist_ok=True)
        (home / "etc" / "auth" / name).write_text("pem")
        (home / "etc" / "system" / level / "server.conf").write_text(
            f"[sslConfig]\nsslRootCAPath = $SPLUNK_HOME/etc/auth/{name}\n"
        )
    (home / "etc" / "auth" / "cacert.pem").write_text("pem")
    assert splunkd_ca(str(home))[0] == str(home / "etc" / "auth" / "local_ca.pem")
    (home / "etc" / "system" / "local" / "server.conf").write_text("[sslConfig]\nsslVerifyServerCert = true\n")
    assert splunkd_ca(str(home))[0] == str(home / "etc" / "auth" / "default_ca.pem")
    (home / "etc" / "system" / "default" / "server.conf").write_text("[general]\nsslRootCAPath = elsewhere\n")
    assert splunkd_ca(str(home))[0] == str(home / "etc" / "auth" / "cacert.pem")


def test_a_ca_named_but_missing_is_a_clear_error(tmp_path):
    conf = tmp_path / "etc" / "system" / "local" / "server.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("[sslConfig]\nsslRootCAPath = $SPLUNK_HOME/etc/auth/gone.pem\n")
    with pytest.raises(SplunkdConfigError, match=r"sslRootCAPath names .*gone\.pem, which does not exist"):
        splunkd_ca(str(tmp_path))
    with pytest.raises(SplunkdConfigError, match=r"the splunkd CA file /nonexistent\.pem does not exist"):
        tls_policy("https://127.0.0.1:8089", ca_file="/nonexistent.pem")


def test_conf_reading_follows_the_conf_syntax(tmp_path):
    conf = tmp_path / "server.conf"
    conf.write_text("# sslRootCAPath = commented\n[sslConfig]\n sslRootCAPath=  /a.pem \n[other]\nsslRootCAPath = /b\n")
    assert read_conf_setting(str(conf), "sslConfig", "sslRootCAPath") == "/a.pem"
    assert read_conf_setting(str(conf), "sslConfig", "serverCert") is None
    assert read_conf_setting(str(tmp_path / "missing.conf"), "sslConfig", "sslRootCAPath") is None


def test_the_name_is_checked_everywhere_but_on_loopback():
    assert tls_policy("https://127.0.0.1:8089", splunk_home="").check_host is False
    assert tls_policy("https://[::1]:8089", cert_name="SplunkServerDefaultCert", splunk_home="").cert_name
    remote = tls_policy("https://splunk.example.com:8089", cert_name="SplunkServerDefaultCert", splunk_home="")
    assert remote.check_host is True and remote.cert_name == ""
    client = SplunkdClient("https://splunk.example.com:8089", "k", verify=True)
    assert type(client.session.get_adapter("https://splunk.example.com:8089/services")).__name__ == "HTTPAdapter"
    with pytest.raises(ValueError, match="cannot be turned off"):
        SplunkdClient("https://127.0.0.1:8089", "k", verify=False)
    with pytest.raises(SplunkdConfigError, match="server_uri must be an http"):
        SplunkdClient("127.0.0.1:8089", "k")


# -- against an emulated splunkd over HTTPS -------------------------------------------------------
def test_tls_to_a_loopback_splunkd_verifies_the_chain_against_splunks_ca(splunk_pki):
    with default_site(splunk_pki) as server:
        assert server.url.startswith("https://127.0.0.1:")
        good = SplunkdClient(server.url, server.session_key, verify=str(splunk_pki / "ca.pem"))
        assert KVStoreTableWriter(good).live_collection("macros") == "malicious_image_macros_a"
        wrong_ca = kvstore_client(server.url, server.session_key, verify=str(splunk_pki / "other_ca.pem"))
        with pytest.raises(KVStoreError, match="TLS verification of splunkd failed"):
            KVStoreTableWriter(wrong_ca).live_collection("macros")
        system_cas = kvstore_client(server.url, server.session_key, verify=True)
        with pytest.raises(KVStoreError, match="TLS verification"):
            KVStoreTableWriter(system_cas).live_collection("macros")


def test_a_default_install_works_with_nothing_configured(splunk_pki, tmp_path):
    home = splunk_home(tmp_path, splunk_pki)
    with default_site(splunk_pki) as server:
        client = kvstore_client(server.url, server.session_key, splunk_home=str(home))
        assert client.policy.ca_file == str(home / "etc" / "auth" / "cacert.pem")
        assert check_captain(client, "sh1") == "standalone"


@pytest.mark.parametrize("level", ["local", "default"])
def test_a_hardened_install_is_verified_against_server_conf(splunk_pki, tmp_path, level):
    home = splunk_home(tmp_path, splunk_pki, hardened=True, local_conf=level == "local")
    with hardened_site(splunk_pki) as server:
        client = kvstore_client(server.url, server.session_key, splunk_home=str(home))
        assert "sslRootCAPath" in client.policy.origin
        assert KVStoreTableWriter(client).live_collection("macros") == "malicious_image_macros_a"
        # the old cacert.pem (what the input used before) does not verify the new certificate
        old = kvstore_client(server.url, server.session_key, verify=str(home / "etc" / "auth" / "cacert.pem"))
        with pytest.raises(KVStoreError, match=r"TLS verification of splunkd failed \(\[SSL: CERTIFICATE_VERIFY"):
            check_captain(old, "sh1")


def test_the_ca_file_setting_overrides_server_conf(splunk_pki, tmp_path):
    home = splunk_home(tmp_path, splunk_pki, hardened=True)
    with default_site(splunk_pki) as server:
        by_conf = kvstore_client(server.url, server.session_key, splunk_home=str(home))
        with pytest.raises(KVStoreError, match=r"verified against .*sslRootCAPath"):
            check_captain(by_conf, "sh1")
        by_setting = kvstore_client(
            server.url, server.session_key, verify=str(splunk_pki / "ca.pem"), splunk_home=str(home)
        )
        assert check_captain(by_setting, "sh1") == "standalone"


def test_the_certificate_name_is_checked_when_given(splunk_pki):
    ca = str(splunk_pki / "ca.pem")
    with default_site(splunk_pki) as server:
        right = SplunkdClient(server.url, server.session_key, verify=ca, cert_name="SplunkServerDefaultCert")
        assert right.call("GET", right.global_url("server/info")).status_code == 200
        wrong = SplunkdClient(server.url, server.session_key, verify=ca, cert_name="OtherServerCert", retry_delays=())
        with pytest.raises(SplunkdError, match="TLS verification of splunkd failed") as caught:
            wrong.call("GET", wrong.global_url("server/info"))
        assert "OtherServerCert" in str(caught.value) and server.session_key not in str(caught.value)
