"""The input's settings: one parser and validator (malicious_image.settings), its defaults, its
messages, the truthiness helper, and inputs.conf.spec checked against the fields."""

from __future__ import annotations

import re
from dataclasses import FrozenInstanceError, asdict, fields

import pytest

from malicious_image.settings import (
    FIELD_NAMES,
    FIELDS,
    LOOPBACK_HOSTS,
    InputConfigError,
    InputSettings,
    is_loopback,
    is_true,
    parse_input_settings,
)
from tests.support.paths import APP

pytestmark = pytest.mark.runtime
SPEC = APP / "README" / "inputs.conf.spec"


def test_defaults_fill_an_empty_stanza():
    assert asdict(parse_input_settings({})) == {
        "repository": "https://github.com/splunk/security_content",
        "ref": "develop",
        "proxy": "",
        "ca_bundle": "",
        "api_url": "https://api.github.com",
        "interval": 21600,
        "splunkd_ca_file": "",
        "splunkd_cert_name": "",
        "attack_source": "",
        "attack_version": "",
        "accept_format_change": False,
    }


def test_settings_are_frozen_and_ignore_standard_keys():
    settings = parse_input_settings({"disabled": "0", "index": "main", "host": "sh1", "python.version": "python3"})
    assert settings == InputSettings()
    with pytest.raises(FrozenInstanceError):
        settings.ref = "main"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"repository": "https://github.com/splunk"}, "https://github.com/OWNER/NAME"),
        ({"repository": "https://u:p@github.com/a/b"}, "must not contain credentials"),
        ({"repository": "relative/path.tar.gz"}, "absolute path"),
        ({"repository": "/nonexistent/sc.tar.gz"}, "does not exist on this search head"),
        ({"ref": "../../etc"}, "ref must be a branch, tag or commit SHA"),
        ({"ref": "dev elop"}, "ref must be"),
        ({"proxy": "proxy.example.com:3128"}, "proxy must be a URL"),
        ({"api_url": "http://ghe.example.com/api/v3"}, "plain http only on this host's loopback"),
        ({"ca_bundle": "/nonexistent.pem"}, "ca_bundle must be the absolute path of a PEM file"),
        ({"interval": "60"}, "interval must be a number of seconds, at least 300"),
        ({"interval": "0 */6 * * *"}, "interval must be a number of seconds"),
        ({"splunkd_ca_file": "cacert.pem"}, "splunkd_ca_file must be the absolute path of a PEM file"),
        ({"splunkd_cert_name": "Splunk Server"}, "splunkd_cert_name must be a certificate name"),
        ({"attack_source": "mitre"}, "attack_source must be github, security_content, the https:// URL"),
        ({"attack_source": "http://mirror.example.com/index.json"}, "plain http only on this host's loopback"),
        ({"attack_source": "/nonexistent/enterprise-attack.json"}, "does not exist on this search head"),
        ({"attack_version": "latest"}, "attack_version must be an ATT&CK release"),
    ],
)
def test_bad_parameters_say_what_to_enter(params, message):
    with pytest.raises(InputConfigError, match=re.escape(message)):
        parse_input_settings(params)


def test_local_paths_and_loopback_api_are_accepted(tmp_path):
    tarball = tmp_path / "sc.tar.gz"
    tarball.write_bytes(b"")
    assert parse_input_settings({"repository": str(tarball)}).repository == str(tarball)
    assert parse_input_settings({"repository": str(tarball)}).is_local
    assert parse_input_settings({"api_url": "http://127.0.0.1:8080/"}).api_url == "http://127.0.0.1:8080"


def test_new_settings_are_parsed(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = parse_input_settings(
        {
            "interval": "300",
            "splunkd_ca_file": str(ca),
            "splunkd_cert_name": "SplunkServerDefaultCert",
            "attack_source": str(tmp_path),
            "attack_version": "v17.1",
            "accept_format_change": "true",
        }
    )
    assert (settings.interval, settings.splunkd_ca_file, settings.splunkd_cert_name) == (
        300, str(ca), "SplunkServerDefaultCert"
    )
    assert (settings.attack_source, settings.attack_version, settings.accept_format_change) == (
        str(tmp_path), "v17.1", True
    )
    assert parse_input_settings({"attack_source": "security_content"}).attack_source == "security_content"


def test_a_proxy_password_never_reaches_the_message():
    with pytest.raises(InputConfigError) as caught:
        parse_input_settings({"proxy": "socks5://user:hunter2-secret@proxy:1080"})
    assert "hunter2-secret" not in str(caught.value) and "proxy must be a URL" in str(caught.value)
    with pytest.raises(InputConfigError, match="must not contain a password") as caught:
        parse_input_settings({"proxy": "http://user:hunter2-secret@proxy:3128"})
    assert "hunter2-secret" not in str(caught.value)


@pytest.mark.parametrize("word", ["1", "true", "TRUE", "t", "yes", "Y", " on "])
def test_true_words(word):
    assert is_true(word)


@pytest.mark.parametrize("word", ["0", "false", "f", "no", "n", "off", "", None, "maybe", "2"])
def test_false_words(word):
    assert not is_true(word)


def test_one_loopback_list():
    assert all(is_loopback(host) for host in LOOPBACK_HOSTS)
    assert is_loopback("[::1]") and is_loopback("LOCALHOST")
    assert not is_loopback("127.0.0.1.example.com") and not is_loopback("")


def test_every_field_is_a_setting_and_has_a_description():
    settings_fields = {f.name for f in fields(InputSettings)}
    assert set(FIELD_NAMES) == settings_fields - {"interval"}  # interval is inputs.conf's own setting
    assert all(f.title and f.description for f in FIELDS)


def _spec_settings() -> dict[str, str]:
    """``name = <type>`` lines of inputs.conf.spec and the bullet text under each."""
    found: dict[str, str] = {}
    current = None
    for line in SPEC.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([a-z_.]+) = <[a-z]+>$", line)
        if match:
            current = match.group(1)
            found[current] = ""
        elif current and line.startswith("*"):
            found[current] += line
    return found


def test_inputs_conf_spec_documents_exactly_the_fields():
    documented = _spec_settings()
    assert sorted(documented) == sorted(FIELD_NAMES)
    for name in FIELD_NAMES:
        assert "Default" in documented[name], f"inputs.conf.spec gives no default for {name}"


def test_the_spec_states_the_interval_minimum():
    assert "300" in SPEC.read_text(encoding="utf-8")
