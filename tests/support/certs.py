"""The one certificate builder for tests: a test CA and server certificates with a chosen common
name and subject alternative names, made with the ``openssl`` command line tool (EC P-256, valid
two days). Used by the network-fault servers, the splunkd TLS tests and the alert action tests.

    ca = make_ca(tmp / "pki", "SplunkCommonCA")
    server = ca.issue("server", "SplunkServerDefaultCert")                 # CN only, no SAN
    local = ca.issue("local", "localhost", sans=("IP:127.0.0.1", "DNS:localhost"))
    server.cert, server.key, server.chain   # chain = certificate then key (splunkd's server.pem)
    splunk_default_pki() / hardened_pki()   # made once per process, reused (openssl is slow)

The default pair imitates what splunkd makes on first start: ``$SPLUNK_HOME/etc/auth/cacert.pem``
(CN ``SplunkCommonCA``) signs ``server.pem``, issued to ``CN=SplunkServerDefaultCert`` with no
subject alternative names (Splunk Admin Manual, "About securing Splunk Enterprise with SSL"; the
absence of an IP SAN is assumed, not checked on a live install).
"""

from __future__ import annotations

import atexit
import shutil
import subprocess
import tempfile
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
    name: str = ""  # the common name it was issued to

    @property
    def chain(self) -> Path:
        """The certificate followed by its key in one file, as splunkd's ``server.pem`` holds them."""
        chain = self.cert.with_suffix(".chain.pem")
        if not chain.exists():
            chain.write_bytes(self.cert.read_bytes() + self.key.read_bytes())
        return chain

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

    @property
    def pem(self) -> Path:
        """The CA certificate (what a client trusts); the same as ``cert``."""
        return self.cert

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
        return ServerCert(self.folder / f"{name}.pem", self.folder / f"{name}.key", common_name)


def make_ca(folder: Path, common_name: str = "Test CA", *, name: str = "ca") -> TestCA:
    """A new self-signed CA ``<name>.pem`` / ``<name>.key`` in ``folder`` (created if missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    _openssl(folder, "req", "-x509", *_EC, "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2",
             "-subj", f"/CN={common_name}", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    return TestCA(folder, folder / f"{name}.pem", folder / f"{name}.key")


def _openssl(folder: Path, *args: str) -> None:
    if not openssl_available():
        raise RuntimeError("the openssl command line tool is missing: it makes the test certificates")
    subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=folder, timeout=60)


@dataclass(frozen=True)
class Pki:
    """A CA and the server certificate it signed."""

    ca: TestCA
    server: ServerCert


_CACHE: dict[str, Pki] = {}
_FOLDER: list[Path] = []
HARDENED_NAME = "splunk-sh1.example.com"


def _folder() -> Path:
    if not _FOLDER:
        path = Path(tempfile.mkdtemp(prefix="mi-pki-"))
        atexit.register(shutil.rmtree, path, True)
        _FOLDER.append(path)
    return _FOLDER[0]


def splunk_default_pki() -> Pki:
    """Splunk's out-of-the-box pair: SplunkCommonCA signs SplunkServerDefaultCert (no SAN)."""
    if "default" not in _CACHE:
        ca = make_ca(_folder() / "default", "SplunkCommonCA")
        _CACHE["default"] = Pki(ca, ca.issue("server", "SplunkServerDefaultCert"))
    return _CACHE["default"]


def hardened_pki() -> Pki:
    """A site's own CA and a splunkd certificate for ``splunk-sh1.example.com`` (DNS name only)."""
    if "hardened" not in _CACHE:
        ca = make_ca(_folder() / "hardened", "Example Corp Root CA")
        _CACHE["hardened"] = Pki(ca, ca.issue("server", HARDENED_NAME, sans=(f"DNS:{HARDENED_NAME}",)))
    return _CACHE["hardened"]
