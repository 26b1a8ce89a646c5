"""Vendor the app's runtime libraries into app/lib from requirements/runtime.lock.

The wheels named in the lock are downloaded once (hash-checked, for CPython 3.9 on manylinux,
which also selects the pure py3-none-any wheels) into build/wheels/, then unpacked by this module,
not by pip, so that exactly the files we want land in app/lib with stable names and modes:

- compiled extensions (``*.so``, ``*.pyd``) and PyYAML's ``_yaml`` shim are dropped: the pure
  Python code paths run (Splunk is phasing out binary modules in apps);
- ``splunklib/ai`` is dropped (Python 3.10+ syntax, and it needs packages we do not ship), and
  ``splunklib/searchcommands`` too (the app defines no custom search command);
- test suites, benchmarks, ``__pycache__``, scripts and ``bin/`` folders are dropped;
- ``*.dist-info`` keeps METADATA and license files only (RECORD would list dropped files).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "runtime.lock"
WHEELS = ROOT / "build" / "wheels"
LIB = ROOT / "app" / "lib"

DROP_DIRS = {"tests", "test", "testing", "benchmarks", "__pycache__", "bin", "scripts"}
DROP_SUFFIXES = (".so", ".pyd", ".pyc", ".pyo", ".exe", ".dll", ".dylib", ".c", ".h", ".pyx")
# The app has no custom search commands: splunklib/searchcommands is not shipped.
DROP_PREFIXES = ("splunklib/ai/", "splunklib/searchcommands/", "_yaml/")
DIST_INFO_KEEP = ("METADATA", "LICENSE", "COPYING", "NOTICE", "AUTHORS")


class VendorError(Exception):
    """The runtime libraries could not be vendored."""


def locked_wheels() -> list[str]:
    """Return the ``name==version`` pins of the lock file, in file order."""
    pins = []
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            pins.append(line.split()[0])
    return pins


def download(python: str = sys.executable) -> list[Path]:
    """Download the locked wheels into build/wheels (no-op for wheels already there).

    Raises:
        VendorError: pip failed (no network, or a hash mismatch).
    """
    WHEELS.mkdir(parents=True, exist_ok=True)
    cmd = [
        python, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
        "--no-deps", "--only-binary=:all:", "--ignore-requires-python", "--require-hashes",
        "--python-version", "3.9", "--implementation", "cp", "--abi", "cp39",
        "--platform", "manylinux2014_x86_64", "-d", str(WHEELS), "-r", str(LOCK),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise VendorError(f"pip download of {LOCK.name} failed:\n{done.stderr.strip()}")
    wanted = {pin.split("==")[0].lower().replace("-", "_") for pin in locked_wheels()}
    wheels = sorted(p for p in WHEELS.glob("*.whl") if _dist_name(p) in wanted)
    if len(wheels) != len(wanted):
        raise VendorError(f"expected {len(wanted)} wheels in {WHEELS}, found {len(wheels)}")
    return wheels


def _dist_name(wheel: Path) -> str:
    return wheel.name.split("-")[0].lower().replace("-", "_")


def keep_member(name: str) -> bool:
    """Decide whether a wheel member belongs in app/lib."""
    path = PurePosixPath(name)
    if name.endswith("/") or any(part.startswith(".") for part in path.parts):
        return False
    if name.startswith(DROP_PREFIXES) or name.endswith(DROP_SUFFIXES):
        return False
    if ".data/" in name:  # scripts, headers and data files meant for other prefixes
        return False
    top = path.parts[0]
    if top.endswith(".dist-info"):
        return path.name.upper().startswith(DIST_INFO_KEEP)
    return not any(part in DROP_DIRS for part in (*path.parts[1:-1], path.parts[0]))


def unpack(wheels: list[Path], lib: Path = LIB) -> int:
    """Replace lib with the filtered contents of the wheels; return the number of files."""
    if lib.exists():
        shutil.rmtree(lib)
    lib.mkdir(parents=True)
    count = 0
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            for info in archive.infolist():
                if not keep_member(info.filename):
                    continue
                target = lib / info.filename
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.read(info))
                target.chmod(0o644)
                count += 1
    return count


def vendor(python: str = sys.executable) -> int:
    """Download (if needed) and unpack the locked runtime libraries; return the file count."""
    return unpack(download(python))
