"""The one splunkd REST client: session key, namespaces, timeouts, retries and the TLS policy.

Used by the modular input, the KV store writer and state store, and the alert action (and later
the settings page and the visibility checks): nothing else in the app speaks to splunkd.

TLS policy (issue 11 item 2; Splunk's "Securing Splunk Enterprise", "Configure Splunk indexing and
forwarding to use TLS certificates" and server.conf.spec ``[sslConfig]``)
==================================================================================================

Verification is never turned off. What the chain is verified against, first found wins:

1. the ``splunkd_ca_file`` setting (a PEM file);
2. ``sslRootCAPath`` in ``[sslConfig]`` of ``$SPLUNK_HOME/etc/system/local/server.conf``, then of
   ``etc/system/default/server.conf`` (``$SPLUNK_HOME`` expanded; a relative path is taken from
   ``$SPLUNK_HOME``): the CA splunkd itself uses, which hardened sites replace;
3. ``$SPLUNK_HOME/etc/auth/cacert.pem`` (the CA that signs the default certificate);
4. the CA bundle shipped with ``requests`` (certifi).

The name: splunkd hands modular inputs and alert actions ``server_uri = https://127.0.0.1:8089``,
and its default certificate is issued to ``SplunkServerDefaultCert`` with (probably) no IP
address in its subject alternative names, so Python's name check fails on a default install. For
a loopback ``server_uri`` (:data:`malicious_image.settings.LOOPBACK_HOSTS`) the certificate is
accepted when its chain verifies; if ``splunkd_cert_name`` is set, the certificate must also be
issued to that name (subject alternative names, else the common name). Any other address gets the
full check against its host name.

Exception tree (this module's family)::

    SplunkdError                 a call failed; ``status`` is the HTTP status when there was one
    +-- SplunkdConfigError       the TLS settings cannot work (also a ValueError)
    +-- KVStoreError             (in kvstore.py) a KV store write or read is inconsistent

A client is built with the error class its calls raise (``error=``), so that an adapter's failures
stay in its own family (the modular input's status events say ``error=KVStoreError``).
"""

from __future__ import annotations

import os
import re
import time
import warnings
from dataclasses import dataclass
from typing import Any, Sequence
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

from malicious_image.settings import is_loopback

# A certificate that names only its CN (Splunk's default) is checked against splunkd_cert_name
# through its CN on purpose: urllib3's warning about it would only fill splunkd.log.
warnings.filterwarnings("ignore", category=urllib3.exceptions.SubjectAltNameWarning)

APP = "malicious_image"
OWNER = "nobody"
TIMEOUT = 60.0
RETRY_DELAYS = (0.5, 1.0)


class SplunkdError(Exception):
    """A splunkd REST call failed; the message says which call and what to check."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class SplunkdConfigError(SplunkdError, ValueError):
    """The TLS settings for splunkd cannot work (a CA file that does not exist, verify=False)."""


# -- the TLS policy ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class TLSPolicy:
    """How splunkd's certificate is checked.

    ``ca_file``: the PEM file the chain must lead to ("" = requests' bundled CAs); ``cert_name``:
    the name the certificate must carry (loopback only); ``check_host``: compare the certificate
    with the host of ``server_uri`` (every non-loopback address); ``origin``: where ``ca_file``
    came from, for messages.
    """

    ca_file: str = ""
    cert_name: str = ""
    check_host: bool = True
    origin: str = "the bundled CA list"


def read_conf_setting(path: str, stanza: str, key: str) -> str | None:
    """The value of ``key`` in ``[stanza]`` of a Splunk .conf file, or None (also when absent).

    Follows the .conf syntax of Splunk's "About configuration files": ``[stanza]`` headers,
    ``key = value`` lines, ``#`` comment lines; the last occurrence wins.
    """
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    current, found = "", None
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip()
        elif current == stanza and "=" in line:
            name, _, value = line.partition("=")
            if name.strip() == key:
                found = value.strip()
    return found


def splunkd_ca(splunk_home: str | None = None) -> tuple[str, str]:
    """The CA file splunkd itself uses and where that was read: ``(path, origin)``; ``("", ...)``
    when neither server.conf nor ``etc/auth/cacert.pem`` names one.

    Raises:
        SplunkdConfigError: server.conf names a CA file that does not exist.
    """
    home = splunk_home if splunk_home is not None else os.environ.get("SPLUNK_HOME", "")
    if not home:
        return "", "the bundled CA list ($SPLUNK_HOME is not set)"
    for level in ("local", "default"):
        conf = os.path.join(home, "etc", "system", level, "server.conf")
        value = read_conf_setting(conf, "sslConfig", "sslRootCAPath")
        if value:
            path = value.replace("$SPLUNK_HOME", home)
            path = path if os.path.isabs(path) else os.path.join(home, path)
            if not os.path.isfile(path):
                raise SplunkdConfigError(
                    f"{conf} [sslConfig] sslRootCAPath names {path}, which does not exist; "
                    "set splunkd_ca_file to the PEM file of the CA that signs splunkd's certificate"
                )
            return path, f"{conf} [sslConfig] sslRootCAPath"
    cacert = os.path.join(home, "etc", "auth", "cacert.pem")
    if os.path.isfile(cacert):
        return cacert, cacert
    return "", "the bundled CA list (no sslRootCAPath, no etc/auth/cacert.pem)"


def splunkd_verify(splunk_home: str | None = None) -> str | bool:
    """What ``requests`` verifies splunkd against: the CA file of :func:`splunkd_ca`, else True
    (the bundled CAs). Never False."""
    return splunkd_ca(splunk_home)[0] or True


def tls_policy(
    server_uri: str, *, ca_file: str = "", cert_name: str = "", splunk_home: str | None = None
) -> TLSPolicy:
    """The TLS policy for ``server_uri`` (see the module docstring).

    Arguments:
        ca_file: the ``splunkd_ca_file`` setting ("" = read server.conf).
        cert_name: the ``splunkd_cert_name`` setting ("" = chain only on loopback).

    Raises:
        SplunkdConfigError: ``ca_file`` or server.conf's CA file does not exist.
    """
    if ca_file:
        if not os.path.isfile(ca_file):
            raise SplunkdConfigError(f"the splunkd CA file {ca_file} does not exist or is not a file")
        path, origin = ca_file, "splunkd_ca_file"
    else:
        path, origin = splunkd_ca(splunk_home)
    loopback = is_loopback(urlsplit(server_uri).hostname)
    return TLSPolicy(ca_file=path, cert_name=cert_name if loopback else "", check_host=not loopback, origin=origin)


class _NamedTLSAdapter(HTTPAdapter):
    """Checks the certificate against ``cert_name`` instead of the host (None: chain only)."""

    def __init__(self, cert_name: str | None) -> None:
        self._cert_name = cert_name
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["assert_hostname"] = self._cert_name or False
        super().init_poolmanager(*args, **kwargs)


# -- the client --------------------------------------------------------------------------------------
class SplunkdClient:
    """splunkd REST: session key auth, app namespace, timeouts, retries on 5xx and drops, TLS.

    Arguments:
        server_uri: ``https://127.0.0.1:8089`` as splunkd gives it (input XML, alert payload).
        session_key: the session key splunkd gave (never logged, never in a message).
        verify: None = :func:`tls_policy` (server.conf...), a CA file path, or True (bundled
            CAs); False is refused.
        cert_name: the expected certificate name on loopback (``splunkd_cert_name``).
        error: the :class:`SplunkdError` subclass the calls raise.

    Examples:
        >>> client = SplunkdClient("https://127.0.0.1:8089", key)                      # doctest: +SKIP
        >>> client.call("GET", client.ns("storage/passwords"), params={"output_mode": "json"})  # doctest: +SKIP
    """

    def __init__(
        self,
        server_uri: str,
        session_key: str,
        *,
        app: str = APP,
        owner: str = OWNER,
        verify: str | bool | None = None,
        cert_name: str = "",
        timeout: float = TIMEOUT,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        error: type[SplunkdError] = SplunkdError,
        splunk_home: str | None = None,
    ) -> None:
        parts = urlsplit(server_uri)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise SplunkdConfigError(f"server_uri must be an http(s) URL, not {server_uri[:40]!r}")
        if verify is False:
            raise SplunkdConfigError("TLS verification of splunkd cannot be turned off")
        self.base = server_uri.rstrip("/")
        self.app = app
        self.owner = owner
        self.timeout = timeout
        self.retry_delays = tuple(retry_delays)
        self.error = error
        self.requests_made = 0
        self.session = requests.Session()
        self.session.trust_env = False  # splunkd is local: never through an HTTP(S)_PROXY
        self.session.headers["Authorization"] = f"Splunk {session_key}"
        if parts.scheme == "http":  # tests and emulators only: splunkd always serves HTTPS
            self.policy = TLSPolicy(check_host=False, origin="nothing (plain http)")
        elif verify is True:  # the bundled CAs, on purpose
            loopback = is_loopback(parts.hostname)
            self.policy = TLSPolicy(cert_name=cert_name if loopback else "", check_host=not loopback)
        else:
            self.policy = tls_policy(server_uri, ca_file=verify or "", cert_name=cert_name, splunk_home=splunk_home)
        if parts.scheme == "https":
            self.session.verify = self.policy.ca_file or True
            if not self.policy.check_host:
                self.session.mount(self.base + "/", _NamedTLSAdapter(self.policy.cert_name or None))

    def ns(self, path: str) -> str:
        """URL of ``path`` in the app's namespace (``/servicesNS/nobody/<app>/<path>``)."""
        return f"{self.base}/servicesNS/{self.owner}/{self.app}/{path}"

    def global_url(self, path: str) -> str:
        """URL of ``path`` outside any app (``/services/<path>``)."""
        return f"{self.base}/services/{path}"

    def call(
        self, method: str, url: str, *, ok: Sequence[int] = (200, 201), retry: bool = True, **kwargs: Any
    ) -> requests.Response:
        """Send one request; retry 5xx answers and broken connections (idempotent calls only).

        Raises:
            SplunkdError (``self.error``): the last answer was not in ``ok`` (``status`` set), the
                certificate did not verify, or splunkd could not be reached.
        """
        attempts = (0.0, *self.retry_delays) if retry else (0.0,)
        what = f"{method} {urlsplit(url).path}"
        failure, status = "", None
        for delay in attempts:
            time.sleep(delay)
            self.requests_made += 1
            try:
                answer = self.session.request(method, url, timeout=self.timeout, **kwargs)
            except requests.exceptions.SSLError as exc:
                raise self.error(
                    f"{what}: TLS verification of splunkd failed ({_tls_reason(exc)}); verified against "
                    f"{self.policy.origin}: set splunkd_ca_file to the CA that signs splunkd's certificate "
                    "(server.conf [sslConfig]) and splunkd_cert_name to the name it is issued to"
                ) from None
            except requests.RequestException as exc:
                failure = f"splunkd did not answer ({type(exc).__name__}: {_network_reason(exc)})"
                continue
            if answer.status_code in ok:
                return answer
            status = answer.status_code
            failure = f"HTTP {status}: {splunk_message(answer)}"
            if status < 500:
                break
        raise self.error(f"{what} failed: {failure}", status)


def splunk_message(answer: requests.Response) -> str:
    """The ``messages`` text of a splunkd error answer (at most 300 characters)."""
    try:
        messages = answer.json().get("messages") or []
        return "; ".join(str(m.get("text", "")) for m in messages)[:300] or answer.reason
    except (ValueError, AttributeError):
        return (answer.text or answer.reason or "")[:300]


_SSL_REASON = re.compile(
    r"\[SSL: [A-Z_]+\][^'\")]*|hostname '[^']*' doesn't match [^)]*?'(?=\W*\))|IP address mismatch[^'\")]*"
)


def _tls_reason(exc: BaseException) -> str:
    """The OpenSSL reason of a TLS failure (``[SSL: CERTIFICATE_VERIFY_FAILED] ...``), no URL."""
    found = _SSL_REASON.search(str(exc))
    return found.group(0).strip().rstrip(" (") if found else type(exc).__name__


def _network_reason(exc: BaseException) -> str:
    text = str(exc)
    for cause in ("Connection refused", "timed out", "Name or service not known", "Connection reset",
                  "Connection aborted", "RemoteDisconnected"):  # fmt: skip
        if cause in text:
            return cause
    return type(exc).__name__
