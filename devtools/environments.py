"""The Python environments the tests run in, made on demand from the pinned requirement files.

- ``.venv``: the host's python3 with the development tools (requirements/dev.txt): the full suite.
- ``.venv-py39`` and ``.venv-py313``: Splunk's two Pythons with pytest only
  (requirements/test-runtime.txt); the app's code runs there against the vendored app/lib,
  exactly as inside Splunk.

An environment is rebuilt only when its requirement file changes (its hash is kept inside it).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from devtools import ROOT
from devtools.pythons import find_python


class EnvironmentError_(Exception):
    """A test environment could not be made."""


def _ensure(venv: Path, python: str, requirements: Path) -> Path:
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    stamp = venv / ".requirements.sha256"
    interpreter = venv / "bin" / "python"
    if interpreter.exists() and stamp.exists() and stamp.read_text() == digest:
        return interpreter
    print(f"setting up {venv.name} ({requirements.name}) ...", flush=True)
    steps = [
        [python, "-m", "venv", "--clear", str(venv)],
        [str(interpreter), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-r", str(requirements)],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise EnvironmentError_(f"{' '.join(step[:4])} failed:\n{done.stderr[-3000:]}")
    stamp.write_text(digest)
    return interpreter


def dev_python() -> Path:
    """The development environment's interpreter (host Python 3.10+)."""
    return _ensure(ROOT / ".venv", sys.executable, ROOT / "requirements" / "dev.txt")


def runtime_python(version: str) -> Path:
    """A Splunk Python (3.9 or 3.13) environment's interpreter."""
    name = ".venv-py" + version.replace(".", "")
    return _ensure(ROOT / name, find_python(version), ROOT / "requirements" / "test-runtime.txt")
