"""Shared pytest set-up: make the app package and the vendored libraries importable, and load
the secrets audit (tests/secrets_audit.py), which fails the session if a test secret leaks.

app/lib (the vendored libraries) goes at the END of sys.path: under Splunk's Pythons the test
environments (.venv-py39, .venv-py313) hold pytest only, so every runtime library comes from
app/lib exactly as inside Splunk; under the dev environment, the same pinned versions come from
.venv, whose PyYAML has libyaml, so the reader's libyaml path is tested there too.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"

sys.dont_write_bytecode = True
for path in (ROOT / "app" / "bin", ROOT):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
if str(APP / "lib") not in sys.path:
    sys.path.append(str(APP / "lib"))

# Paths for tests live in tests/support/paths.py (import them from there, not from conftest);
# these names stay for the dashboard harness, which still imports them from here.
from tests.support.paths import SHARED, SNAPSHOTS  # noqa: E402,F401


def pytest_configure(config) -> None:
    for plugin in ("tests.secrets_audit", "tests.support.splunkd"):  # the audit; the `splunkd` fixture
        if config.pluginmanager.get_plugin(plugin) is None:
            config.pluginmanager.import_plugin(plugin)
