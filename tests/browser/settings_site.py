"""An emulated Splunk for the settings page: splunkd with the input's endpoints, and Splunk Web."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from tests.emulators.splunkd_inputs import ModularInputEndpoints
from tests.emulators.splunkd_server import SplunkdEmulator
from tests.emulators.splunkweb_server import SplunkWebEmulator

APP = Path(__file__).resolve().parents[2] / "app"  # the app as the repository holds it


@dataclass
class SettingsSite:
    splunkd: SplunkdEmulator
    inputs: ModularInputEndpoints
    web: SplunkWebEmulator
    app_dir: Path  # the installed app's writable folder: local/ goes here

    def conf_files(self) -> dict[str, str]:
        """Every conf file under the app folder, by relative path."""
        files = sorted(self.app_dir.rglob("*.conf"))
        return {str(p.relative_to(self.app_dir)): p.read_text(encoding="utf-8") for p in files}


@contextlib.contextmanager
def settings_site(tmp_path: Path, source_app: Path = APP) -> Iterator[SettingsSite]:
    """Start splunkd (the app installed from ``source_app``, its local/ under tmp_path) and Splunk
    Web in front of it."""
    app_dir = tmp_path / "malicious_image"
    splunkd = SplunkdEmulator(app_dir=source_app)
    inputs = ModularInputEndpoints(source_app, local_app_dir=app_dir).attach(splunkd)
    splunkd.start()
    web = SplunkWebEmulator(app_dir=source_app, splunkd=splunkd).start()
    try:
        yield SettingsSite(splunkd, inputs, web, app_dir)
    finally:
        web.stop()
        splunkd.stop()
