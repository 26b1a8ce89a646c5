"""The emulated splunkd input endpoints and Splunk Web proxy answer as the Splunk documents say.

These are what the settings page test runs against, so each strict behaviour is shown to bite:
unknown arguments, the input's own validation, CSRF, endpoints the app does not expose.
"""

from __future__ import annotations

import pytest
import requests

from tests.browser.settings_site import settings_site
from tests.emulators.splunkweb_server import exposed, pattern_matches
from tests.secrets_audit import GITHUB_TOKEN
from tests.support.splunkd_tls import trusting_session

NS = "servicesNS/nobody/malicious_image"


@pytest.fixture
def site(tmp_path):
    with settings_site(tmp_path) as running:
        yield running


def splunkd(site, method, rest, **kwargs):
    headers = {"Authorization": f"Splunk {site.splunkd.session_key}"}
    url = f"{site.splunkd.url}/{NS}/{rest}"
    return trusting_session(site.splunkd).request(method, url, headers=headers, timeout=60, **kwargs)


def web(site, method, rest, *, form_key=True, cookies=True, **kwargs):
    headers = {"X-Splunk-Form-Key": site.web.csrf_token} if form_key else {}
    url = f"{site.web.url}/en-US/splunkd/__raw/{NS}/{rest}"
    jar = site.web.cookies if cookies else {}
    return requests.request(method, url, headers=headers, cookies=jar, timeout=60, **kwargs)


def test_creating_an_input_writes_local_inputs_conf_after_the_script_validates_it(site):
    answer = splunkd(site, "POST", "data/inputs/security_content", data={"name": "upstream", "interval": "3600"})
    assert answer.status_code == 201, answer.text
    conf = (site.app_dir / "local" / "inputs.conf").read_text()
    assert "[security_content://upstream]" in conf and "interval = 3600" in conf
    assert site.inputs.validations[-1]["interval"] == "3600"  # the script saw the merged stanza
    listed = splunkd(site, "GET", "data/inputs/security_content", params={"output_mode": "json"}).json()
    content = listed["entry"][0]["content"]
    assert listed["entry"][0]["name"] == "upstream"
    assert content["interval"] == "3600" and content["ref"] == "develop"  # default stanza merged in
    assert content["disabled"] is True  # default/inputs.conf [security_content] disabled = 1


def test_the_inputs_own_validation_refuses_a_bad_value_and_nothing_is_written(site):
    answer = splunkd(
        site,
        "POST",
        "data/inputs/security_content",
        data={"name": "upstream", "repository": "http://github.com/splunk/security_content"},
    )
    assert answer.status_code == 400
    assert "repository must use https://" in answer.json()["messages"][0]["text"]
    assert not (site.app_dir / "local" / "inputs.conf").exists()


def test_an_argument_the_scheme_does_not_declare_is_refused(site):
    answer = splunkd(site, "POST", "data/inputs/security_content", data={"name": "x", "no_such_setting": "1"})
    assert answer.status_code == 400
    assert answer.json()["messages"][0]["text"] == 'Argument "no_such_setting" is not supported by this handler.'


def test_new_lists_the_schemes_arguments_and_the_standard_ones(site):
    content = splunkd(site, "GET", "data/inputs/security_content/_new").json()["entry"][0]["content"]
    optional = content["eai:attributes"]["optionalFields"]
    assert {"repository", "ref", "proxy", "api_url", "ca_bundle", "interval", "index"} <= set(optional)
    assert content["eai:attributes"]["requiredFields"] == ["name"]


def test_edit_enable_and_disable_update_the_stanza(site):
    splunkd(site, "POST", "data/inputs/security_content", data={"name": "upstream", "interval": "3600"})
    assert splunkd(site, "POST", "data/inputs/security_content/upstream", data={"interval": "7200"}).ok
    assert splunkd(site, "POST", "data/inputs/security_content/upstream/enable").ok
    stanza = site.splunkd.confs["inputs"]["security_content://upstream"]
    assert stanza == {"interval": "7200", "disabled": "0"}
    assert "interval = 7200" in (site.app_dir / "local" / "inputs.conf").read_text()
    assert splunkd(site, "POST", "data/inputs/security_content/nothere", data={"interval": "1"}).status_code == 404


def test_f_keeps_only_the_named_fields_of_a_password_entry(site):
    site.splunkd.store_password("malicious_image", "github_token", GITHUB_TOKEN)
    entry = "storage/passwords/malicious_image%3Agithub_token%3A"
    filtered = splunkd(site, "GET", entry, params={"output_mode": "json", "f": "username"})
    assert filtered.json()["entry"][0]["content"] == {"username": "github_token"}
    assert GITHUB_TOKEN not in filtered.text


def test_splunk_web_refuses_a_post_without_the_csrf_header_and_forwards_nothing(site):
    refused = web(site, "POST", "storage/passwords", form_key=False, data={"name": "github_token", "password": "x"})
    assert refused.status_code == 401 and "CSRF" in refused.text
    wrong = requests.post(
        f"{site.web.url}/en-US/splunkd/__raw/{NS}/storage/passwords",
        headers={"X-Splunk-Form-Key": "not-the-cookie"},
        cookies=site.web.cookies,
        data={"name": "github_token", "password": "x"},
        timeout=30,
    )
    assert wrong.status_code == 401
    assert site.splunkd.passwords == {}
    assert ("POST", f"/{NS}/storage/passwords") not in site.splunkd.requests
    form = {"name": "github_token", "realm": "malicious_image", "password": "x"}
    ok = web(site, "POST", "storage/passwords", data=form)
    assert ok.status_code == 201


def test_splunk_web_proxies_only_what_the_apps_web_conf_exposes(site):
    assert web(site, "GET", "data/inputs/security_content/_new").status_code == 200
    assert web(site, "GET", "storage/collections/config").status_code == 404  # not exposed by the app
    assert web(site, "DELETE", "data/inputs/security_content/upstream").status_code == 404  # method not listed
    assert web(site, "GET", "data/inputs/security_content", cookies=False).status_code == 401


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("a/b/c", "a/b/c", True),
        ("a/*/c", "a/b/c", True),
        ("a/*/c", "a/1/2/c", False),
        ("a/**/c", "a/1/2/3/c", True),
        ("a/elem-*/b", "a/elem-123/b", True),
        ("storage/passwords", "storage/passwords/x", False),
    ],
)
def test_expose_patterns_follow_web_conf_spec(pattern, path, expected):
    assert pattern_matches(pattern, path.split("/")) is expected


def test_expose_matches_services_and_servicesns_only():
    rules = [("storage/passwords", {"POST"})]
    assert exposed(rules, "services/storage/passwords", "POST")
    assert exposed(rules, "servicesNS/nobody/malicious_image/storage/passwords", "POST")
    assert not exposed(rules, "servicesNS/nobody/malicious_image/storage/passwords", "GET")
    assert not exposed(rules, "storage/passwords", "POST")
