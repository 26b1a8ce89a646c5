"""Bundle the render page once, serve it on 127.0.0.1, and drive Debian's headless Chromium.

Chromium runs with background networking, component updates, sync and QUIC off, so it talks to
nothing but the local server; ``--virtual-time-budget`` lets the page's timers run to completion
without waiting in real time.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Mapping

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--disable-dev-shm-usage",
    "--force-device-scale-factor=1",
]


def chromium_path() -> str | None:
    """The Chromium binary, or None when it is not installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def npm_ready() -> bool:
    """Whether ``npm ci`` has been run in tests/dashboard."""
    return (NODE_MODULES / "@splunk" / "dashboard-core").is_dir() and (NODE_MODULES / "esbuild").is_dir()


def bundle(outdir: Path) -> float:
    """Bundle render/app.jsx into ``outdir`` (bundle.js, bundle.css, index.html); returns seconds."""
    started = time.monotonic()
    subprocess.run(
        ["node", str(HERE / "bundle.mjs"), str(outdir)],
        check=True,
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return time.monotonic() - started


def write_page_data(
    outdir: Path, definition: Mapping[str, Any], original: Mapping[str, Any], theme: str = "dark"
) -> None:
    """Write data.js: the definition to render (ds.test data) and the original for preset validation."""
    payload = json.dumps({"definition": definition, "original": original, "theme": theme})
    (outdir / "data.js").write_text(f"window.__DASHBOARD__ = {payload};\n", encoding="utf-8")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve a directory on 127.0.0.1 (a free port) for the duration of the block; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def run_chromium(
    url: str,
    profile: Path,
    *,
    screenshot: Path | None = None,
    width: int = 1440,
    height: int = 2000,
    budget_ms: int = 15000,
) -> str:
    """Load a page in headless Chromium; returns the DOM after the time budget (or writes a PNG).

    Raises:
        RuntimeError: Chromium is missing or exits non-zero.
    """
    binary = chromium_path()
    if binary is None:
        raise RuntimeError("chromium is not installed (apt-get install -y chromium)")
    args = [
        binary,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        f"--virtual-time-budget={budget_ms}",
        f"--window-size={width},{height}",
    ]
    args.append(f"--screenshot={screenshot}" if screenshot else "--dump-dom")
    done = subprocess.run([*args, url], capture_output=True, text=True, timeout=180)
    if done.returncode != 0:
        raise RuntimeError(f"chromium exited {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout
