"""The settings page, driven in headless Chromium against emulated Splunk Web and splunkd.

What an admin would notice: a token typed in and saved lands in storage/passwords and nowhere
else (no conf file, not in the page after a reload, not in any answer the page received); a
changed interval lands in local/inputs.conf; a value the input refuses shows the input's own
message and nothing is written; a setting the installed input does not take is not offered.
"""

from __future__ import annotations

import pytest

from tests.browser.page_driver import missing, run_steps
from tests.browser.settings_site import APP, settings_site
from tests.emulators.splunkd_inputs import ModularInputEndpoints
from tests.secrets_audit import GITHUB_TOKEN, PROXY_PASSWORD, record

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(bool(missing()), reason=missing() or "ready"),
]

READY = "#mi-settings[data-state='ready']"
MESSAGE = "#mi-message:not([hidden])"
TOKEN_ENTRY = "malicious_image:github_token:"
PROXY_ENTRY = "malicious_image:proxy_password:"


@pytest.fixture
def site(tmp_path):
    with settings_site(tmp_path) as running:
        yield running


def drive(steps):
    """Run the steps; only the page's probe for a secret that is not stored may answer an error."""
    answer = run_steps(steps)
    record("settings page: what the browser read", answer)
    assert answer["console"] == [], answer["console"]
    unexpected = [e for e in answer["http_errors"] if not (e[0] == 404 and "/storage/passwords/" in e[2])]
    return answer["results"], unexpected


def save_and_read_message():
    return [{"click": "#save"}, {"wait": MESSAGE}, {"attr": ["#mi-message", "data-kind"]}, {"text": "#mi-message"}]


def test_token_goes_to_storage_passwords_only_and_the_interval_to_local_inputs_conf(site):
    page = site.web.page_url("settings")
    results, errors = drive(
        [
            {"goto": page},
            {"wait": READY},
            {"fill": ["#field-interval", "3600"]},
            {"fill_secret": ["#field-github_token", "GitHub token"]},
            {"fill_secret": ["#field-proxy_password", "proxy password"]},
            *save_and_read_message(),
            {"html": True},
            {"reload": True},
            {"wait": READY},
            {"text": "#state-github_token"},
            {"html": True},
            {"value": "#field-github_token"},
        ]
    )
    kind, text, html_after_save, status, html_after_reload, token_value = results
    assert (kind, text) == ("success", "Saved. The next run uses the new settings."), text
    assert errors == []
    passwords = site.splunkd.passwords
    assert passwords[TOKEN_ENTRY]["clear_password"] == GITHUB_TOKEN
    assert passwords[PROXY_ENTRY]["clear_password"] == PROXY_PASSWORD
    assert {p["realm"] for p in passwords.values()} == {"malicious_image"}
    confs = site.conf_files()
    assert list(confs) == ["local/inputs.conf"]
    assert "[security_content://upstream]" in confs["local/inputs.conf"]
    assert "interval = 3600" in confs["local/inputs.conf"]
    for secret in (GITHUB_TOKEN, PROXY_PASSWORD):
        assert all(secret not in text for text in confs.values())
        assert secret not in html_after_save and secret not in html_after_reload
        # never read back: no answer to the page's GETs holds it (a POST's answer is splunkd's echo
        # of what the page just sent; the page asks for f=username there too and ignores it)
        assert all(secret not in body for method, _, body in site.web.answers if method == "GET")
    reads = [(m, p) for m, p, _ in site.web.answers if m == "GET" and "storage/passwords" in p]
    assert reads and all(p.endswith("%3A") for _, p in reads)  # entity probes, never the list
    assert status.startswith("Stored (hidden)")
    assert token_value == ""


def test_editing_the_interval_rewrites_the_same_stanza(site):
    page = site.web.page_url("settings")
    first, errors = drive(
        [
            {"goto": page},
            {"wait": READY},
            {"visible": "#field-name"},
            {"visible": "#mi-stanza"},
            {"fill": ["#field-interval", "3600"]},
            *save_and_read_message(),
        ]
    )
    assert first[:2] == [True, False]  # a new input needs a name; nothing to choose from
    assert first[2] == "success", first[3]
    second, more_errors = drive(
        [
            {"goto": page},
            {"wait": READY},
            {"text": "#mi-status"},
            {"value": "#field-interval"},
            {"visible": "#field-name"},
            {"visible": "#mi-stanza"},
            {"fill": ["#field-interval", "7200"]},
            *save_and_read_message(),
        ]
    )
    assert second[:4] == ["Editing input upstream.", "3600", False, False]  # no name to type, one input
    assert second[4] == "success", second[5]
    assert errors == more_errors == []
    conf = site.conf_files()["local/inputs.conf"]
    assert conf.count("[security_content://") == 1
    assert "interval = 7200" in conf and "interval = 3600" not in conf


def test_a_value_the_input_refuses_shows_its_message_and_nothing_is_stored(site):
    page = site.web.page_url("settings")
    results, errors = drive(
        [
            {"goto": page},
            {"wait": READY},
            {"fill": ["#field-repository", "http://github.com/splunk/security_content"]},
            {"fill_secret": ["#field-github_token", "GitHub token"]},
            *save_and_read_message(),
        ]
    )
    kind, text = results
    assert errors == [
        [400, "POST", "/en-US/splunkd/__raw/servicesNS/nobody/malicious_image/data/inputs/security_content"]
    ]
    assert kind == "error"
    assert "repository must use https://" in text  # the script's own --validate-arguments message
    assert site.conf_files() == {}
    assert site.splunkd.passwords == {}  # the secret waits until the input is valid


def test_an_interval_under_the_minimum_is_refused_before_anything_is_sent(site):
    page = site.web.page_url("settings")
    results, errors = drive(
        [
            {"goto": page},
            {"wait": READY},
            {"fill": ["#field-interval", "60"]},
            *save_and_read_message(),
            {"attr": ["#field-interval", "aria-invalid"]},
        ]
    )
    kind, text, invalid = results
    assert errors == []
    assert kind == "error" and "at least 300" in text and invalid == "true"
    assert not [p for p in site.web.proxied if p[0] == "POST"]


def test_only_the_settings_the_installed_input_declares_are_offered(site):
    offered, errors = drive(
        [{"goto": site.web.page_url("settings")}, {"wait": READY}]
        + [{"visible": f"#field-{name}"} for name in OPTIONAL_FIELDS]
    )
    assert errors == []
    declared = set(site.inputs.arguments)
    assert dict(zip(OPTIONAL_FIELDS, offered)) == {name: name in declared for name in OPTIONAL_FIELDS}


def test_removing_a_secret_deletes_its_entry(site):
    site.splunkd.store_password("malicious_image", "github_token", GITHUB_TOKEN)
    results, errors = drive(
        [
            {"goto": site.web.page_url("settings")},
            {"wait": READY},
            {"click": "#remove-github_token"},
            {"wait": MESSAGE},
            {"text": "#state-github_token"},
        ]
    )
    assert errors == []
    assert results[0].startswith("Not stored")
    assert TOKEN_ENTRY not in site.splunkd.passwords


def test_the_server_refuses_a_short_interval_when_the_input_validates_it(tmp_path):
    """Once malicious_image.settings (seams branch) validates interval, splunkd refuses it too."""
    pytest.importorskip("malicious_image.settings")
    with settings_site(tmp_path) as running:
        assert isinstance(running.inputs, ModularInputEndpoints)
        import requests

        answer = requests.post(
            f"{running.web.url}/en-US/splunkd/__raw/servicesNS/nobody/malicious_image/data/inputs/security_content",
            headers={"X-Splunk-Form-Key": running.web.csrf_token},
            cookies=running.web.cookies,
            data={"name": "upstream", "interval": "60", "output_mode": "json"},
            timeout=60,
        )
        assert answer.status_code == 400, answer.text
        assert "interval" in answer.json()["messages"][0]["text"]
        assert running.conf_files() == {}


# A stand-in for the input once it declares every setting of malicious_image.settings (seams
# branch): the scheme's arguments, and a validation that refuses an unknown ATT&CK source.
FULL_SCHEME_SCRIPT = """
import sys
import xml.etree.ElementTree as ET

ARGS = {args!r}
if sys.argv[1:] == ["--scheme"]:
    args = "".join('<arg name="%s"><title>%s</title></arg>' % (a, a) for a in ARGS)
    print("<scheme><title>Security content sync</title><use_external_validation>true"
          "</use_external_validation><endpoint><args>" + args + "</args></endpoint></scheme>")
elif sys.argv[1:] == ["--validate-arguments"]:
    params = {{p.get("name"): p.text or "" for p in ET.fromstring(sys.stdin.read()).iter("param")}}
    source = params.get("attack_source", "")
    if source not in ("", "github", "security_content") and not source.startswith("/"):
        print("<error><message>attack_source must be github, security_content or an absolute "
              "path (got %s)</message></error>" % source)
        sys.exit(1)
"""


def full_scheme_app(tmp_path):
    """The real app's default/, metadata/ and appserver/, with the stand-in input script."""
    app = tmp_path / "source_app"
    (app / "bin").mkdir(parents=True)
    for part in ("default", "appserver", "metadata"):
        (app / part).symlink_to(APP / part, target_is_directory=True)
    script = FULL_SCHEME_SCRIPT.format(args=list(OPTIONAL_FIELDS))
    (app / "bin" / "security_content.py").write_text(script, encoding="utf-8")
    return app


def test_every_setting_of_the_full_input_is_offered_and_saved(tmp_path):
    with settings_site(tmp_path, full_scheme_app(tmp_path)) as running:
        page = running.web.page_url("settings")
        results, errors = drive(
            [
                {"goto": page},
                {"wait": READY},
                *({"visible": f"#field-{name}"} for name in OPTIONAL_FIELDS),
                {"fill": ["#field-attack_source", "mitre"]},
                *save_and_read_message(),
                {"fill": ["#field-attack_source", "security_content"]},
                {"fill": ["#field-attack_version", "19.0"]},
                {"fill": ["#field-splunkd_cert_name", "SplunkServerDefaultCert"]},
                {"check": ["#field-accept_format_change", True]},
                *save_and_read_message(),
            ]
        )
        offered, refused, saved = results[: len(OPTIONAL_FIELDS)], results[-4:-2], results[-2:]
        assert offered == [True] * len(OPTIONAL_FIELDS)
        message = (
            "Creating input upstream: attack_source must be github, security_content or an absolute path (got mitre)"
        )
        assert refused == ["error", message]
        assert saved[0] == "success", saved[1]
        assert len(errors) == 1 and errors[0][0] == 400  # the refused first save
        conf = running.conf_files()["local/inputs.conf"]
        for line in (
            "attack_source = security_content",
            "attack_version = 19.0",
            "splunkd_cert_name = SplunkServerDefaultCert",
            "accept_format_change = 1",
        ):
            assert line in conf
        assert running.inputs.validations[-1]["accept_format_change"] == "1"


OPTIONAL_FIELDS = (
    "repository",
    "ref",
    "proxy",
    "api_url",
    "ca_bundle",
    "splunkd_ca_file",
    "splunkd_cert_name",
    "attack_source",
    "attack_version",
    "accept_format_change",
)
