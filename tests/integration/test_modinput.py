"""The modular input run as splunkd runs it: --scheme, --validate-arguments and the run, each a
subprocess fed the exact XML, against the splunkd emulator (and the GitHub emulator for syncs)."""

from __future__ import annotations

import fcntl
import xml.etree.ElementTree as ET

import pytest

from tests.emulators.splunkd_server import SplunkdEmulator
from tests.integration.modinput_harness import fixture, log_text, run_modinput
from tests.support.paths import APP

pytestmark = pytest.mark.runtime


def run_xml(server, splunk_home, *, api_url="https://api.github.com", server_host="sh1", session_key=None):
    return fixture(
        "run_github.xml",
        server_host=server_host,
        server_uri=server.url,
        session_key=session_key or server.session_key,
        checkpoint_dir=str(splunk_home / "modinputs" / "security_content"),
        api_url=api_url,
    )


def kv_writes(server):
    return [(m, p) for m, p in server.requests if m in ("POST", "DELETE") and "/storage/collections/" in p]


def test_scheme_describes_the_input_for_splunk_web(splunk_home):
    done = run_modinput(["--scheme"], "", splunk_home)
    assert done.returncode == 0, done.stderr
    scheme = ET.fromstring(done.stdout)
    assert scheme.findtext("title") == "Security content sync"
    assert scheme.findtext("use_single_instance") == "false"
    assert scheme.findtext("use_external_validation") == "true"
    assert scheme.findtext("streaming_mode") == "xml"
    names = [arg.get("name") for arg in scheme.iter("arg")]
    assert names == [
        "repository", "ref", "proxy", "api_url", "ca_bundle",  # the settings before issue 14
        "splunkd_ca_file", "splunkd_cert_name", "attack_source", "attack_version", "accept_format_change",
    ]  # fmt: skip
    assert not any("token" in name or "password" in name for name in names)
    assert all(arg.findtext("required_on_create") == "false" for arg in scheme.iter("arg"))


def test_validate_accepts_a_good_stanza(splunkd, splunk_home):
    xml = fixture(
        "validate_ok.xml",
        server_uri=splunkd.url,
        session_key=splunkd.session_key,
        checkpoint_dir=str(splunk_home),
    )
    done = run_modinput(["--validate-arguments"], xml, splunk_home)
    assert (done.returncode, done.stdout) == (0, "")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("validate_proxy_password.xml", "proxy must not contain a password; store it in storage/passwords"),
        ("validate_http_repository.xml", "repository must use https://"),
    ],
)
def test_validate_rejects_with_a_message_the_admin_can_act_on(splunkd, splunk_home, name, expected):
    xml = fixture(name, server_uri=splunkd.url, session_key=splunkd.session_key, checkpoint_dir=str(splunk_home))
    done = run_modinput(["--validate-arguments"], xml, splunk_home)
    assert done.returncode == 1
    error = ET.fromstring(done.stdout)
    assert error.tag == "error" and expected in error.findtext("message")
    assert "Pr0xyPassw0rd" not in done.stdout + done.stderr + log_text(splunk_home)


def test_a_cluster_member_that_is_not_captain_skips_and_says_why(splunk_home):
    member = SplunkdEmulator(
        app_dir=APP, shc_role="member", server_name="sh2", captain_name="sh1", splunk_home=splunk_home
    ).start()
    try:
        done = run_modinput([], run_xml(member, splunk_home, server_host="sh2"), splunk_home)
    finally:
        member.stop()
    assert done.returncode == 0 and "Traceback" not in done.stdout
    status = done.status
    assert status["outcome"] == "skipped"
    assert "not the captain (sh1)" in status["message"]
    # membership from server/info roles, then the member's own status, then the captain
    assert [p for _, p in member.requests] == [
        "/services/server/info",
        "/services/shcluster/member/info",
        "/services/shcluster/captain/info",
    ]
    assert "outcome=skipped" in log_text(splunk_home)


def test_a_second_run_while_one_holds_the_lock_exits_saying_why(splunkd, splunk_home):
    lock_path = splunk_home / "modinputs" / "security_content" / "security_content.lock"
    lock_path.parent.mkdir(parents=True)
    with open(lock_path, "a+b") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write(b"4242")
        held.flush()
        done = run_modinput([], run_xml(splunkd, splunk_home), splunk_home)
    assert done.status["outcome"] == "skipped"
    assert "another run of the security_content input is in progress (pid 4242)" in done.status["message"]
    assert kv_writes(splunkd) == []


def test_a_rejected_session_key_is_one_failed_event_and_one_log_line(splunkd, splunk_home):
    done = run_modinput([], run_xml(splunkd, splunk_home, session_key="expired-key"), splunk_home)
    assert done.returncode == 0
    status = done.status
    assert status["outcome"] == "failed" and status["error"] == "KVStoreError"
    assert "HTTP 401" in status["message"]
    assert "Traceback" not in done.stdout + done.stderr
    lines = [line for line in log_text(splunk_home).splitlines() if "event=sync_run" in line]
    assert len(lines) == 1 and "level=ERROR" in lines[0] and "outcome=failed" in lines[0]
    assert "expired-key" not in done.stdout + log_text(splunk_home)
