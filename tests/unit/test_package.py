"""The package a Splunk admin installs: its structure, its version, and that builds are reproducible."""

from __future__ import annotations

import gzip
import os
import shutil
import tarfile

import pytest

from devtools import packaging


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    if not (packaging.APP / "lib").exists():
        pytest.fail("app/lib is missing: run `python3 build.py package` (build.py test does) first")
    return packaging.build(dist=tmp_path_factory.mktemp("dist"))


def members(package):
    with tarfile.open(package.path) as tar:
        return tar.getmembers()


def test_top_folder_is_the_app_id_and_manifest_is_present(built):
    names = [m.name for m in members(built)]
    assert {n.split("/")[0] for n in names} == {"malicious_image"}
    for required in ("app.manifest", "default/app.conf", "metadata/default.meta", "LICENSE",
                     "default/data/ui/nav/default.xml", "static/appIcon.png", "static/appIcon_2x.png"):
        assert f"malicious_image/{required}" in names


def test_version_is_the_same_in_app_conf_and_manifest(built):
    assert built.version == packaging.app_version()
    assert built.path.name == f"malicious_image-{built.version}.tar.gz"
    major, minor, patch = built.version.split(".")
    assert all(part.isdigit() for part in (major, minor, patch))


def test_version_mismatch_is_refused(tmp_path):
    copy = tmp_path / "app"
    shutil.copytree(packaging.APP / "default", copy / "default")
    manifest = (packaging.APP / "app.manifest").read_text().replace(
        f'"version": "{packaging.app_version()}"', '"version": "9.9.9"')
    (copy / "app.manifest").write_text(manifest)
    with pytest.raises(packaging.PackagingError, match=r"9\.9\.9"):
        packaging.build(copy, tmp_path / "dist")


def test_no_binaries_compiled_python_hidden_files_or_local(built):
    for member in members(built):
        relative = member.name.split("/", 1)[-1]
        assert not relative.startswith("local/") and not relative.endswith("local.meta"), member.name
        assert "__pycache__" not in member.name and not member.name.endswith((".pyc", ".pyo"))
        assert not member.name.endswith((".so", ".pyd", ".dll", ".dylib", ".exe")), member.name
        assert not any(part.startswith(".") for part in member.name.split("/")), member.name
        assert member.mode & 0o111 == (0o111 if member.isdir() else 0), f"{member.name} {oct(member.mode)}"
        assert member.isdir() or member.isfile(), f"{member.name} is a link or device"


def test_vendored_libraries_are_pure_python_and_without_tests(built):
    names = [m.name for m in members(built)]
    lib = [n for n in names if n.startswith("malicious_image/lib/")]
    for wanted in ("yaml/__init__.py", "requests/__init__.py", "jsonschema/__init__.py",
                   "splunklib/modularinput/__init__.py", "urllib3/__init__.py", "pyrsistent/__init__.py"):
        assert f"malicious_image/lib/{wanted}" in names
    assert not [n for n in lib if "/splunklib/ai/" in n or "/tests/" in n or n.endswith("/_yaml/__init__.py")]


def test_two_builds_give_the_same_bytes_whatever_the_file_times(built, tmp_path):
    copy = tmp_path / "app"
    shutil.copytree(packaging.APP, copy, ignore=shutil.ignore_patterns("__pycache__"))
    for path in copy.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    again = packaging.build(copy, tmp_path / "dist")
    assert again.path.read_bytes() == built.path.read_bytes()
    assert again.sha256 == built.sha256


def test_members_are_sorted_with_fixed_owner_and_time(built):
    items = members(built)
    names = [m.name for m in items]
    assert names == sorted(names, key=lambda n: n)  # root first, then lexicographic
    assert {(m.uid, m.gid, m.uname, m.gname, m.mtime) for m in items} == {(0, 0, "", "", packaging.FIXED_MTIME)}
    with open(built.path, "rb") as raw:
        header = raw.read(10)
    assert header[4:8] == b"\0\0\0\0"  # gzip MTIME field
    assert gzip.decompress(built.path.read_bytes())[:len("malicious_image/")] == b"malicious_image/"
