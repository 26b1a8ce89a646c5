"""Run the modular input as splunkd runs it: a subprocess fed the exact XML on stdin.

The XML lives in tests/fixtures/modinput/ (as splunk-sdk-python keeps its modular input
fixtures); ``${name}`` placeholders are filled with the emulators' addresses. The subprocess uses
the vendored libraries when app/lib exists (``python -I -S``: nothing from the dev environment),
else the dev environment's site-packages (``python -I``).
"""

from __future__ import annotations

import json
import os
import string
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests import secrets_audit

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "app" / "bin" / "security_content.py"
FIXTURES = ROOT / "tests" / "fixtures" / "modinput"
VENDORED = (ROOT / "app" / "lib" / "splunklib").is_dir()


@dataclass
class Done:
    """What one subprocess run left behind."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def events(self) -> list[dict[str, Any]]:
        """The <event> elements of the <stream> on stdout, with data parsed as JSON."""
        if not self.stdout.strip():
            return []
        root = ET.fromstring(self.stdout)
        found = []
        for event in root.iter("event"):
            item = {child.tag: child.text for child in event}
            item["stanza"] = event.get("stanza")
            item["data"] = json.loads(item.get("data") or "{}")
            found.append(item)
        return found

    @property
    def status(self) -> dict[str, Any]:
        """The one status event's JSON (asserts there is exactly one)."""
        events = self.events
        assert len(events) == 1, f"expected one status event, got {len(events)}: {self.stdout!r} {self.stderr!r}"
        assert events[0]["sourcetype"] == "malicious_image:sync"
        return events[0]["data"]


def fixture(name: str, **values: str) -> str:
    """A fixture's XML with ``${name}`` placeholders filled in."""
    return string.Template((FIXTURES / name).read_text(encoding="utf-8")).substitute(values)


def command(*args: str) -> list[str]:
    flags = ["-I", "-S"] if VENDORED else ["-I"]
    return [sys.executable, *flags, str(SCRIPT), *args]


def environment(splunk_home: Path) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "SPLUNK_HOME": str(splunk_home),
        "LANG": "C.UTF-8",
    }
    if not VENDORED:  # -I ignores PYTHONPATH; site-packages of the interpreter running the tests are used
        env["PYTHONNOUSERSITE"] = "1"
    return env


def run_modinput(args: list[str], stdin: str, splunk_home: Path, timeout: float = 120) -> Done:
    """Run ``security_content.py ARGS`` with ``stdin``; return code, stdout and stderr."""
    done = subprocess.run(
        command(*args),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment(splunk_home),
        cwd=str(splunk_home),
    )
    return _recorded(Done(done.returncode, done.stdout, done.stderr), args)


def _recorded(done: Done, args: list[str]) -> Done:
    """Hand the run's stdout and stderr to the secrets audit."""
    what = " ".join(args) or "run"
    secrets_audit.record(f"modular input ({what}) stdout", done.stdout)
    secrets_audit.record(f"modular input ({what}) stderr", done.stderr)
    return done


def start_modinput(args: list[str], stdin: str, splunk_home: Path) -> subprocess.Popen:
    """Start a run without waiting (for kill -9 and concurrency tests)."""
    process = subprocess.Popen(
        command(*args),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(splunk_home),
        cwd=str(splunk_home),
    )
    assert process.stdin is not None
    process.stdin.write(stdin)
    process.stdin.close()
    return process


def log_text(splunk_home: Path) -> str:
    """Everything the input wrote to $SPLUNK_HOME/var/log/splunk/malicious_image.log."""
    path = splunk_home / "var" / "log" / "splunk" / "malicious_image.log"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    secrets_audit.record(f"modular input log {path}", text)
    return text


def finish(process: subprocess.Popen, timeout: float = 120) -> Done:
    """Wait for a run started with :func:`start_modinput` and collect what it wrote."""
    assert process.stdout is not None and process.stderr is not None
    returncode = process.wait(timeout=timeout)
    done = Done(returncode, process.stdout.read(), process.stderr.read())
    return _recorded(done, [a for a in process.args if a.startswith("--")])
