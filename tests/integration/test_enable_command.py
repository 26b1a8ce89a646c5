"""The one-line command of docs/rules.md that enables the rules, run with bash and curl against a
local stand-in for splunkd's ``saved/searches/<name>`` endpoint."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, unquote

import pytest

from devtools.conffile import read_conf
from tests.support.paths import APP, ROOT

DOC = ROOT / "docs" / "rules.md"
pytestmark = pytest.mark.skipif(
    not (shutil.which("bash") and shutil.which("curl")), reason="needs bash and curl"
)


def bash_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", DOC.read_text(), flags=re.S)


class Recorder(BaseHTTPRequestHandler):
    calls: ClassVar[list] = []

    def log_message(self, format, *args):
        return

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = parse_qs(self.rfile.read(length).decode())
        auth = self.headers.get("Authorization", "")
        user = base64.b64decode(auth.split(" ", 1)[1]).decode() if auth.startswith("Basic ") else ""
        self.calls.append((unquote(self.path), {k: v[-1] for k, v in body.items()}, user))
        status = 200 if user == "admin:secret" else 401
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


@pytest.fixture
def server():
    Recorder.calls = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def run(script, uri, auth="admin:secret"):
    env = dict(os.environ, SPLUNK_URI=uri, SPLUNK_AUTH=auth)
    return subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def test_enable_command_enables_every_rule_and_the_baseline(server):
    done = run(bash_blocks()[0], server)
    assert done.returncode == 0, done.stderr
    shipped = {
        name
        for name in read_conf(APP / "default" / "savedsearches.conf")
        if name.startswith("Malicious Image")
    }
    prefix = "/servicesNS/nobody/malicious_image/saved/searches/"
    assert {path[len(prefix) :] for path, _, _ in Recorder.calls} == shipped
    assert len(Recorder.calls) == len(shipped) == 10  # 7 rules, 3 baselines
    assert all(body == {"disabled": "0"} and user == "admin:secret" for _, body, user in Recorder.calls)
    assert done.stdout.count("enabled: Malicious Image - ") == 10


def test_enable_command_reports_a_refusal(server):
    done = run(bash_blocks()[0], server, auth="admin:wrong")
    assert "enabled:" not in done.stdout and "401" in done.stderr


def test_seed_command_dispatches_the_baseline_over_30_days(server):
    done = run(bash_blocks()[1], server)
    assert done.returncode == 0, done.stderr
    ((path, body, _),) = Recorder.calls
    assert path.endswith(
        "/saved/searches/Malicious Image - Previously Seen AWS ECR Pushers - Update/dispatch"
    )
    assert body == {"dispatch.earliest_time": "-30d@d", "dispatch.latest_time": "-70m@m"}
