"""Shared pytest set-up: make the app package and the vendored libraries importable."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"
SHARED = ROOT.parent / "shared"
SNAPSHOTS = SHARED / "security_content"

for path in (ROOT / "app" / "lib", ROOT / "app" / "bin", ROOT):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
