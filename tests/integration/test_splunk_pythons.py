"""The vendored libraries and the app's package compile and import under Splunk's Pythons."""

from __future__ import annotations

import pytest

from devtools import checks
from devtools.pythons import SPLUNK_PYTHONS


@pytest.fixture(scope="module")
def results():
    return {r.name: r for r in checks.python_checks()}


@pytest.mark.parametrize("version", SPLUNK_PYTHONS)
def test_everything_byte_compiles(results, version):
    result = results[f"python {version}: byte-compile app/bin and app/lib"]
    assert result.ok, "\n".join(result.details)
    assert int(result.details[0].split()[1]) > 100  # "compiled N files": the libraries are there


@pytest.mark.parametrize("version", SPLUNK_PYTHONS)
def test_vendored_libraries_and_package_import(results, version):
    result = results[f"python {version}: import vendored libraries and the app package"]
    assert result.ok, "\n".join(result.details)
    imported, total = result.details[0].split()[1], result.details[0].split()[3]
    assert imported == total and int(total) >= len(checks.VENDORED_IMPORTS)


def test_a_syntax_error_is_caught(tmp_path):
    app = tmp_path / "app"
    (app / "bin" / "malicious_image").mkdir(parents=True)
    (app / "lib").mkdir()
    (app / "bin" / "malicious_image" / "__init__.py").write_text("x = (\n")
    failed = [r for r in checks.python_checks(app) if not r.ok]
    assert len(failed) == 4  # compile and import, under both Pythons
