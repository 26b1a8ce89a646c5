"""ksconf check passes on every conf and meta file the app ships, and catches a broken one."""

from __future__ import annotations

import shutil

from devtools import checks, packaging


def test_every_conf_and_meta_file_passes():
    result = checks.ksconf_check()
    assert result.ok, "\n".join(result.details)
    names = {p.name for p in checks.conf_files()}
    assert {"app.conf", "default.meta"} <= names


def test_duplicate_stanza_fails(tmp_path):
    app = tmp_path / "app"
    shutil.copytree(packaging.APP / "default", app / "default", ignore=shutil.ignore_patterns("data"))
    with open(app / "default" / "app.conf", "a") as conf:
        conf.write("\n[ui]\nlabel = twice\n")
    result = checks.ksconf_check(app)
    assert not result.ok
    assert any("ui" in line or "uplicate" in line for line in result.details), result.details
