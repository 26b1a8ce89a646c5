"""Run page_driver.mjs (playwright-core driving Debian's headless Chromium) from a test.

playwright-core comes pinned from tests/dashboard/package.json (``npm ci`` there); it brings no
browser of its own and drives /usr/bin/chromium. Chromium talks only to 127.0.0.1 servers here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PLAYWRIGHT_CORE = HERE.parent / "dashboard" / "node_modules" / "playwright-core" / "index.mjs"


def chromium_path() -> str | None:
    """The Chromium binary, or None when it is not installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def missing() -> str:
    """Why the browser tests cannot run here, or '' when they can."""
    if chromium_path() is None:
        return "chromium is not installed (apt-get install -y chromium)"
    if shutil.which("node") is None:
        return "node is not installed"
    if not PLAYWRIGHT_CORE.is_file():
        return "playwright-core is not installed (npm ci in tests/dashboard)"
    return ""


def run_steps(steps: list[dict[str, Any]], *, timeout: float = 180) -> dict[str, Any]:
    """Run the steps in one fresh browser; returns {"results", "console", "http_errors"}.

    A ``{"fill_secret": [selector, label]}`` step types ``tests.secrets_audit.SECRETS[label]``:
    the test names a secret by its label, so that no secret value is an argument of a test
    function (pytest prints those in a failure report, which the secrets audit reads).

    Raises:
        RuntimeError: a step failed (the driver's stderr, which holds no typed value, is included).
    """
    env = {**os.environ, "PLAYWRIGHT_CORE": str(PLAYWRIGHT_CORE), "CHROMIUM": chromium_path() or ""}
    done = subprocess.run(
        ["node", str(HERE / "page_driver.mjs")],
        input=json.dumps({"steps": steps, "secrets": _secrets()}),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    if done.returncode != 0:
        raise RuntimeError(f"page driver exited {done.returncode}: {done.stderr[-3000:]}")
    return json.loads(done.stdout)


def _secrets() -> dict[str, str]:
    from tests.secrets_audit import SECRETS

    return dict(SECRETS)
