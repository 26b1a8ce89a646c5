"""A GitHub-like HTTP server on 127.0.0.1 for the sync tests. It is an emulation, not GitHub.

It implements the two REST endpoints the sync uses, as GitHub documents them:

- "Get a commit" (https://docs.github.com/en/rest/commits/commits#get-a-commit):
  ``GET /repos/{owner}/{repo}/commits/{ref}``. With ``Accept: application/vnd.github.sha`` the
  body is the 40-hex commit SHA as plain text ("Commits: media types"); otherwise a small JSON
  object with ``sha``. An unknown ref answers 422 with ``{"message": "No commit found for SHA: ..."}``.
- "Download a repository archive (tar)"
  (https://docs.github.com/en/rest/repos/contents#download-a-repository-archive-tar):
  ``GET /repos/{owner}/{repo}/tarball/{ref}`` answers ``302 Found`` with a ``Location`` on the
  download host (on github.com that is ``codeload.github.com/{owner}/{repo}/legacy.tar.gz/{ref}``;
  here the same path under ``/codeload/`` on this server), which serves the gzip tarball.
- Conditional requests
  (https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate):
  every commits answer carries an ``ETag``; a request whose ``If-None-Match`` matches gets
  ``304 Not Modified`` with no body.
- Rate limits (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api):
  API answers carry ``x-ratelimit-limit/remaining/used/reset/resource``; the ``rate_limit`` fault
  answers 403 or 429 with ``x-ratelimit-remaining: 0`` and ``x-ratelimit-reset`` (epoch seconds),
  or with ``retry-after`` (seconds) for a secondary limit.

The tarballs served are the real snapshots (read from disk by path, never copied); a ref maps to
a tarball with :meth:`GitHubEmulator.set_ref`, and the commit SHA is read from the tarball's pax
``comment`` header, as ``git archive`` writes it.

Usage::

    with GitHubEmulator() as gh:                      # start() / stop() also work
        sha = gh.set_ref("develop", SNAPSHOTS / "splunk-security_content-b13b314.tar.gz")
        gh.fault("drop", endpoint="tarball", times=1)  # next tarball download is cut mid-body
        ...  # point the client at gh.url
        assert [r.path for r in gh.requests] == [...]

Faults (``fault(kind, endpoint=..., times=None, **params)``; ``times=None`` means every request;
``endpoint`` is ``"commits"``, ``"tarball"`` (the download host, after the redirect),
``"redirect"`` (the API tarball request) or ``"any"``):

- ``drop``: send the headers with the full ``Content-Length`` and ``after_bytes`` bytes of the body
  (default: half), then close the connection.
- ``corrupt_gzip``: garble ``length`` bytes (default 4096) at offset ``at`` (default: the middle).
- ``truncate``: serve only the first ``after_bytes`` bytes, with a matching ``Content-Length``.
- ``not_gzip``: serve an HTML page with status 200.
- ``status``: answer with ``code`` (default 500) and a GitHub-style JSON error.
- ``rate_limit``: answer ``code`` (403 or 429) with ``reset_in`` seconds (x-ratelimit-reset) or
  ``retry_after`` seconds (retry-after).
- ``slow``: sleep ``delay`` seconds before each ``chunk`` bytes of the body.
- ``redirect``: the API tarball request redirects to ``location`` (e.g. a host GitHub never uses).
- ``stall``: send ``after_bytes`` bytes of the body (default: half), then stop sending for
  ``seconds`` (default 5) without closing: the client's read timeout must end the wait.

Any bytes can be served as a ref's tarball with :meth:`GitHubEmulator.set_ref_bytes` (hostile
archives built by a test, a body that is not gzip at all).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import socket
import tarfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

SHA_MEDIA_TYPE = "application/vnd.github.sha"
RATE_LIMIT = 5000
ENDPOINTS = ("commits", "redirect", "tarball", "any")
FAULT_KINDS = ("drop", "corrupt_gzip", "truncate", "not_gzip", "status", "rate_limit", "slow", "redirect", "stall")


@dataclass
class RecordedRequest:
    """One request the emulator received (headers lower-cased)."""

    method: str
    path: str
    endpoint: str
    headers: dict[str, str]
    status: int = 0


@dataclass
class Fault:
    """A switched-on fault; ``remaining`` None means it never wears off."""

    kind: str
    endpoint: str
    remaining: int | None
    params: dict[str, Any] = field(default_factory=dict)


def tarball_commit(path: Path) -> str:
    """The commit SHA that ``git archive`` wrote into the tarball's pax ``comment`` header."""
    with tarfile.open(path, "r|gz") as tar:
        tar.next()
        return str(tar.pax_headers.get("comment", ""))


class GitHubEmulator:
    """A threading HTTP server on 127.0.0.1 emulating the GitHub endpoints the sync uses."""

    def __init__(self, owner: str = "splunk", repo: str = "security_content", chunk_size: int = 64 * 1024):
        self.owner = owner
        self.repo = repo
        self.chunk_size = chunk_size
        self.requests: list[RecordedRequest] = []
        self._refs: dict[str, str] = {}
        self._tarballs: dict[str, Path | bytes] = {}
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle -------------------------------------------------------------------------
    def start(self) -> GitHubEmulator:
        """Listen on a free port of 127.0.0.1 and serve in a daemon thread."""
        handler = type("Handler", (_Handler,), {"emulator": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="github-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> GitHubEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL of the emulated API, e.g. ``http://127.0.0.1:40123`` (use it as the API base)."""
        assert self._server is not None, "start() the emulator first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def repository_url(self) -> str:
        """The github.com-style repository URL (what an admin would type)."""
        return f"https://github.com/{self.owner}/{self.repo}"

    # -- content ------------------------------------------------------------------------------
    def set_ref(self, ref: str, tarball: Path | str) -> str:
        """Point ``ref`` at a tarball; returns the commit SHA (from the pax header)."""
        tarball = Path(tarball)
        sha = tarball_commit(tarball)
        with self._lock:
            self._refs[ref] = sha
            self._tarballs[sha] = tarball
        return sha

    def set_ref_bytes(self, ref: str, data: bytes, sha: str) -> str:
        """Point ``ref`` at commit ``sha`` whose tarball download answers exactly ``data``."""
        with self._lock:
            self._refs[ref] = sha
            self._tarballs[sha] = bytes(data)
        return sha

    # -- faults and log -----------------------------------------------------------------------
    def fault(self, kind: str, *, endpoint: str = "tarball", times: int | None = None, **params: Any) -> None:
        """Switch a fault on for the next ``times`` matching requests (None: until cleared)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {FAULT_KINDS}")
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; one of {ENDPOINTS}")
        with self._lock:
            self._faults.append(Fault(kind, endpoint, times, dict(params)))

    def clear_faults(self) -> None:
        """Switch every fault off."""
        with self._lock:
            self._faults.clear()

    def clear_log(self) -> None:
        """Forget the requests received so far."""
        with self._lock:
            self.requests.clear()

    def count(self, endpoint: str | None = None) -> int:
        """Requests received so far, optionally only those to one endpoint."""
        with self._lock:
            return sum(1 for r in self.requests if endpoint in (None, r.endpoint))

    def _take_fault(self, endpoint: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.endpoint in (endpoint, "any") and fault.remaining != 0:
                    if fault.remaining is not None:
                        fault.remaining -= 1
                    return fault
        return None

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _resolve(self, ref: str) -> str | None:
        with self._lock:
            if ref in self._refs:
                return self._refs[ref]
            return ref if ref in self._tarballs else None

    def _tarball(self, sha: str) -> Path | bytes | None:
        with self._lock:
            return self._tarballs.get(sha)


def _etag(sha: str, accept: str) -> str:
    return '"' + hashlib.sha256(f"{sha}|{accept}".encode()).hexdigest()[:40] + '"'


def _etag_matches(header: str, etag: str) -> bool:
    wanted = etag.strip('"')
    return any(t.strip().removeprefix("W/").strip('"') == wanted for t in header.split(",") if t.strip())


class _Handler(BaseHTTPRequestHandler):
    emulator: GitHubEmulator
    protocol_version = "HTTP/1.1"
    server_version = "GitHubEmulator/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        return

    # -- dispatch ----------------------------------------------------------------------------
    def do_GET(self) -> None:
        emu = self.emulator
        path = unquote(urlsplit(self.path).path)
        parts = [p for p in path.split("/") if p]
        endpoint, handler = "unknown", self._not_found
        repo_ok = len(parts) >= 3 and parts[1:3] == [emu.owner, emu.repo]
        if parts[:1] == ["repos"] and repo_ok and len(parts) >= 5 and parts[3] == "commits":
            endpoint, handler = "commits", self._commits
        elif parts[:1] == ["repos"] and repo_ok and len(parts) >= 5 and parts[3] == "tarball":
            endpoint, handler = "redirect", self._tarball_redirect
        elif parts[:1] == ["codeload"] and repo_ok and len(parts) >= 5 and parts[3] == "legacy.tar.gz":
            endpoint, handler = "tarball", self._tarball
        record = RecordedRequest("GET", self.path, endpoint, {k.lower(): v for k, v in self.headers.items()})
        self._recorded = record
        emu._record(record)
        fault = emu._take_fault(endpoint) if endpoint != "unknown" else None
        ref = "/".join(parts[4:])
        if fault is not None and fault.kind in ("status", "rate_limit", "not_gzip", "redirect"):
            self._simple_fault(fault)
            return
        handler(ref, fault)

    def send_response(self, code: int, message: str | None = None) -> None:
        """Log the status before the client can see it (tests read the log right after a call)."""
        recorded = getattr(self, "_recorded", None)
        if recorded is not None:
            recorded.status = code
        super().send_response(code, message)

    # -- endpoints -----------------------------------------------------------------------------
    def _commits(self, ref: str, fault: Fault | None) -> int:
        sha = self.emulator._resolve(ref)
        if sha is None:
            return self._json(
                422,
                {
                    "message": f"No commit found for SHA: {ref}",
                    "documentation_url": "https://docs.github.com/rest/commits/commits#get-a-commit",
                },
            )
        accept = self.headers.get("Accept", "")
        etag = _etag(sha, accept)
        headers = {"ETag": etag, "Cache-Control": "private, max-age=60, s-maxage=60", **self._rate_headers()}
        if _etag_matches(self.headers.get("If-None-Match", ""), etag):
            return self._send(304, b"", headers)
        if SHA_MEDIA_TYPE in accept:
            return self._send(200, sha.encode(), {**headers, "Content-Type": f"{SHA_MEDIA_TYPE}; charset=utf-8"})
        return self._json(200, {"sha": sha, "commit": {"message": "emulated"}}, headers)

    def _tarball_redirect(self, ref: str, fault: Fault | None) -> int:
        sha = self.emulator._resolve(ref)
        if sha is None:
            return self._json(404, {"message": "Not Found"})
        emu = self.emulator
        location = f"{emu.url}/codeload/{emu.owner}/{emu.repo}/legacy.tar.gz/{sha}"
        return self._send(302, b"", {"Location": location, **self._rate_headers()})

    def _tarball(self, ref: str, fault: Fault | None) -> int:
        path = self.emulator._tarball(ref)
        if path is None:
            return self._send(404, b"404: Not Found", {"Content-Type": "text/plain"})
        size = len(path) if isinstance(path, bytes) else path.stat().st_size
        name = f"{self.emulator.owner}-{self.emulator.repo}-{ref[:7]}.tar.gz"
        params = fault.params if fault else {}
        kind = fault.kind if fault else ""
        cut = int(params.get("after_bytes", size // 2))
        length = cut if kind == "truncate" else size
        self.send_response(200)
        self.send_header("Content-Type", "application/x-gzip")
        self.send_header("Content-Disposition", f"attachment; filename={name}")
        self.send_header("Content-Length", str(length))
        self.end_headers()
        garble_at, garble_len = int(params.get("at", size // 2)), int(params.get("length", 4096))
        sent = 0
        with io.BytesIO(path) if isinstance(path, bytes) else path.open("rb") as body:
            while sent < length:
                chunk = body.read(min(self.emulator.chunk_size, length - sent))
                if not chunk:
                    break
                if kind == "slow":
                    time.sleep(float(params.get("delay", 0.05)))
                if kind == "corrupt_gzip" and sent <= garble_at + garble_len and sent + len(chunk) > garble_at:
                    chunk = bytes(
                        b ^ 0x5A if garble_at <= sent + i < garble_at + garble_len else b for i, b in enumerate(chunk)
                    )
                if kind == "stall" and sent + len(chunk) >= cut:
                    self._write(chunk[: cut - sent])
                    self.wfile.flush()
                    time.sleep(float(params.get("seconds", 5)))
                    self._drop()
                    return 200
                if kind == "drop" and sent + len(chunk) >= cut:
                    self._write(chunk[: cut - sent])
                    self._drop()
                    return 200
                if not self._write(chunk):
                    return 200
                sent += len(chunk)
        return 200

    def _not_found(self, ref: str, fault: Fault | None) -> int:
        return self._json(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})

    # -- faults ----------------------------------------------------------------------------------
    def _simple_fault(self, fault: Fault) -> int:
        params = fault.params
        if fault.kind == "status":
            code = int(params.get("code", 500))
            return self._json(code, {"message": params.get("message", "Server Error")})
        if fault.kind == "not_gzip":
            page = b"<!DOCTYPE html><html><body>Sign in to GitHub</body></html>"
            return self._send(200, page, {"Content-Type": "text/html; charset=utf-8"})
        if fault.kind == "redirect":
            return self._send(302, b"", {"Location": str(params["location"])})
        code = int(params.get("code", 403))
        headers = self._rate_headers(remaining=0, reset_in=int(params.get("reset_in", 3600)))
        if "retry_after" in params:
            headers = {"Retry-After": str(int(params["retry_after"]))}
        message = "API rate limit exceeded for 127.0.0.1."
        return self._json(
            code,
            {
                "message": message,
                "documentation_url": "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api",
            },
            headers,
        )

    # -- plumbing ----------------------------------------------------------------------------------
    def _rate_headers(self, remaining: int = RATE_LIMIT - 1, reset_in: int = 3600) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(RATE_LIMIT),
            "x-ratelimit-remaining": str(remaining),
            "x-ratelimit-used": str(RATE_LIMIT - remaining),
            "x-ratelimit-resource": "core",
            "x-ratelimit-reset": str(int(time.time()) + reset_in),
        }

    def _json(self, code: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> int:
        body = json.dumps(payload).encode()
        return self._send(code, body, {"Content-Type": "application/json; charset=utf-8", **(headers or {})})

    def _send(self, code: int, body: bytes, headers: dict[str, str]) -> int:
        self.send_response(code)
        for name, value in headers.items():
            self.send_header(name, value)
        if code != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self._write(body)
        return code

    def _write(self, data: bytes) -> bool:
        try:
            self.wfile.write(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return False

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def make_tarball(path: Path, members: dict[str, bytes], *, commit: str = "0" * 40, top: str | None = None) -> Path:
    """Write a small GitHub-style tarball (top folder, pax ``comment``) for unit tests.

    Arguments:
        path: where to write the ``.tar.gz``.
        members: repository-relative path -> file bytes.
        commit: the SHA written to the pax ``comment`` header.
        top: the top folder; default ``splunk-security_content-<sha7>``.
    """
    top = top or f"splunk-security_content-{commit[:7]}"
    with (
        gzip.open(path, "wb") as raw,
        tarfile.open(fileobj=raw, mode="w|", format=tarfile.PAX_FORMAT, pax_headers={"comment": commit}) as tar,
    ):
        for name, data in members.items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            info.mtime = 1700000000
            tar.addfile(info, io.BytesIO(data))
    return path
