"""The one path set-up of the dev tools: where the repository, the app and its libraries are.

:func:`use_app_package` puts ``app/bin`` (the ``malicious_image`` package) at the front of
``sys.path`` and ``app/lib`` (the vendored runtime libraries) at the end, so every dev tool runs
the app's code and, with only the standard library installed, falls back on the vendored
libraries (a dev environment's own copies of the same pinned versions win).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"
APP_BIN = APP / "bin"
APP_LIB = APP / "lib"


def use_app_package() -> None:
    """Make ``malicious_image`` and (as a fallback) the vendored libraries importable; idempotent."""
    for path in (ROOT, APP_BIN):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    if str(APP_LIB) not in sys.path:
        sys.path.append(str(APP_LIB))
