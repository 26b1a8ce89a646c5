"""Read what coverage is computed from: a sync output directory, savedsearches.conf files, events.

* The sync output directory is what ``build.py sync --out DIR`` writes: ``techniques.csv``,
  ``detections.csv``, ``tactics.csv`` (the lookup contract of docs/ARCHITECTURE.md, multivalue
  cells newline-joined) and ``summary.json`` (the status event).
* savedsearches.conf files are layered like Splunk layers ``default/`` and ``local/``: later files
  override settings of the same stanza in earlier ones. Each file may carry an app name
  (``APP=PATH``); otherwise the app is taken from the path (``.../<app>/default/savedsearches.conf``).
* Fired rules come from JSON lines (risk or notable events, e.g. ``build.py replay --format jsonl``):
  every row's ``search_name`` (or ``rule``) names a saved search that fired.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Sequence, Tuple, Union

from devtools.conffile import read_conf
from devtools.paths import use_app_package
from devtools.spl.lookups import read_csv

from .model import Detection, SiteSearch, Technique, technique_ids_in

use_app_package()
from malicious_image.settings import is_true  # noqa: E402

PathLike = Union[str, Path]
ANNOTATION_KEYS = ("action.correlationsearch.annotations", "action.escu.mappings")


class CoverageInputError(ValueError):
    """An input file is missing or not in the expected shape; the message names the file."""


def _values(cell: Union[str, List[str], None]) -> Tuple[str, ...]:
    if cell is None:
        return ()
    return tuple(cell) if isinstance(cell, list) else (cell,)


def _table(sync_output: Path, name: str) -> List[Dict[str, Union[str, List[str]]]]:
    path = sync_output / f"{name}.csv"
    if not path.is_file():
        raise CoverageInputError(f"{path}: missing; is {sync_output} the --out directory of build.py sync?")
    return read_csv(path)


def read_tactics(sync_output: PathLike) -> List[str]:
    """Tactic names in ATT&CK order, as the sync wrote them."""
    rows = _table(Path(sync_output), "tactics")
    return [str(r["tactic"]) for r in sorted(rows, key=lambda r: int(str(r.get("tactic_order", "0")) or 0))]


def read_techniques(sync_output: PathLike) -> List[Technique]:
    """The parent techniques of the synced catalogue, by their first tactic's order, then by id."""
    rank = {tactic: index for index, tactic in enumerate(read_tactics(sync_output))}
    unknown = len(rank)  # a tactic missing from the tactics table sorts last, as the sync does
    techniques = [
        Technique(str(row["technique_id"]), str(row.get("technique_name", "")),
                  tuple(sorted(_values(row.get("tactics")), key=lambda t: rank.get(t, unknown))))
        for row in _table(Path(sync_output), "techniques")
        if str(row.get("is_subtechnique", "0")) in ("0", "")
    ]
    return sorted(techniques, key=lambda t: (rank.get(t.tactics[0], unknown) if t.tactics else unknown,
                                             t.technique_id))


def read_all_techniques(sync_output: PathLike) -> List[Technique]:
    """Every technique and sub-technique of the synced catalogue (revoked/deprecated flagged
    ``retired``), with their tactics' shortnames, by id."""
    tactics = _table(Path(sync_output), "tactics")
    rank = {str(r["tactic"]): int(str(r.get("tactic_order", "0")) or 0) for r in tactics}
    short = {str(r["tactic"]): str(r.get("shortname") or "-".join(str(r["tactic"]).lower().split())) for r in tactics}
    out = []
    for row in _table(Path(sync_output), "techniques"):
        names = tuple(sorted(_values(row.get("tactics")), key=lambda t: rank.get(t, len(rank) + 1)))
        retired = "1" in (str(row.get("revoked", "0")), str(row.get("deprecated", "0")))
        shortnames = tuple(short.get(t, "-".join(t.lower().split())) for t in names)
        out.append(Technique(str(row["technique_id"]), str(row.get("technique_name", "")), names, shortnames, retired))
    return sorted(out, key=lambda t: t.technique_id)


def read_attack_version(sync_output: PathLike) -> str:
    """The ATT&CK release of the synced catalogue ('' for the content's CSV)."""
    versions = {str(r.get("attack_version") or "") for r in _table(Path(sync_output), "techniques")}
    return versions.pop() if len(versions) == 1 else ""


def read_detections(sync_output: PathLike) -> List[Detection]:
    """Every detection of the synced content; its ids are ``attack_technique_id`` (revoked ids
    resolved to their successor by the sync) when the table has it, else ``mitre_attack_id``."""
    return [
        Detection(
            detection_id=str(row.get("id", "")),
            name=str(row.get("name", "")),
            status=str(row.get("status", "") or "unknown"),
            platform=str(row.get("platform", "") or "unknown"),
            technique_ids=tuple(
                t
                for v in _values(row.get("attack_technique_id") or row.get("mitre_attack_id"))
                for t in technique_ids_in(v)
            ),
            stories=_values(row.get("analytic_story")),
            type=str(row.get("type", "") or ""),
        )
        for row in _table(Path(sync_output), "detections")
    ]


def read_summary(sync_output: PathLike) -> Mapping[str, object]:
    """The sync's status event (summary.json), or an empty mapping when it is absent."""
    path = Path(sync_output) / "summary.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _app_of(spec: str) -> Tuple[str, Path]:
    if "=" in spec and not Path(spec).exists():
        app, _, path = spec.partition("=")
        return app, Path(path)
    path = Path(spec)
    parts = path.resolve().parts
    app = parts[-3] if len(parts) >= 3 and parts[-2] in ("default", "local") else path.stem
    return app, path


def read_saved_searches(conf_files: Sequence[str]) -> Dict[Tuple[str, str], Dict[str, str]]:
    """Layered savedsearches.conf settings: ``{(app, stanza): {key: value}}``.

    Arguments:
        conf_files: paths, or ``APP=PATH``; a later file's settings override an earlier one's
            for the same stanza of the same app (``default`` then ``local``).

    Raises:
        CoverageInputError: a file does not exist.
    """
    merged: Dict[Tuple[str, str], Dict[str, str]] = {}
    for spec in conf_files:
        app, path = _app_of(spec)
        if not path.is_file():
            raise CoverageInputError(f"{path}: no such savedsearches.conf")
        for stanza, settings in read_conf(path).items():
            if stanza != "default":
                merged.setdefault((app, stanza), {}).update(settings)
    return merged


def conf_bool(value: str | None) -> bool:
    """A .conf boolean as Splunk reads it (:func:`malicious_image.settings.is_true`)."""
    return is_true(value)


def is_enabled(settings: Mapping[str, str]) -> bool:
    """Scheduled (``enableSched``) and not ``disabled``: the search runs."""
    return conf_bool(settings.get("enableSched")) and not conf_bool(settings.get("disabled"))


def read_site_searches(conf_files: Sequence[str]) -> List[SiteSearch]:
    """Saved searches with ATT&CK annotations from layered savedsearches.conf files.

    Arguments:
        conf_files: as for :func:`read_saved_searches`.

    Returns:
        One :class:`SiteSearch` per stanza with ``mitre_attack`` ids in its annotations;
        ``enabled`` means scheduled (``enableSched``) and not ``disabled``.
    """
    searches = []
    for (app, title), settings in read_saved_searches(conf_files).items():
        ids = tuple(t for key in ANNOTATION_KEYS for t in _mitre_ids(settings.get(key, "")))
        if not ids:
            continue
        enabled = is_enabled(settings)
        meta = _json(settings.get("action.correlationsearch.metadata", ""))
        detection_id = str(meta.get("detection_id", ""))
        searches.append(SiteSearch(title, app, enabled, tuple(dict.fromkeys(ids)), detection_id))
    return searches


def _json(text: str) -> Dict[str, object]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _mitre_ids(annotation: str) -> Tuple[str, ...]:
    mitre = _json(annotation).get("mitre_attack")
    return technique_ids_in(" ".join(mitre) if isinstance(mitre, list) else "")


def read_fired(jsonl_files: Iterable[PathLike]) -> List[str]:
    """Names of saved searches that fired, from JSON-lines files of risk or notable events."""
    names: Dict[str, None] = {}
    for file in jsonl_files:
        for number, line in enumerate(Path(file).read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as error:
                raise CoverageInputError(f"{file}:{number}: not JSON ({error})") from error
            name = row.get("search_name") or row.get("rule") if isinstance(row, dict) else None
            if name:
                names[str(name)] = None
    return list(names)
