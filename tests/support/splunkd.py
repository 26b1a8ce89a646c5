"""The one emulated-splunkd pytest fixture (a plugin loaded by ``tests/conftest.py``).

``splunkd``: a :class:`tests.emulators.splunkd_server.SplunkdEmulator` with the app installed
(its ``default/*.conf`` loaded, its KV store collections created), listening on 127.0.0.1 over
plain HTTP, stopped after the test. Tests that need another shape (TLS, a cluster member, an
empty server) build their own emulator.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.emulators.splunkd_server import SplunkdEmulator
from tests.support.paths import APP


@pytest.fixture
def splunkd() -> Iterator[SplunkdEmulator]:
    """A started splunkd emulator with the malicious_image app installed."""
    server = SplunkdEmulator(app_dir=APP).start()
    try:
        yield server
    finally:
        server.stop()
