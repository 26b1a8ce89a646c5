"""Find the Python interpreters Splunk ships (3.9 and 3.13) on this machine.

Looked up in this order: the environment variable (MALICIOUS_IMAGE_PY39 / MALICIOUS_IMAGE_PY313),
pyenv's versions folder, then ``python3.9`` / ``python3.13`` on PATH; a candidate counts only if it
starts and reports the wanted version (a pyenv shim for another version does not).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SPLUNK_PYTHONS = ("3.9", "3.13")


class InterpreterNotFound(Exception):
    """A Python version that Splunk runs is not installed here."""


def find_python(version: str) -> str:
    """Return the path of a Python ``version`` interpreter (e.g. "3.9").

    Raises:
        InterpreterNotFound: none is installed; the message says how to provide one.
    """
    variable = "MALICIOUS_IMAGE_PY" + version.replace(".", "")
    candidates = [os.environ.get(variable, "")]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += [str(d / "bin" / f"python{version}") for d in sorted(pyenv.glob(f"{version}.*"), reverse=True)]
    candidates.append(shutil.which(f"python{version}") or "")
    for candidate in filter(None, candidates):
        if _runs(candidate, version):
            return candidate
    raise InterpreterNotFound(
        f"no Python {version} found: set {variable}, put python{version} on PATH, or install it with pyenv"
    )


def _runs(python: str, version: str) -> bool:
    """True if python starts and is the wanted version (a pyenv shim for another one is not)."""
    try:
        done = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                              capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return False
    return done.returncode == 0 and done.stdout.strip() == version
