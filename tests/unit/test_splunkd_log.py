"""The app log: file under SPLUNK_HOME, key=value lines, registered secrets masked everywhere."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from malicious_image.splunkd.log import kv, redact, register_secret
from tests import secrets_audit
from tests.support.paths import ROOT

pytestmark = pytest.mark.runtime


def test_kv_quotes_values_that_need_it():
    assert kv(outcome="updated", n=3, message='bad "file" here', empty="") == (
        'outcome=updated n=3 message="bad \\"file\\" here" empty=""'
    )


def test_redact_masks_registered_secrets_only():
    register_secret("ghp_redactme0123456789")
    register_secret("ab")  # too short to mask safely: ignored
    assert redact("token ghp_redactme0123456789 in url") == "token ******** in url"
    assert redact("about") == "about"


def run_logging(tmp_path, splunk_home):
    script = textwrap.dedent(
        """
        import sys
        from malicious_image.splunkd.log import get_logger, register_secret, kv
        log = get_logger()
        register_secret("ghp_SECRETVALUE42")
        log.info(kv(event="test", url="https://x-access-token:ghp_SECRETVALUE42@github.com"))
        try:
            raise RuntimeError("auth failed for ghp_SECRETVALUE42")
        except RuntimeError:
            log.exception("failure %s", "ghp_SECRETVALUE42")
        """
    )
    env = {"PYTHONPATH": str(ROOT / "app" / "bin"), "PATH": "/usr/bin:/bin"}
    if splunk_home:
        env["SPLUNK_HOME"] = str(splunk_home)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    secrets_audit.record("logging subprocess stdout and stderr", done.stdout + done.stderr)
    return done


def test_log_file_under_splunk_home_never_holds_a_secret(tmp_path):
    done = run_logging(tmp_path, tmp_path)
    text = (tmp_path / "var" / "log" / "splunk" / "malicious_image.log").read_text()
    assert "level=INFO" in text and "event=test" in text and "RuntimeError" in text
    assert "ghp_SECRETVALUE42" not in text + done.stdout + done.stderr
    assert text.count("********") >= 3


def test_without_splunk_home_the_log_goes_to_stderr(tmp_path):
    done = run_logging(tmp_path, None)
    assert "event=test" in done.stderr and "ghp_SECRETVALUE42" not in done.stderr
    assert done.stdout == ""
