"""The one emulated-splunkd pytest fixture (a plugin loaded by ``tests/conftest.py``).

``splunkd``: a :class:`tests.emulators.splunkd_server.SplunkdEmulator` with the app installed
(its ``default/*.conf`` loaded, its KV store collections created), serving HTTPS on 127.0.0.1 the
way a default install does (``SplunkServerDefaultCert``, signed by ``$SPLUNK_HOME/etc/auth/
cacert.pem`` of the test's ``splunk_home``), stopped after the test. In-process clients trust
``splunkd.ca_file``; a modular input subprocess run with ``SPLUNK_HOME=splunk_home`` finds the CA
where splunkd keeps it. Tests that need another shape (the hardened certificate, a cluster member,
an empty server) build their own emulator.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from tests.emulators.splunkd_server import SplunkdEmulator
from tests.support.paths import APP


@pytest.fixture
def splunk_home(tmp_path: Path) -> Path:
    """An empty ``$SPLUNK_HOME`` for one test (with ``var/log/splunk`` for the app's log file)."""
    home = tmp_path / "splunk"
    (home / "var" / "log" / "splunk").mkdir(parents=True)
    return home


@pytest.fixture
def splunkd(splunk_home: Path) -> Iterator[SplunkdEmulator]:
    """A started splunkd emulator with the malicious_image app installed."""
    server = SplunkdEmulator(app_dir=APP, splunk_home=splunk_home).start()
    try:
        yield server
    finally:
        server.stop()
