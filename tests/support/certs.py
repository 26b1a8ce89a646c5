"""Throw-away certificate authorities and server certificates for TLS tests (``openssl`` CLI).

Small API::

    ca = make_ca(folder, "SplunkCommonCA")                     # CA certificate + key
    cert = issue(ca, folder, "SplunkServerDefaultCert")         # no subjectAltName at all
    cert = issue(ca, folder, "sh1.example.com", sans=("DNS:sh1.example.com",))
    cert.pem, cert.key, cert.chain   # chain = certificate followed by its key (splunkd's server.pem)
    splunk_default_pki() / hardened_pki()   # made once per process, reused (openssl is slow)

Keys are EC P-256 (fast to make), valid two days. The default pair imitates what splunkd makes on
first start: ``$SPLUNK_HOME/etc/auth/cacert.pem`` (a CA whose subject ends in ``CN=SplunkCommonCA``)
signs ``server.pem``, issued to ``CN=SplunkServerDefaultCert`` with no subject alternative names
(Splunk Admin Manual, "About securing Splunk Enterprise with SSL" / "How to create and sign your
own TLS certificates"; the absence of an IP SAN is assumed, not checked on a live install).
"""

from __future__ import annotations

import atexit
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


@dataclass(frozen=True)
class Certificate:
    """A certificate and its private key (PEM files); ``chain`` holds both, splunkd-style."""

    name: str
    pem: Path
    key: Path
    chain: Path


def openssl_available() -> bool:
    """Whether the ``openssl`` command line tool is installed."""
    return shutil.which("openssl") is not None


def _openssl(folder: Path, *args: str) -> None:
    if not openssl_available():
        raise RuntimeError("the openssl command line tool is missing: it makes the test certificates")
    subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True, timeout=60)


def _chain(folder: Path, stem: str) -> Path:
    chain = folder / f"{stem}.chain.pem"
    chain.write_bytes((folder / f"{stem}.pem").read_bytes() + (folder / f"{stem}.key").read_bytes())
    return chain


def make_ca(folder: Path, common_name: str, *, organization: str = "Splunk") -> Certificate:
    """A self-signed CA certificate (``basicConstraints CA:TRUE``) named ``common_name``."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = common_name.replace(" ", "_")
    subject = f"/C=US/ST=CA/L=San Francisco/O={organization}/CN={common_name}"
    _openssl(folder, "req", "-x509", *EC, "-keyout", f"{stem}.key", "-out", f"{stem}.pem", "-days", "2",
             "-subj", subject, "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    return Certificate(common_name, folder / f"{stem}.pem", folder / f"{stem}.key", _chain(folder, stem))


def issue(ca: Certificate, folder: Path, common_name: str, *, sans: tuple[str, ...] = ()) -> Certificate:
    """A server certificate for ``common_name`` signed by ``ca``; ``sans`` such as ``("DNS:x",)``.

    Without ``sans`` the certificate has no subjectAltName extension: its only name is its CN.
    """
    folder.mkdir(parents=True, exist_ok=True)
    stem = common_name.replace(" ", "_").replace("*", "star")
    ext = ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment",
           "extendedKeyUsage=serverAuth", "authorityKeyIdentifier=keyid", "subjectKeyIdentifier=hash"]  # fmt: skip
    if sans:
        ext.append("subjectAltName=" + ",".join(sans))
    (folder / f"{stem}.ext").write_text("\n".join(ext) + "\n", encoding="ascii")
    _openssl(folder, "req", *EC, "-keyout", f"{stem}.key", "-out", f"{stem}.csr",
             "-subj", f"/O=SplunkUser/CN={common_name}")  # fmt: skip
    _openssl(folder, "x509", "-req", "-in", f"{stem}.csr", "-CA", str(ca.pem), "-CAkey", str(ca.key),
             "-CAcreateserial", "-out", f"{stem}.pem", "-days", "2", "-extfile", f"{stem}.ext")  # fmt: skip
    return Certificate(common_name, folder / f"{stem}.pem", folder / f"{stem}.key", _chain(folder, stem))


@dataclass(frozen=True)
class Pki:
    """A CA and the server certificate it signed."""

    ca: Certificate
    server: Certificate


_CACHE: dict[str, Pki] = {}
_FOLDER: list[Path] = []


def _folder() -> Path:
    if not _FOLDER:
        path = Path(tempfile.mkdtemp(prefix="mi-pki-"))
        atexit.register(shutil.rmtree, path, True)
        _FOLDER.append(path)
    return _FOLDER[0]


def splunk_default_pki() -> Pki:
    """Splunk's out-of-the-box pair: SplunkCommonCA signs SplunkServerDefaultCert (no SAN)."""
    if "default" not in _CACHE:
        folder = _folder() / "default"
        ca = make_ca(folder, "SplunkCommonCA")
        _CACHE["default"] = Pki(ca, issue(ca, folder, "SplunkServerDefaultCert"))
    return _CACHE["default"]


HARDENED_NAME = "splunk-sh1.example.com"


def hardened_pki() -> Pki:
    """A site's own CA and a splunkd certificate for ``splunk-sh1.example.com`` (DNS name only)."""
    if "hardened" not in _CACHE:
        folder = _folder() / "hardened"
        ca = make_ca(folder, "Example Corp Root CA", organization="Example Corp")
        _CACHE["hardened"] = Pki(ca, issue(ca, folder, HARDENED_NAME, sans=(f"DNS:{HARDENED_NAME}",)))
    return _CACHE["hardened"]
