"""Build the content source an admin named: a local ``.tar.gz``, a local folder, or a GitHub URL.

The one place that knows every kind of source, so that :mod:`malicious_image.content.sources`
(local) and :mod:`malicious_image.content.github` need not know each other. GitHub is imported
only when asked for (it needs ``requests``; local sources do not).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from malicious_image.content.archive import ArchiveLimits
from malicious_image.content.source_base import DEFAULT_REF, ContentSource, SourceNotFoundError
from malicious_image.content.sources import DirectorySource, TarballSource


def source_from_spec(
    spec: str, *, ref: str | None = None, limits: ArchiveLimits | None = None, **github: Any
) -> ContentSource:
    """Build the source an admin named: a local ``.tar.gz``, a local folder, or a GitHub URL.

    Arguments:
        spec: path of a tarball or folder, or ``https://github.com/OWNER/REPO`` / ``OWNER/REPO``.
        ref: the GitHub ref (default ``develop``); not allowed for local sources.
        limits: archive caps for every kind of source (default :class:`ArchiveLimits`).
        github: keyword arguments for :class:`~malicious_image.content.github.GitHubSource`
            (token, api_url, proxy, ...).

    Raises:
        SourceNotFoundError: a path that looks local but does not exist.
        ValueError: a GitHub reference that cannot be parsed.
    """
    path = Path(spec).expanduser()
    if "://" not in spec and path.exists():
        if ref:
            raise ValueError("--ref applies only to a GitHub source")
        return DirectorySource(path, limits=limits) if path.is_dir() else TarballSource(path, limits=limits)
    if spec.endswith((".tar.gz", ".tgz")) or spec.startswith((".", "/", "~")):
        raise SourceNotFoundError(f"{spec} does not exist")
    from malicious_image.content.github import GitHubSource

    return GitHubSource(spec, ref or DEFAULT_REF, limits=limits, **github)
