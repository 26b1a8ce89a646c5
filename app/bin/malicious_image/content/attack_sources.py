"""Where the ATT&CK catalogue comes from: the setting ``attack_source``.

- ``github`` (the modular input's default): MITRE's ``mitre-attack/attack-stix-data``. Each run
  sends ONE conditional request for ``index.json`` (``If-None-Match`` with the ETag kept from the
  last answer; raw.githubusercontent.com answers ``304 Not Modified`` when it is unchanged). The
  Enterprise release is the newest one listed, or the one named by ``attack_version``. A bundle
  (about 45 MB) is downloaded, and read as a stream, only when that release is not the one kept
  in the cache folder (``attack-catalogue.json``: the last good catalogue, already parsed). When
  the index or the bundle cannot be had, the last good catalogue is kept and the report says so;
  with none at all the sync falls back to the content's ``mitre_enrichment.csv`` and says so.
- a local path (air-gapped sites): a bundle file, or an ``index.json`` whose bundles lie next to
  it (``<domain>-<version>.json``, or under ``<domain>/`` as in the repository).
- ``security_content``: the content's own CSV (no release; the tactic order file orders it).

A provider answers :meth:`resolve` (cheap: names the catalogue with a ``key``; the engine rebuilds
the tables when the key differs from the last run's, even when the content did not change) and
:meth:`load` (the catalogue, or None for the content's CSV). Neither raises for a catalogue that
cannot be had: the result's ``info`` says what happened (``fallback`` true when the CSV is used
instead of the STIX catalogue asked for).

:class:`AttackProvider` is the protocol; it lives here beside its result types, so that
``source_base`` stays a leaf that knows nothing of ATT&CK. The GitHub session is source_base's
``outbound_session``, as for the content.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Protocol, Tuple
from urllib.parse import urljoin, urlsplit

from malicious_image.content.model import Group, Tactic, Technique
from malicious_image.content.source_base import outbound_session
from malicious_image.content.stix import AttackCatalogue, StixError, read_bundle

LOG = logging.getLogger("malicious_image.sync")

__all__ = [
    "DEFAULT_INDEX_URL",
    "AttackLoad",
    "AttackProvider",
    "AttackResolution",
    "GitHubAttack",
    "LocalAttack",
    "SecurityContentAttack",
    "attack_from_settings",
    "attack_provider",
    "catalogue_from_json",
    "catalogue_to_json",
    "choose_release",
]

DEFAULT_INDEX_URL = "https://raw.githubusercontent.com/mitre-attack/attack-stix-data/master/index.json"
DOMAIN = "enterprise-attack"
CACHE_FILE = "attack-catalogue.json"
INDEX_STATE_FILE = "attack-index.json"
CACHE_FORMAT = 1
MAX_INDEX_BYTES = 4 << 20
MAX_BUNDLE_BYTES = 512 << 20
"""A bundle larger than this (decoded) is refused; Enterprise 18.1 is about 45 MB."""
_VERSION = re.compile(r"^[0-9]+(\.[0-9]+)*$")


class AttackSourceError(Exception):
    """The ATT&CK source setting or an index.json is unusable; the message says which and why."""


@dataclass(frozen=True)
class AttackResolution:
    """What :meth:`AttackProvider.resolve` found: ``key`` names the catalogue ('' = the CSV)."""

    key: str
    version: str = ""
    url: str = ""
    message: str = ""


@dataclass(frozen=True)
class AttackLoad:
    """The catalogue to build the tables from (None = the content's CSV) and the report's info."""

    catalogue: AttackCatalogue | None
    key: str
    info: Dict[str, Any] = field(default_factory=dict)


class AttackProvider(Protocol):
    """An ATT&CK catalogue provider (``run_sync(..., attack=provider)``)."""

    name: str
    requests_made: int
    bytes_downloaded: int

    def resolve(self) -> AttackResolution:
        """Name the catalogue this run would use, as cheaply as possible."""

    def load(self, resolution: AttackResolution) -> AttackLoad:
        """Return the catalogue named by ``resolution`` (or the kept one, or the CSV fallback)."""


def _info(source: str, version: str, fallback: bool, message: str) -> Dict[str, Any]:
    return {"source": source, "version": version, "fallback": fallback, "message": message}


class SecurityContentAttack:
    """``attack_source = security_content``: the content's ``mitre_enrichment.csv``."""

    name = "security_content"
    requests_made = 0
    bytes_downloaded = 0

    def resolve(self) -> AttackResolution:
        """Always the CSV (key '', as runs before ``attack_source`` existed)."""
        return AttackResolution("")

    def load(self, resolution: AttackResolution) -> AttackLoad:
        """None: the engine reads the content's CSV."""
        return AttackLoad(None, "", _info("security_content", "", False, "the content's mitre_enrichment.csv"))


# -- index.json ---------------------------------------------------------------------------------
def choose_release(index: Any, version: str = "", domain: str = DOMAIN) -> Tuple[str, str]:
    """Pick ``(version, url)`` of ``domain`` from an attack-stix-data ``index.json``.

    Arguments:
        index: the parsed index (``collections[].versions[{version, url, modified}]``).
        version: the release wanted ('' = the newest listed).
        domain: the collection, matched by the domain in its bundle URLs (``enterprise-attack``).

    Raises:
        AttackSourceError: not an index, no such collection, or the release is not listed.
    """
    if not isinstance(index, dict) or not isinstance(index.get("collections"), list):
        raise AttackSourceError("index.json has no 'collections' list (not an ATT&CK collection index)")
    releases: List[Tuple[Tuple[int, ...], str, str]] = []
    for collection in index["collections"]:
        versions = collection.get("versions") if isinstance(collection, dict) else None
        for entry in versions if isinstance(versions, list) else []:
            if not isinstance(entry, dict):
                continue
            number, url = entry.get("version"), entry.get("url")
            if isinstance(number, str) and _VERSION.match(number) and isinstance(url, str):
                if os.path.basename(urlsplit(url).path) == f"{domain}-{number}.json":
                    releases.append((tuple(int(p) for p in number.split(".")), number, url))
    if not releases:
        raise AttackSourceError(f"index.json lists no {domain} release")
    if version:
        for _, number, url in releases:
            if number == version:
                return number, url
        listed = ", ".join(n for _, n, _ in sorted(releases, reverse=True)[:5])
        raise AttackSourceError(f"ATT&CK {version} is not in index.json (newest listed: {listed})")
    _, number, url = max(releases)
    return number, url


# -- the cache of the last good catalogue -------------------------------------------------------
def catalogue_to_json(catalogue: AttackCatalogue) -> bytes:
    """The catalogue as JSON (the cache file)."""
    data = dataclasses.asdict(catalogue)
    data["format"] = CACHE_FORMAT
    return json.dumps(data, separators=(",", ":")).encode("utf-8")


def catalogue_from_json(data: bytes) -> AttackCatalogue:
    """Read :func:`catalogue_to_json` output back.

    Raises:
        ValueError: not that format (the caller treats the cache as absent).
    """
    raw = json.loads(data.decode("utf-8"))
    if not isinstance(raw, dict) or raw.get("format") != CACHE_FORMAT:
        raise ValueError("not an ATT&CK catalogue cache of this version")

    def make(cls: Any, item: Dict[str, Any]) -> Any:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in item.items()})

    return AttackCatalogue(
        domain=raw["domain"], version=raw["version"], modified=raw.get("modified", ""), source=raw.get("source", ""),
        techniques=tuple(make(Technique, t) for t in raw["techniques"]),
        tactics=tuple(make(Tactic, t) for t in raw["tactics"]),
        groups=tuple(make(Group, g) for g in raw["groups"]),
    )  # fmt: skip


def _write_atomic(path: str, data: bytes) -> None:
    temporary = f"{path}.tmp{os.getpid()}"
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


class _Cache:
    """The cache folder: the last good catalogue and the index's ETag."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def catalogue(self) -> AttackCatalogue | None:
        try:
            with open(os.path.join(self.folder, CACHE_FILE), "rb") as handle:
                return catalogue_from_json(handle.read())
        except (OSError, ValueError, KeyError, TypeError) as exc:
            if not isinstance(exc, FileNotFoundError):
                LOG.warning("action=attack_cache_ignored reason=%r", str(exc))
            return None

    def save_catalogue(self, catalogue: AttackCatalogue) -> None:
        try:
            os.makedirs(self.folder, exist_ok=True)
            _write_atomic(os.path.join(self.folder, CACHE_FILE), catalogue_to_json(catalogue))
        except OSError as exc:  # the tables are still built; only the next run pays again
            LOG.warning("action=attack_cache_not_saved reason=%r", str(exc))

    def index_state(self) -> Dict[str, str]:
        try:
            with open(os.path.join(self.folder, INDEX_STATE_FILE), "rb") as handle:
                state = json.loads(handle.read().decode("utf-8"))
            return {k: str(v) for k, v in state.items()} if isinstance(state, dict) else {}
        except (OSError, ValueError):
            return {}

    def save_index_state(self, state: Dict[str, str]) -> None:
        try:
            os.makedirs(self.folder, exist_ok=True)
            _write_atomic(os.path.join(self.folder, INDEX_STATE_FILE), json.dumps(state).encode("utf-8"))
        except OSError as exc:
            LOG.warning("action=attack_index_state_not_saved reason=%r", str(exc))


def _key(source: str, catalogue_or_version: Any) -> str:
    version = getattr(catalogue_or_version, "version", catalogue_or_version)
    return f"{source}:{DOMAIN}:{version}"


class GitHubAttack:
    """``attack_source = github``: the newest (or the named) Enterprise release of
    attack-stix-data, with one conditional request per run (see the module docstring)."""

    name = "github"

    def __init__(
        self,
        cache_dir: str,
        *,
        version: str = "",
        index_url: str = DEFAULT_INDEX_URL,
        proxy: str = "",
        ca_bundle: str = "",
        timeout: Tuple[float, float] = (10.0, 120.0),
        session: Any = None,
    ) -> None:
        if version and not _VERSION.match(version):
            raise AttackSourceError(f"attack_version {version!r} is not a release number such as 19.0")
        self.cache = _Cache(cache_dir)
        self.version = version
        self.index_url = index_url
        self.timeout = timeout
        self.requests_made = 0
        self.bytes_downloaded = 0
        self.session = session if session is not None else outbound_session(proxy, ca_bundle)

    def resolve(self) -> AttackResolution:
        """One conditional GET of index.json; on any failure, the kept catalogue's key."""
        state = self.cache.index_state()
        headers = {"Accept": "application/json"}
        if state.get("etag") and state.get("url") == self.index_url:
            headers["If-None-Match"] = state["etag"]
        try:
            self.requests_made += 1
            with self.session.get(self.index_url, headers=headers, timeout=self.timeout, stream=True) as response:
                if response.status_code == 304 and state.get("index"):
                    index = json.loads(state["index"])
                elif response.status_code == 200:
                    body = response.raw.read(MAX_INDEX_BYTES + 1, decode_content=True)
                    self.bytes_downloaded += len(body)
                    if len(body) > MAX_INDEX_BYTES:
                        raise AttackSourceError(f"index.json is larger than {MAX_INDEX_BYTES} bytes")
                    index = json.loads(body.decode("utf-8"))
                    etag = response.headers.get("ETag", "")
                    self.cache.save_index_state({"url": self.index_url, "etag": etag, "index": json.dumps(index)})
                else:
                    raise AttackSourceError(f"{_safe(self.index_url)} answered HTTP {response.status_code}")
            version, url = choose_release(index, self.version)
        except Exception as exc:  # network, HTTP, JSON: keep what we have
            kept = self.cache.catalogue()
            reason = f"ATT&CK index {_safe(self.index_url)} not read ({_reason(exc)})"
            return AttackResolution(_key("github", kept) if kept else "", kept.version if kept else "", "", reason)
        url = urljoin(self.index_url, url)
        if not _allowed(url, self.index_url):
            kept = self.cache.catalogue()
            reason = f"index.json names a bundle URL that is not https: {_safe(url)}"
            return AttackResolution(_key("github", kept) if kept else "", kept.version if kept else "", "", reason)
        return AttackResolution(_key("github", version), version, url)

    def load(self, resolution: AttackResolution) -> AttackLoad:
        """The kept catalogue when it is the release resolved, else download and read the bundle;
        a failed download keeps the last good catalogue (or falls back to the CSV)."""
        kept = self.cache.catalogue()
        if kept is not None and resolution.version and kept.version == resolution.version:
            note = resolution.message or f"ATT&CK {kept.version} (kept; the release did not change)"
            return AttackLoad(kept, _key("github", kept), _info("github", kept.version, False, note))
        if resolution.url:
            try:
                catalogue = self._download(resolution)
            except Exception as exc:
                problem = f"ATT&CK {resolution.version} bundle not read ({_reason(exc)})"
            else:
                self.cache.save_catalogue(catalogue)
                message = f"ATT&CK {catalogue.version} downloaded from {_safe(resolution.url)}"
                return AttackLoad(
                    catalogue, _key("github", catalogue), _info("github", catalogue.version, False, message)
                )
        else:
            problem = resolution.message or "no ATT&CK release resolved"
        if kept is not None:
            message = f"{problem}; kept the last good catalogue, ATT&CK {kept.version}"
            return AttackLoad(kept, _key("github", kept), _info("github", kept.version, False, message))
        message = f"{problem}; no STIX catalogue yet, so the content's mitre_enrichment.csv is used"
        return AttackLoad(None, "", _info("github", "", True, message))

    def _download(self, resolution: AttackResolution) -> AttackCatalogue:
        self.requests_made += 1
        with self.session.get(resolution.url, timeout=self.timeout, stream=True) as response:
            if response.status_code != 200:
                raise AttackSourceError(f"HTTP {response.status_code}")
            counted = _Counted(response.iter_content(1 << 20), MAX_BUNDLE_BYTES)
            try:
                catalogue = read_bundle(counted, source="github")
            finally:
                self.bytes_downloaded += counted.count
        if catalogue.domain != DOMAIN or catalogue.version != resolution.version:
            raise StixError(f"the bundle is {catalogue.domain} {catalogue.version}, not {DOMAIN} {resolution.version}")
        return catalogue


class _Counted:
    """A binary stream over ``iter_content`` chunks (decoded; b'' only at the end), counted."""

    def __init__(self, chunks: Any, limit: int = MAX_BUNDLE_BYTES) -> None:
        self.chunks = iter(chunks)
        self.count = 0
        self.limit = limit

    def read(self, size: int = -1) -> bytes:
        for data in self.chunks:
            if data:
                self.count += len(data)
                if self.count > self.limit:
                    raise AttackSourceError(f"the bundle is larger than {self.limit} bytes")
                return bytes(data)
        return b""


class LocalAttack:
    """``attack_source = /path``: a bundle file, or an index.json with its bundles beside it.
    Never touches the network; the key is the bundle's SHA-256, so an edited file rebuilds."""

    name = "path"
    requests_made = 0
    bytes_downloaded = 0

    def __init__(self, path: str, *, version: str = "") -> None:
        if not os.path.isabs(path):
            raise AttackSourceError(f"attack_source {path!r} is neither github, security_content nor an absolute path")
        self.path = path
        self.version = version

    def _bundle_path(self) -> str:
        with open(self.path, "rb") as handle:
            head = handle.read(1 << 16)
        if b'"collections"' not in head:
            return self.path
        with open(self.path, "rb") as handle:
            index = json.loads(handle.read(MAX_INDEX_BYTES).decode("utf-8"))
        version, url = choose_release(index, self.version)
        name = os.path.basename(urlsplit(url).path)
        folder = os.path.dirname(self.path)
        for candidate in (os.path.join(folder, name), os.path.join(folder, DOMAIN, name)):
            if os.path.isfile(candidate):
                return candidate
        raise AttackSourceError(f"index.json names ATT&CK {version}, but {name} is not beside it in {folder}")

    def resolve(self) -> AttackResolution:
        """Hash the bundle (one pass; no parsing)."""
        try:
            bundle = self._bundle_path()
            digest = hashlib.sha256()
            with open(bundle, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
        except (OSError, ValueError, AttackSourceError) as exc:
            return AttackResolution("", "", "", f"ATT&CK bundle {self.path} not read ({_reason(exc)})")
        return AttackResolution(f"file:{digest.hexdigest()}", "", bundle)

    def load(self, resolution: AttackResolution) -> AttackLoad:
        """Read the bundle; a bad one falls back to the content's CSV and says why."""
        if resolution.url:
            try:
                with open(resolution.url, "rb") as handle:
                    catalogue = read_bundle(handle, source=resolution.url)
                if self.version and catalogue.version != self.version:
                    raise StixError(f"the bundle is ATT&CK {catalogue.version}, not {self.version}")
                message = f"ATT&CK {catalogue.version} ({catalogue.domain}) from {resolution.url}"
                return AttackLoad(catalogue, resolution.key, _info(self.path, catalogue.version, False, message))
            except (OSError, StixError) as exc:
                problem = f"ATT&CK bundle {resolution.url} not read ({_reason(exc)})"
        else:
            problem = resolution.message
        message = f"{problem}; the content's mitre_enrichment.csv is used"
        return AttackLoad(None, "", _info(self.path, "", True, message))


def attack_provider(
    setting: str, *, version: str = "", cache_dir: str = "", **github: Any
) -> SecurityContentAttack | GitHubAttack | LocalAttack:
    """The provider for an ``attack_source`` setting (``github`` | ``security_content`` | the URL of
    an index.json mirror | path).

    Raises:
        AttackSourceError: an unknown setting, a relative path, or github without a cache folder.
    """
    setting = (setting or "github").strip()
    if setting == "security_content":
        return SecurityContentAttack()
    if setting == "github" or setting.startswith(("https://", "http://")):
        if not cache_dir:
            raise AttackSourceError("attack_source github needs a cache folder for the last good catalogue")
        if setting != "github":
            github["index_url"] = setting  # a mirror of attack-stix-data's index.json
        return GitHubAttack(cache_dir, version=version, **github)
    return LocalAttack(setting, version=version)


def attack_from_settings(
    settings: Mapping[str, Any], *, cache_dir: str, proxy: str | None = None, ca_bundle: str | None = None
) -> SecurityContentAttack | GitHubAttack | LocalAttack:
    """The provider for a modular input stanza: ``attack_source`` (default ``github``) and
    ``attack_version`` of ``settings`` (``InputSettings`` or its parameters), the cache in
    ``cache_dir`` (a folder of the input's checkpoint directory).

    Raises:
        AttackSourceError: as :func:`attack_provider`.
    """
    get = settings.get if isinstance(settings, Mapping) else lambda key, default="": getattr(settings, key, default)
    source = getattr(settings, "effective_attack_source", None) or str(get("attack_source", "") or "github")
    return attack_provider(
        source, version=str(get("attack_version", "") or "").strip(),
        cache_dir=cache_dir, proxy=proxy or "", ca_bundle=ca_bundle or "",
    )  # fmt: skip


def _allowed(url: str, index_url: str) -> bool:
    parts, index = urlsplit(url), urlsplit(index_url)
    return parts.scheme == "https" or (parts.scheme, parts.netloc) == (index.scheme, index.netloc)


def _safe(url: str) -> str:
    """A URL without credentials or query (never log a token)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _reason(exc: BaseException) -> str:
    text = str(exc).split("\n", 1)[0]
    for secret in re.findall(r"//[^/@\s]+@", text):
        text = text.replace(secret, "//***@")
    return f"{type(exc).__name__}: {text[:300]}"
