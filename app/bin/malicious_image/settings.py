"""The settings of the ``security_content`` input: one frozen object, one parser, one validator.

:func:`parse_input_settings` turns a stanza's parameters (the modular input's XML, the settings
page's form, or ``build.py sync``'s options) into an :class:`InputSettings`, or raises
:class:`InputConfigError` with a message that says what to enter instead. :data:`FIELDS` describes
each setting once; the modular input's scheme is generated from it and
``app/README/inputs.conf.spec`` is checked against it by a test.

Secrets (the GitHub token, the proxy password) are never settings: they live in
``storage/passwords``, realm :data:`PASSWORD_REALM`.

A pure module: no splunkd, no network, no import from the rest of the app but the content
sources' defaults.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from malicious_image.content.source_base import DEFAULT_API_URL, DEFAULT_REF, DEFAULT_REPOSITORY

PASSWORD_REALM = "malicious_image"  # noqa: S105 - a realm name, not a secret
TOKEN_NAME = "github_token"  # noqa: S105 - a storage/passwords entry name
PROXY_PASSWORD_NAME = "proxy_password"  # noqa: S105 - an entry name
DEFAULT_INTERVAL = 21600
MIN_INTERVAL = 300
ATTACK_SOURCES = ("github", "security_content")
# The one list of loopback host names: plain http to the GitHub API and a splunkd certificate that
# does not name the address are accepted for these hosts only.
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
# splunk.util.normalizeBoolean, the rule Splunk's own Python code applies to .conf booleans.
TRUE_WORDS = frozenset({"1", "true", "t", "yes", "y", "on"})
_REF_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")
_CERT_NAME_RE = re.compile(r"^[A-Za-z0-9*][A-Za-z0-9._*-]{0,252}$")
_ATTACK_VERSION_RE = re.compile(r"^v?[0-9]{1,3}(\.[0-9]{1,3})?$")


class InputConfigError(ValueError):
    """A stanza parameter is invalid; the message tells the admin what to enter instead."""


def is_true(value: Any) -> bool:
    """A .conf boolean as Splunk reads it: 1, true, t, yes, y, on (any case) are true.

    Examples:
        >>> is_true("True"), is_true(" on "), is_true("0"), is_true(None), is_true(True)
        (True, True, False, False, True)
    """
    if isinstance(value, bool):
        return value
    return str(value if value is not None else "").strip().lower() in TRUE_WORDS


def is_loopback(host: str | None) -> bool:
    """True for this host's loopback names (:data:`LOOPBACK_HOSTS`)."""
    return (host or "").strip("[]").lower() in LOOPBACK_HOSTS


@dataclass(frozen=True)
class Field:
    """One setting: its stanza key, its title in Splunk Web and what to enter."""

    name: str
    title: str
    description: str


FIELDS = (
    Field("repository", "Repository", "https://github.com/OWNER/NAME, or the absolute path of a .tar.gz or "
          f"folder on this search head. Default {DEFAULT_REPOSITORY}."),
    Field("ref", "Ref", f"Branch, tag or commit SHA. Default {DEFAULT_REF}."),
    Field("proxy", "Proxy", "http://[USER@]host:port, without a password (the password goes in "
          f"storage/passwords, realm {PASSWORD_REALM}, name {PROXY_PASSWORD_NAME})."),
    Field("api_url", "GitHub API URL", f"Default {DEFAULT_API_URL}; GitHub Enterprise: https://HOST/api/v3."),
    Field("ca_bundle", "CA bundle", "Absolute path of a PEM file to verify GitHub or the proxy against "
          "(TLS-inspecting proxies). Default: the bundled CA list."),
    Field("splunkd_ca_file", "splunkd CA file", "Absolute path of the PEM file of the CA that signs splunkd's "
          "certificate. Default: server.conf [sslConfig] sslRootCAPath, else $SPLUNK_HOME/etc/auth/cacert.pem."),
    Field("splunkd_cert_name", "splunkd certificate name", "The name splunkd's certificate is issued to, "
          "e.g. SplunkServerDefaultCert. Default: the chain alone is checked on this host's loopback."),
    Field("attack_source", "ATT&CK source", "github (MITRE's STIX data), security_content (the content's "
          "own CSV catalogue), the https:// URL of an index.json mirror, or the absolute path of a STIX "
          "bundle or index.json on this search head. Default: github when the repository is on github.com, "
          "else security_content (a local repository never leads to the network)."),
    Field("attack_version", "ATT&CK version", "An ATT&CK release such as 17.1 or v17. Default: the newest."),
    Field("accept_format_change", "Accept a format change", "1 to sync content whose format changed past "
          "the drift guard's limits (after reading the status event's message). Default 0."),
)  # fmt: skip
FIELD_NAMES = tuple(f.name for f in FIELDS)


@dataclass(frozen=True)
class InputSettings:
    """The validated settings of one ``security_content`` stanza (see :data:`FIELDS`)."""

    repository: str = DEFAULT_REPOSITORY
    ref: str = DEFAULT_REF
    api_url: str = DEFAULT_API_URL
    proxy: str = ""
    ca_bundle: str = ""
    interval: int = DEFAULT_INTERVAL
    splunkd_ca_file: str = ""
    splunkd_cert_name: str = ""
    attack_source: str = ""  # "" = automatic: see effective_attack_source
    attack_version: str = ""
    accept_format_change: bool = False

    @property
    def is_local(self) -> bool:
        """True when ``repository`` is a path on this host (a tarball or folder), not GitHub."""
        return os.path.isabs(self.repository)

    @property
    def effective_attack_source(self) -> str:
        """``attack_source`` as set, or when empty: ``github`` for a repository on github.com (the
        default API), else ``security_content``, so that a local repository or a GitHub Enterprise
        site is never sent to the public internet for ATT&CK data without being told to."""
        if self.attack_source:
            return self.attack_source
        if not self.is_local and self.api_url == DEFAULT_API_URL:
            return "github"
        return "security_content"


def parse_input_settings(params: Mapping[str, Any]) -> InputSettings:
    """Check a stanza's parameters and return its settings with defaults filled in.

    Keys that are not settings (``disabled``, ``index``, ``host``, ...) are ignored.

    Raises:
        InputConfigError: with a message an admin can act on (never a secret: a password in a
            proxy URL is masked).
    """

    def text(name: str, default: str = "") -> str:
        return str(params.get(name) or default).strip()

    return InputSettings(
        repository=_repository(text("repository", DEFAULT_REPOSITORY)),
        ref=_ref(text("ref", DEFAULT_REF)),
        api_url=_api_url(text("api_url", DEFAULT_API_URL).rstrip("/")),
        proxy=_proxy(text("proxy")),
        ca_bundle=_pem_path("ca_bundle", text("ca_bundle"), "to verify GitHub or the proxy against"),
        interval=_interval(text("interval", str(DEFAULT_INTERVAL))),
        splunkd_ca_file=_pem_path("splunkd_ca_file", text("splunkd_ca_file"), "of the CA that signs splunkd"),
        splunkd_cert_name=_cert_name(text("splunkd_cert_name")),
        attack_source=_attack_source(text("attack_source")),
        attack_version=_attack_version(text("attack_version")),
        accept_format_change=is_true(params.get("accept_format_change")),
    )


def _repository(repository: str) -> str:
    url = urlsplit(repository)
    if url.scheme in ("http", "https"):
        if url.scheme != "https":
            raise InputConfigError(f"repository must use https:// (got {url.scheme}://)")
        if url.username or url.password:
            raise InputConfigError(
                "repository must not contain credentials; store a GitHub token in "
                f"storage/passwords (realm {PASSWORD_REALM}, name {TOKEN_NAME})"
            )
        if len([p for p in url.path.split("/") if p]) != 2:
            raise InputConfigError(f"repository must look like https://github.com/OWNER/NAME (got {repository})")
    elif not os.path.isabs(repository):
        raise InputConfigError(
            "repository must be an https:// GitHub URL or the absolute path of a "
            f".tar.gz or folder on this search head (got {repository!r})"
        )
    elif not os.path.exists(repository):
        raise InputConfigError(f"repository path {repository} does not exist on this search head")
    return repository


def _ref(ref: str) -> str:
    if not _REF_RE.match(ref) or ".." in ref:
        raise InputConfigError(f"ref must be a branch, tag or commit SHA such as develop or v4.42.0 (got {ref!r})")
    return ref


def proxy_with_password(proxy: str, password: str | None) -> str | None:
    """The proxy URL with ``password`` put in (``http://USER:PASSWORD@host:port``); the result is
    a secret (callers register it with the log redactor). None when there is no proxy."""
    if not proxy:
        return None
    parts = urlsplit(proxy)
    if not password or not parts.username:
        return proxy
    userinfo = f"{quote(parts.username, safe='')}:{quote(password, safe='')}"
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, f"{userinfo}@{host}", parts.path, parts.query, parts.fragment))


def split_proxy_password(proxy: str) -> tuple[str, str]:
    """``(proxy without its password, password)`` for a proxy URL given with one (command line)."""
    parts = urlsplit(proxy)
    if "://" not in proxy or not parts.password:
        return proxy, ""
    host = parts.netloc.rpartition("@")[2]
    bare = urlunsplit((parts.scheme, f"{parts.username}@{host}", parts.path, parts.query, parts.fragment))
    return bare, unquote(parts.password)


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if not parts.password:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, f"{parts.username}:***@{host}", parts.path, parts.query, parts.fragment))


def _proxy(proxy: str) -> str:
    if not proxy:
        return ""
    purl = urlsplit(proxy)
    if purl.scheme not in ("http", "https") or not purl.hostname:
        shown = _without_password(proxy) if "://" in proxy else proxy.rpartition("@")[2]
        raise InputConfigError(f"proxy must be a URL such as http://proxy.example.com:3128 (got {shown!r})")
    if purl.password:
        raise InputConfigError(
            "proxy must not contain a password; store it in storage/passwords "
            f"(realm {PASSWORD_REALM}, name {PROXY_PASSWORD_NAME}) and keep only "
            "http://USER@host:port here"
        )
    return proxy


def _api_url(api_url: str) -> str:
    api = urlsplit(api_url)
    if not api.hostname or not (api.scheme == "https" or (api.scheme == "http" and is_loopback(api.hostname))):
        raise InputConfigError(
            "api_url must be https://api.github.com or, for GitHub Enterprise, "
            f"https://HOST/api/v3 (plain http only on this host's loopback; got {_without_password(api_url)!r})"
        )
    if api.username or api.password:
        raise InputConfigError("api_url must not contain credentials")
    return api_url


def _pem_path(name: str, path: str, purpose: str) -> str:
    if path and not (os.path.isabs(path) and os.path.isfile(path)):
        raise InputConfigError(
            f"{name} must be the absolute path of a PEM file {purpose} on this search head (got {path!r})"
        )
    return path


def _interval(value: str) -> int:
    if not value.isdigit() or int(value) < MIN_INTERVAL:
        raise InputConfigError(
            f"interval must be a number of seconds, at least {MIN_INTERVAL} (5 minutes), such as "
            f"{DEFAULT_INTERVAL} for every 6 hours (got {value!r})"
        )
    return int(value)


def _cert_name(name: str) -> str:
    if name and not _CERT_NAME_RE.match(name):
        raise InputConfigError(
            f"splunkd_cert_name must be a certificate name such as SplunkServerDefaultCert (got {name!r})"
        )
    return name


def _attack_source(source: str) -> str:
    if not source or source in ATTACK_SOURCES:
        return source
    url = urlsplit(source)
    if url.scheme in ("http", "https"):
        if url.username or url.password:
            raise InputConfigError("attack_source must not contain credentials")
        if not url.hostname or not (url.scheme == "https" or url.hostname in LOOPBACK_HOSTS):
            raise InputConfigError(
                "attack_source as a URL must be the https:// address of an ATT&CK index.json mirror "
                f"(plain http only on this host's loopback; got {source!r})"
            )
        return source
    if os.path.isabs(source):
        if not os.path.exists(source):
            raise InputConfigError(f"attack_source path {source} does not exist on this search head")
        return source
    raise InputConfigError(
        "attack_source must be github, security_content, the https:// URL of an index.json mirror, or "
        f"the absolute path of a STIX bundle on this search head (got {source!r})"
    )


def _attack_version(version: str) -> str:
    if version and not _ATTACK_VERSION_RE.match(version):
        raise InputConfigError(
            f"attack_version must be an ATT&CK release such as 17.1 or v17, or empty (got {version!r})"
        )
    return version
