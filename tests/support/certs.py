"""The one certificate builder for tests: a test CA and server certificates with a chosen common
name and subject alternative names, made with the ``openssl`` command line tool (EC P-256, valid
two days). Used by the network-fault servers, the splunkd TLS tests and the alert action tests.

    ca = make_ca(tmp / "pki", "SplunkCommonCA")
    server = ca.issue("server", "SplunkServerDefaultCert")                 # CN only, no SAN
    local = ca.issue("local", "localhost", sans=("IP:127.0.0.1", "DNS:localhost"))
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

_EC = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")


def openssl_available() -> bool:
    """True when the ``openssl`` command line tool is on PATH (tests skip without it)."""
    return shutil.which("openssl") is not None


@dataclass(frozen=True)
class ServerCert:
    """A server certificate (PEM) and its unencrypted key."""

    cert: Path
    key: Path

    @property
    def pair(self) -> tuple[str, str]:
        """``(cert, key)`` as strings, as the emulators' ``tls=`` takes them."""
        return str(self.cert), str(self.key)


@dataclass(frozen=True)
class TestCA:
    """A test certificate authority in ``folder``: ``cert`` is what a client trusts."""

    folder: Path
    cert: Path
    key: Path

    __test__ = False  # not a pytest test class

    def issue(self, name: str, common_name: str, *, sans: Sequence[str] = ()) -> ServerCert:
        """A server certificate ``<name>.pem`` for ``common_name``, signed by this CA.

        Arguments:
            sans: subject alternative names in openssl's syntax (``IP:127.0.0.1``,
                ``DNS:localhost``); none means the certificate names only its CN, as Splunk's
                default ``SplunkServerDefaultCert`` does.
        """
        ext = self.folder / f"{name}.ext"
        lines = [
            "basicConstraints=critical,CA:FALSE",
            "keyUsage=critical,digitalSignature",
            "extendedKeyUsage=serverAuth",
            "authorityKeyIdentifier=keyid",
            "subjectKeyIdentifier=hash",
        ]
        if sans:
            lines.insert(0, "subjectAltName=" + ",".join(sans))
        ext.write_text("\n".join(lines) + "\n")
        _openssl(self.folder, "req", *_EC, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={common_name}")  # fmt: skip
        _openssl(self.folder, "x509", "-req", "-in", f"{name}.csr", "-CA", self.cert.name, "-CAkey", self.key.name,
                 "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", ext.name)  # fmt: skip
        return ServerCert(self.folder / f"{name}.pem", self.folder / f"{name}.key")


def make_ca(folder: Path, common_name: str = "Test CA", *, name: str = "ca") -> TestCA:
    """A new self-signed CA ``<name>.pem`` / ``<name>.key`` in ``folder`` (created if missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    _openssl(folder, "req", "-x509", *_EC, "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2",
             "-subj", f"/CN={common_name}", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    return TestCA(folder, folder / f"{name}.pem", folder / f"{name}.key")


def _openssl(folder: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=folder, timeout=60)
