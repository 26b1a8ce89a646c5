"""The secrets audit (tests/secrets_audit.py) fails a session that leaks a secret, and says where.

A tiny suite, run by a pytest subprocess with the audit plugin, leaks a canary secret of its own
(unknown to this session's audit) in each way the audit watches: captured stdout, a log record, an
exception message, a file in its temporary folder, a text handed over with ``record`` and a
splunkd emulator's KV store. Its tests pass, yet the session must exit 1 and name every artefact
and the canary's label, without printing the canary in the report.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from tests import secrets_audit
from tests.support.paths import ROOT

pytestmark = pytest.mark.runtime

CANARY = "canary-" + "5eCr3t-" + "0451"  # built so the source never holds it whole
SUITE = textwrap.dedent(
    '''
    import logging
    import pytest
    from tests import secrets_audit
    from tests.emulators.splunkd_server import SplunkdEmulator

    CANARY = "canary-" + "5eCr3t-" + "0451"
    secrets_audit.add_secret("canary secret", CANARY)


    def test_prints_it():
        print("token is", CANARY)


    def test_logs_it():
        logging.getLogger("leaky").warning("using %s", CANARY)


    def test_raises_with_it():
        with pytest.raises(RuntimeError):
            raise RuntimeError("bad token " + CANARY)
        raise_it = pytest.raises(RuntimeError, match="never")
        try:
            with raise_it:
                raise RuntimeError(CANARY)
        except AssertionError:
            pass


    def test_writes_it_to_a_file(tmp_path):
        (tmp_path / "summary.json").write_text('{"message": "%s"}' % CANARY)


    def test_a_harness_records_it():
        secrets_audit.record("modular input (run) stdout", "<stream>" + CANARY + "</stream>")


    def test_an_emulator_stores_it():
        with SplunkdEmulator() as server:
            server.collections["malicious_image_sync_state"] = [{"_key": "state", "state_json": CANARY}]


    def test_fails_showing_it():
        assert "x" == CANARY


    def test_clean():
        print("nothing to see")
    '''
)


def run_suite(tmp_path, *tests: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_leaky.py").write_text(SUITE, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "app" / "bin")])}
    argv = [sys.executable, "-m", "pytest", "-p", "tests.secrets_audit", "-p", "no:cacheprovider", "-q",
            "--basetemp", str(tmp_path / "basetemp"), "--rootdir", str(tmp_path)]  # fmt: skip
    return subprocess.run(
        [*argv, *[f"test_leaky.py::{t}" for t in tests]],
        cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_a_leak_fails_the_session_and_the_report_names_the_artefact_not_the_secret(tmp_path):
    done = run_suite(
        tmp_path, "test_prints_it", "test_logs_it", "test_writes_it_to_a_file", "test_a_harness_records_it",
        "test_an_emulator_stores_it", "test_clean",
    )  # fmt: skip
    assert "6 passed" in done.stdout, done.stdout + done.stderr
    assert done.returncode == 1, done.stdout
    report = done.stdout.split("secrets audit", 1)[1]
    leaks = [line for line in report.splitlines() if line.startswith("SECRET LEAKED")]
    expected = [
        "test_leaky.py::test_prints_it (call): Captured stdout call",
        "test_leaky.py::test_logs_it (call): Captured log call",
        "session temporary folder/test_writes_it_to_a_file0/summary.json",
        "modular input (run) stdout",
        "splunkd emulator: KV store documents",
    ]
    for artefact in expected:
        assert f"SECRET LEAKED: the canary secret appears in {artefact}" in leaks, leaks
    assert not any("test_clean" in line for line in leaks)
    assert CANARY not in done.stdout + done.stderr  # passing tests' output is not shown; the report masks


def test_a_failure_report_holding_the_secret_is_a_leak_too(tmp_path):
    done = run_suite(tmp_path, "test_fails_showing_it", "test_raises_with_it")
    assert done.returncode == 1
    assert "the canary secret appears in test_leaky.py::test_fails_showing_it (call): failure report" in done.stdout
    assert "test_raises_with_it" not in done.stdout.split("secrets audit", 1)[1]  # caught: never shown


def test_a_clean_session_passes_and_says_what_it_looked_at(tmp_path):
    done = run_suite(tmp_path, "test_clean")
    assert done.returncode == 0, done.stdout
    assert "secrets audit" in done.stdout and "SECRET LEAKED" not in done.stdout
    assert "looked for" in done.stdout


def test_scan_finds_plain_and_url_encoded_forms_only_of_known_secrets():
    assert secrets_audit.scan("Bearer " + secrets_audit.GITHUB_TOKEN) == ["GitHub token"]
    encoded = "http://svc:p%40ss%3Aw%2Frd-doNotLeak@proxy:3128"
    assert secrets_audit.scan(encoded) == ["proxy password with URL characters"]
    assert secrets_audit.scan("ghp_******** and nothing else") == []
