"""Write the app package, dist/malicious_image-<version>.tar.gz, reproducibly.

The same sources give the same bytes: members are sorted, every member has the same mtime
(``SOURCE_DATE_EPOCH`` when set, else a fixed date), owner 0/0 with no names, mode 0644 for files
and 0755 for folders (Splunk runs scripts through its own Python, so no execute bits are needed,
and AppInspect flags them), and the gzip header carries no name and no time.

What never goes into the package: hidden files and folders, ``__pycache__`` and compiled Python,
``local/`` and ``local.meta`` (an admin's own settings), and anything an ignore rule lists here.
"""

from __future__ import annotations

import configparser
import gzip
import hashlib
import io
import json
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

from devtools import ROOT

APP = ROOT / "app"
DIST = ROOT / "dist"
APP_ID = "malicious_image"
FIXED_MTIME = 1735689600  # 2025-01-01T00:00:00Z


class PackagingError(Exception):
    """The app cannot be packaged as it stands."""


@dataclass(frozen=True)
class Package:
    """A built package and what a reader of the build log wants to know about it."""

    path: Path
    version: str
    files: int
    size: int
    sha256: str


def app_version(app: Path = APP) -> str:
    """Return the app's version, checking that app.conf ([id], [launcher]) and app.manifest agree.

    Raises:
        PackagingError: they disagree or one is missing.
    """
    conf = configparser.RawConfigParser(strict=False)
    conf.read(app / "default" / "app.conf", encoding="utf-8")
    manifest = json.loads((app / "app.manifest").read_text(encoding="utf-8"))
    versions = {
        "app.conf [id]": conf.get("id", "version", fallback=""),
        "app.conf [launcher]": conf.get("launcher", "version", fallback=""),
        "app.manifest": manifest["info"]["id"]["version"] or "",
    }
    if len(set(versions.values())) != 1 or not versions["app.manifest"]:
        raise PackagingError(f"the app's version is not the same everywhere: {versions}")
    return versions["app.manifest"]


def excluded(relative: Path) -> bool:
    """True for paths that must never be packaged."""
    parts = relative.parts
    if any(part.startswith(".") for part in parts):
        return True
    if "__pycache__" in parts or relative.suffix in (".pyc", ".pyo"):
        return True
    if parts[0] == "local" or relative.name == "local.meta":
        return True
    return False


def package_members(app: Path = APP) -> list[Path]:
    """Every file and folder of the app to package, sorted, relative to app/."""
    members = (path.relative_to(app) for path in app.rglob("*"))
    return sorted((m for m in members if not excluded(m)), key=lambda m: m.as_posix())


def _tarinfo(name: str, *, size: int, is_dir: bool, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE if is_dir else tarfile.REGTYPE
    info.mode = 0o755 if is_dir else 0o644
    info.size = 0 if is_dir else size
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def build(app: Path = APP, dist: Path = DIST) -> Package:
    """Write dist/<app id>-<version>.tar.gz from app/ and return what was built."""
    version = app_version(app)
    mtime = int(os.environ.get("SOURCE_DATE_EPOCH", FIXED_MTIME))
    buffer = io.BytesIO()
    files = 0
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        tar.addfile(_tarinfo(APP_ID, size=0, is_dir=True, mtime=mtime))
        for relative in package_members(app):
            path = app / relative
            name = f"{APP_ID}/{relative.as_posix()}"
            if path.is_dir():
                tar.addfile(_tarinfo(name, size=0, is_dir=True, mtime=mtime))
                continue
            data = path.read_bytes()
            tar.addfile(_tarinfo(name, size=len(data), is_dir=False, mtime=mtime), io.BytesIO(data))
            files += 1
    dist.mkdir(parents=True, exist_ok=True)
    target = dist / f"{APP_ID}-{version}.tar.gz"
    with open(target, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write(buffer.getvalue())
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    return Package(target, version, files, target.stat().st_size, digest)
