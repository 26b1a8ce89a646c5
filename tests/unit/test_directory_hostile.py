"""A local folder source (air-gapped sites) with hostile entries: a FIFO (reading it would block
for ever), a symbolic link to a folder outside, and a file over the 10 MB cap."""

from __future__ import annotations

import os

import pytest

from malicious_image.content.archive import ArchiveLimits
from malicious_image.content.sources import DirectorySource

pytestmark = pytest.mark.runtime


def test_fifo_linked_folder_and_big_file_are_skipped_without_blocking(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.yml").write_bytes(b"name: secret\n")
    root = tmp_path / "content"
    (root / "macros").mkdir(parents=True)
    (root / "macros" / "ok.yml").write_bytes(b"name: ok\n")
    os.mkfifo(root / "macros" / "fifo.yml")
    os.symlink(outside, root / "macros" / "linked")
    (root / "macros" / "big.yml").write_bytes(b"#" * 5000)
    source = DirectorySource(root, limits=ArchiveLimits(max_member_bytes=4096))
    with source.open(source.resolve(None), lambda p: p.endswith(".yml")) as stream:
        read = {m.path: m.data for m in stream}
    assert read == {"macros/ok.yml": b"name: ok\n"}  # nothing from outside/ through the link
    reasons = {s.path: s.reason for s in stream.skipped}
    assert "FIFO" in reasons["macros/fifo.yml"]
    assert "5000 bytes" in reasons["macros/big.yml"]
    assert not any("secret" in p for p in reasons)
