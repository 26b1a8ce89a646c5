"""The checks a package must pass before anyone installs it.

- Splunk AppInspect in precert mode, once as is and once with ``--included-tags cloud``. Its exit
  code does not say whether checks failed, so the gate reads the JSON report's ``summary``: zero
  failures, errors and future failures. Every warning left must be named, with its reason, in
  docs/appinspect-warnings.md; an unexplained warning fails the gate too.
- ``ksconf check`` on every .conf and .meta file of the app (parse errors, duplicate stanzas/keys).
- Byte-compiling every Python file of app/bin and app/lib under Python 3.9 and 3.13, in memory
  (nothing is written to the app), and importing the vendored libraries and every module of the
  app's package under both.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from devtools import ROOT
from devtools.pythons import SPLUNK_PYTHONS, find_python

APP = ROOT / "app"
WARNINGS_DOC = ROOT / "docs" / "appinspect-warnings.md"
GATED = ("failure", "error", "future_failure")
VENDORED_IMPORTS = (
    "yaml",
    "requests",
    "urllib3",
    "certifi",
    "idna",
    "charset_normalizer",
    "jsonschema",
    "attr",
    "pyrsistent",
    "splunklib.client",
    "splunklib.binding",
    "splunklib.modularinput",
    "splunklib.results",
)


@dataclass
class CheckResult:
    """One check's verdict and the lines that explain it."""

    name: str
    ok: bool
    details: list[str] = field(default_factory=list)


def _tool(name: str) -> str:
    """A command-line tool of the dev environment: beside this Python, in .venv, or on PATH."""
    for folder in (Path(sys.executable).parent, ROOT / ".venv" / "bin"):
        if (folder / name).exists():
            return str(folder / name)
    return shutil.which(name) or name


def explained_warnings(doc: Path = WARNINGS_DOC) -> set[str]:
    """Check names listed in the warnings document (table rows starting with `| check_...`)."""
    if not doc.exists():
        return set()
    return set(re.findall(r"^\|\s*`?(check_[a-z0-9_]+)`?\s*\|", doc.read_text(encoding="utf-8"), re.M))


def run_appinspect(package: Path, *, cloud: bool, report: Path | None = None) -> dict:
    """Run AppInspect (precert mode) on package and return its JSON report."""
    with tempfile.TemporaryDirectory() as tmp:
        out = report or Path(tmp) / "report.json"
        cmd = [
            _tool("splunk-appinspect"),
            "inspect",
            str(package),
            "--mode",
            "precert",
            "--skip-trusted-libraries-update",
            "--data-format",
            "json",
            "--output-file",
            str(out),
        ]
        if cloud:
            cmd += ["--included-tags", "cloud"]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if not out.exists():
            raise RuntimeError(f"AppInspect wrote no report (exit {done.returncode}): {done.stderr[-2000:]}")
        return json.loads(out.read_text(encoding="utf-8"))


def appinspect_findings(report: dict) -> dict[str, list[str]]:
    """Map each non-passing result kind to ``check_name: first message`` lines."""
    findings: dict[str, list[str]] = {}
    for app_report in report.get("reports", []):
        for group in app_report.get("groups", []):
            for check in group.get("checks", []):
                if check["result"] in (*GATED, "warning"):
                    first = (check.get("messages") or [{"message": ""}])[0]["message"]
                    findings.setdefault(check["result"], []).append(f"{check['name']}: {first[:300]}")
    return findings


def appinspect_gate(package: Path, *, cloud: bool, explained: set[str] | None = None) -> CheckResult:
    """AppInspect's verdict: no failures, errors or future failures, no unexplained warning."""
    report = run_appinspect(package, cloud=cloud)
    summary = report["summary"]
    findings = appinspect_findings(report)
    explained = explained_warnings() if explained is None else explained
    unexplained = [w for w in findings.get("warning", []) if w.split(":", 1)[0] not in explained]
    details = [f"summary: {json.dumps(summary, sort_keys=True)}"]
    for kind in GATED:
        details += [f"{kind}: {line}" for line in findings.get(kind, [])]
    details += [f"unexplained warning: {line}" for line in unexplained]
    ok = all(summary.get(kind, 0) == 0 for kind in GATED) and not unexplained
    name = "appinspect precert" + (" --included-tags cloud" if cloud else "")
    return CheckResult(name, ok, details)


def conf_files(app: Path = APP) -> list[Path]:
    """Every .conf and .meta file the app ships."""
    return sorted(p for p in app.rglob("*") if p.suffix in (".conf", ".meta") and "lib" not in p.parts)


def ksconf_check(app: Path = APP) -> CheckResult:
    """``ksconf check`` on every conf and meta file."""
    files = [str(p) for p in conf_files(app)]
    done = subprocess.run([_tool("ksconf"), "check", *files], capture_output=True, text=True, check=False)
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    return CheckResult(f"ksconf check ({len(files)} files)", done.returncode == 0, lines[-20:])


_COMPILE = """
import pathlib, sys
bad = []
roots = sys.argv[1:]
count = 0
for root in roots:
    for path in sorted(pathlib.Path(root).rglob("*.py")):
        count += 1
        try:
            compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
        except SyntaxError as exc:
            bad.append(f"{path}: {exc}")
print(f"compiled {count} files")
for line in bad:
    print(line)
sys.exit(1 if bad else 0)
"""

_IMPORT = """
import importlib, pathlib, sys
sys.dont_write_bytecode = True
app = pathlib.Path(sys.argv[1])
sys.path[:0] = [str(app / "lib"), str(app / "bin")]
names = sys.argv[2:] + sorted(
    ".".join(p.relative_to(app / "bin").with_suffix("").parts).replace(".__init__", "")
    for p in (app / "bin" / "malicious_image").rglob("*.py"))
failed = []
for name in names:
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed.append(f"{name}: {type(exc).__name__}: {exc}")
print(f"imported {len(names) - len(failed)} of {len(names)} modules")
for line in failed:
    print(line)
sys.exit(1 if failed else 0)
"""


def python_checks(app: Path = APP) -> list[CheckResult]:
    """Byte-compile app/bin and app/lib, and import the libraries, under each Splunk Python."""
    results = []
    for version in SPLUNK_PYTHONS:
        python = find_python(version)
        env = {"PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin:/bin"}
        for label, code, args in (
            ("byte-compile app/bin and app/lib", _COMPILE, [str(app / "bin"), str(app / "lib")]),
            ("import vendored libraries and the app package", _IMPORT, [str(app), *VENDORED_IMPORTS]),
        ):
            done = subprocess.run([python, "-c", code, *args], capture_output=True, text=True, check=False, env=env)
            lines = (done.stdout + done.stderr).strip().splitlines()
            results.append(CheckResult(f"python {version}: {label}", done.returncode == 0, lines[-20:]))
    return results
