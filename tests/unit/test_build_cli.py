"""build.py's exit codes (one meaning each, listed by --help) and ``build.py sync``'s options read
through the input's one settings parser."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from devtools import exit_codes
from devtools.commands import sync as sync_command
from malicious_image.settings import InputConfigError
from tests.support.paths import ROOT


def test_exit_codes_are_distinct_and_listed_by_help():
    codes = [exit_codes.OK, exit_codes.FAILED, exit_codes.USAGE, exit_codes.BUSY, exit_codes.UNSUPPORTED_SPL]
    assert len(set(codes)) == len(codes) and set(exit_codes.MEANINGS) == set(codes)
    done = subprocess.run([sys.executable, str(ROOT / "build.py"), "--help"], capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    assert done.returncode == exit_codes.OK
    for code, meaning in exit_codes.MEANINGS.items():
        assert f"{code}  {meaning}" in done.stdout
    unknown = subprocess.run([sys.executable, str(ROOT / "build.py"), "nosuch"], capture_output=True, text=True,
                             timeout=60, check=False)  # fmt: skip
    assert unknown.returncode == exit_codes.USAGE and "unknown command 'nosuch'" in unknown.stderr


def _args(**given):
    values = {"source": "splunk/security_content", "ref": None, "proxy": None, "api_url": None, "ca_bundle": None}
    values.update(given)
    return argparse.Namespace(**values)


def test_sync_options_become_input_settings(tmp_path, monkeypatch):
    settings, password = sync_command._settings(_args())
    assert (settings.repository, settings.ref, settings.api_url) == (
        "https://github.com/splunk/security_content", "develop", "https://api.github.com"
    )
    assert password == ""
    (tmp_path / "sc.tar.gz").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    local, _ = sync_command._settings(_args(source="sc.tar.gz"))
    assert local.is_local and local.repository == str(tmp_path / "sc.tar.gz")


def test_a_proxy_password_on_the_command_line_is_kept_apart():
    settings, password = sync_command._settings(_args(proxy="http://alice:s%40cret@proxy.example:3128"))
    assert settings.proxy == "http://alice@proxy.example:3128" and password == "s@cret"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"source": "./missing.tar.gz"}, "does not exist"),
        ({"ref": "../etc"}, "ref must be a branch"),
        ({"api_url": "http://ghe.example.com/api/v3"}, "plain http only on this host's loopback"),
    ],
)
def test_bad_sync_options_get_the_inputs_messages(given, message):
    with pytest.raises(InputConfigError, match=message):
        sync_command._settings(_args(**given))
