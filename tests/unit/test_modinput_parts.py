"""Parts of the modular input in-process: parameter checks, SHC guard, run lock, secrets, proxy URL."""

from __future__ import annotations

import pytest

from malicious_image.splunkd.kvstore import SplunkdClient
from malicious_image.splunkd.log import redact
from malicious_image.splunkd.modinput import (
    RunLock,
    RunSkipped,
    check_captain,
    read_secrets,
)
from malicious_image.splunkd.sync_input import proxy_url
from tests.emulators.splunkd_server import SplunkdEmulator
from tests.secrets_audit import GITHUB_TOKEN, OTHER_APP_PASSWORD, PROXY_PASSWORD, PROXY_PASSWORD_URL_CHARS

pytestmark = pytest.mark.runtime


@pytest.mark.parametrize(
    ("role", "host", "expected"), [("standalone", "sh1", "standalone"), ("captain", "sh1", "captain")]
)
def test_standalone_and_captain_run(role, host, expected):
    with SplunkdEmulator(shc_role=role, server_name="sh1") as server:
        client = SplunkdClient(server.url, server.session_key, verify=str(server.ca_file))
        assert check_captain(client, host) == expected


def test_a_member_that_is_not_captain_is_skipped():
    with SplunkdEmulator(shc_role="member", server_name="sh2", captain_name="sh1") as server:
        with pytest.raises(RunSkipped, match=r"sh2.*not the captain \(sh1\)"):
            check_captain(SplunkdClient(server.url, server.session_key, verify=str(server.ca_file)), "sh2")


def test_the_run_lock_admits_one_holder_at_a_time(tmp_path):
    path = str(tmp_path / "cp" / "security_content.lock")
    with RunLock(path):
        with pytest.raises(RunSkipped, match="another run"):
            RunLock(path).__enter__()
    with RunLock(path):  # released on exit
        pass


def test_secrets_are_read_from_the_app_realm_only_and_registered():
    with SplunkdEmulator() as server:
        server.store_password("malicious_image", "github_token", GITHUB_TOKEN)
        server.store_password("malicious_image", "proxy_password", PROXY_PASSWORD)
        server.store_password("other_app", "github_token", OTHER_APP_PASSWORD)
        found = read_secrets(SplunkdClient(server.url, server.session_key, verify=str(server.ca_file)))
    assert found == {"token": GITHUB_TOKEN, "proxy_password": PROXY_PASSWORD}
    assert redact(f"x {GITHUB_TOKEN} {PROXY_PASSWORD}") == "x ******** ********"


def test_the_proxy_password_is_put_in_the_url_and_masked():
    url = proxy_url("http://svc@proxy.example.com:3128", PROXY_PASSWORD_URL_CHARS)
    assert url == "http://svc:p%40ss%3Aw%2Frd-doNotLeak@proxy.example.com:3128"
    assert "p%40ss%3Aw%2Frd-doNotLeak" not in redact(f"connecting via {url}")
    assert proxy_url("http://proxy.example.com:3128", "unused") == "http://proxy.example.com:3128"
    assert proxy_url("", None) is None


def test_spec_scheme_and_default_stanza_agree():
    import re

    from malicious_image.splunkd.modinput import SecurityContentInput
    from tests.emulators.splunkd_server import read_conf
    from tests.support.paths import APP

    spec = (APP / "README" / "inputs.conf.spec").read_text()
    assert spec.startswith("[security_content://<name>]")
    spec_keys = re.findall(r"^(\w+) = <", spec, re.M)
    scheme_args = [a.name for a in SecurityContentInput().get_scheme().arguments]
    assert spec_keys == scheme_args
    stanza = read_conf(APP / "default" / "inputs.conf")["security_content"]
    assert stanza["interval"] == "21600" and stanza["disabled"] == "1"
    assert stanza["python.version"] == "python3" and stanza["python.required"] == "3.9, 3.13"
    assert not any("password" in key or "token" in key for key in stanza)


def test_settings_reach_run_sync_as_the_drift_override_and_the_attack_provider(tmp_path):
    from malicious_image.content.attack_sources import GitHubAttack, LocalAttack, SecurityContentAttack
    from malicious_image.settings import InputSettings
    from malicious_image.splunkd.sync_input import sync_options

    def options(**fields):
        return sync_options(InputSettings(**fields), {}, str(tmp_path))

    on_github = options(accept_format_change=True)
    assert on_github["accept_format_change"] is True
    assert isinstance(on_github["attack"], GitHubAttack)  # automatic: the repository is on github.com
    local = options(repository=str(tmp_path))
    assert local["accept_format_change"] is False
    assert isinstance(local["attack"], SecurityContentAttack)  # a local repository never leads to the network
    enterprise = options(api_url="https://ghe.example.com/api/v3")
    assert isinstance(enterprise["attack"], SecurityContentAttack)
    bundle = tmp_path / "enterprise-attack-19.0.json"
    bundle.write_text("{}")
    assert isinstance(options(repository=str(tmp_path), attack_source=str(bundle))["attack"], LocalAttack)
    mirror = options(repository=str(tmp_path), attack_source="https://mirror.example.com/attack/index.json")
    assert isinstance(mirror["attack"], GitHubAttack) and mirror["attack"].index_url.startswith("https://mirror")
