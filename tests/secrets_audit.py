"""Secrets audit: fail the test session if a test secret appears in anything the suite produced.

The GitHub token and the proxy password belong in ``storage/passwords`` only. This pytest plugin
(loaded by ``tests/conftest.py``; ``-p tests.secrets_audit`` elsewhere) knows the fixed secrets the
tests use (:data:`SECRETS`; tests import the constants from here) and looks for each of them, as
given and URL-encoded, in:

- every test's captured stdout, stderr and log records and its failure report (exception
  repr and traceback), at the end of each test phase (``pytest_runtest_makereport``);
- text the harnesses hand over with :func:`record`: the modular input's stdout and stderr, the
  splunkd emulator's indexed events, KV store documents (not the storage/passwords store, the one
  place a secret belongs) and conf files as written over REST (``configs/conf-*``, so every
  ``local/`` change), and anything else a harness captures;
- at the end of the session, every file under the session's temporary folder (the tests'
  ``SPLUNK_HOME``: ``malicious_image.log``; ``build.py sync`` output: CSV tables, ``summary.json``,
  state and cache; conf files) and the app's ``default/``, ``local/``, ``metadata/``, ``lookups/``
  and ``README/`` folders.

A finding names the artefact and the secret's label, never the secret, and turns the session's
exit status into 1 (tests failed) with a report at the end of the run. ``tests/unit/
test_secrets_audit.py`` proves the audit can fail. Outside pytest :func:`record` only collects.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, Dict, Iterable, List, Tuple
from urllib.parse import quote

import pytest

ROOT = Path(__file__).resolve().parent.parent

GITHUB_TOKEN = "ghp_TESTTOKENdoNotLeak0123456789abcdef"
PROXY_PASSWORD = "pr0xy-PASS-doNotLeak-7731"
PROXY_PASSWORD_URL_CHARS = "p@ss:w/rd-doNotLeak"
PROXY_PASSWORD_IN_SETTING = "Pr0xyPassw0rd"
OTHER_APP_PASSWORD = "not-ours-doNotLeak-123"
LOG_TEST_SECRETS = ("ghp_SECRETVALUE42", "ghp_redactme0123456789")  # tests/unit/test_splunkd_log.py

SECRETS: Dict[str, str] = {
    "GitHub token": GITHUB_TOKEN,
    "proxy password": PROXY_PASSWORD,
    "proxy password with URL characters": PROXY_PASSWORD_URL_CHARS,
    "proxy password typed into the proxy setting": PROXY_PASSWORD_IN_SETTING,
    "another app's password": OTHER_APP_PASSWORD,
    "log test token 1": LOG_TEST_SECRETS[0],
    "log test token 2": LOG_TEST_SECRETS[1],
}

_SKIP_DIRS = {".git", "__pycache__", "node_modules", "lib"}
_MAX_FILE_BYTES = 64 * 1024 * 1024
_lock = threading.Lock()
_findings: List[Tuple[str, str]] = []  # (artefact, secret label)
_scanned = {"texts": 0, "files": 0, "bytes": 0}


def add_secret(label: str, value: str) -> None:
    """Add a secret to look for (a suite of its own may define more)."""
    SECRETS[label] = value


def _needles() -> List[Tuple[str, bytes]]:
    found = []
    for label, value in SECRETS.items():
        forms = {value, quote(value, safe=""), json.dumps(value)[1:-1]}
        found += [(label, form.encode("utf-8")) for form in forms]
    return found


def scan(data: str | bytes) -> List[str]:
    """The labels of the secrets found in ``data``."""
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    return sorted({label for label, needle in _needles() if needle in raw})


def record(artefact: str, data: Any) -> None:
    """Check one artefact a harness produced (text, bytes, or anything JSON can write).

    Arguments:
        artefact: what it is and where it came from, as the report should name it.
        data: its content; never kept, only scanned.
    """
    if not isinstance(data, (str, bytes)):
        data = json.dumps(data, default=str, ensure_ascii=False)
    labels = scan(data)
    with _lock:
        _scanned["texts"] += 1
        _scanned["bytes"] += len(data)
        _findings.extend((artefact, label) for label in labels)


def record_splunkd(server: Any, name: str = "splunkd emulator") -> None:
    """Check what a :class:`~tests.emulators.splunkd_server.SplunkdEmulator` holds: indexed events,
    KV store documents (storage/passwords is a separate store and is left out) and conf files."""
    record(f"{name}: indexed events (receivers/simple)", getattr(server, "events", []))
    record(f"{name}: KV store documents", getattr(server, "collections", {}))
    record(f"{name}: conf files (default and written over configs/conf-*)", getattr(server, "confs", {}))


def _files(folder: Path) -> Iterable[Path]:
    for base, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS]
        for name in names:
            yield Path(base) / name


def scan_files(folder: Path, label: str) -> None:
    """Check every regular file under ``folder`` (symbolic links are not followed)."""
    if not folder.is_dir():
        return
    for path in _files(folder):
        try:
            if path.is_symlink() or not path.is_file() or path.stat().st_size > _MAX_FILE_BYTES:
                continue
            data = path.read_bytes()
        except OSError:
            continue
        with _lock:
            _scanned["files"] += 1
            _scanned["bytes"] += len(data)
        for found in scan(data):
            with _lock:
                _findings.append((f"{label}/{path.relative_to(folder)}", found))


def findings() -> List[Tuple[str, str]]:
    """The (artefact, secret label) pairs found so far."""
    with _lock:
        return list(dict.fromkeys(_findings))


# -- pytest hooks ---------------------------------------------------------------------------------
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    outcome = yield
    report = outcome.get_result()
    for section, content in report.sections:
        record(f"{item.nodeid} ({report.when}): {section}", content)
    if report.longrepr is not None:
        record(f"{item.nodeid} ({report.when}): failure report", report.longreprtext)


def _session_files(config: pytest.Config) -> List[Tuple[Path, str]]:
    folders = []
    factory = getattr(config, "_tmp_path_factory", None)
    basetemp = getattr(factory, "_basetemp", None) if factory is not None else None
    if basetemp is not None:
        folders.append((Path(basetemp), "session temporary folder"))
    app = ROOT / "app"
    for sub in ("default", "local", "metadata", "lookups", "README"):
        folders.append((app / sub, f"app/{sub}"))
    return folders


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    for folder, label in _session_files(session.config):
        scan_files(folder, label)
    found = findings()
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("")
        reporter.write_sep("=", "secrets audit", bold=True)
        reporter.write_line(
            f"looked for {len(SECRETS)} test secrets in {_scanned['texts']} captured texts and "
            f"{_scanned['files']} files ({_scanned['bytes'] / 1e6:.1f} MB)"
        )
        for artefact, label in found:
            reporter.write_line(f"SECRET LEAKED: the {label} appears in {artefact}", red=True)
    if found and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
