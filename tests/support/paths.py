"""Where things are, for tests: import these instead of importing ``conftest``.

``SHARED`` (``../shared``) is read-only and may be absent: tests that read a snapshot skip with a
clear reason when ``SNAPSHOTS`` is missing.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app"
SHARED = ROOT.parent / "shared"
SNAPSHOTS = SHARED / "security_content"
