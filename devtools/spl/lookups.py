"""Lookup tables: CSV files and KV store collections, as transforms.conf defines them.

* ``[name]`` with ``filename = x.csv``: the file is looked for in the given lookup directories.
* ``[name]`` with ``external_type = kvstore`` and ``collection = c``: served offline from a CSV
  file named ``c.csv`` (or ``name.csv``) in the KV store directory; ``fields_list`` picks columns.
* A lookup may also be named by its file (``| inputlookup x.csv``), as Splunk allows.
* Multivalue cells are newline-joined in CSV (the project's lookup contract) and become lists.
* ``| outputlookup`` writes into memory by default (so a replay never edits the app's files);
  with ``write_dir`` set, the CSV is also written there.
Docs: Knowledge Manager Manual "Configure CSV lookups" / "Configure KV Store lookups".
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Sequence, Union

from .errors import LookupError_, UnsupportedSPL
from .values import values_of

Row = Dict[str, Union[str, List[str]]]

_UNSUPPORTED_KEYS = ("match_type", "time_field", "external_cmd", "filter")


@dataclass
class LookupStore:
    """Lookup definitions and where their data lives.

    Arguments:
        definitions: transforms.conf stanzas (``{name: {key: value}}``).
        lookup_dirs: directories searched for CSV files, in order.
        kvstore_dir: directory of CSV files that stand in for KV store collections.
        write_dir: where ``outputlookup`` also writes CSV files (None: memory only).
    """

    definitions: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    lookup_dirs: Sequence[Union[str, Path]] = ()
    kvstore_dir: Union[str, Path] | None = None
    write_dir: Union[str, Path] | None = None
    written: Dict[str, List[Row]] = field(default_factory=dict)
    _indexes: Dict[tuple, tuple] = field(default_factory=dict, repr=False, compare=False)

    def definition(self, name: str) -> Mapping[str, str]:
        """The transforms.conf stanza of a lookup (a bare CSV file name gets a synthetic one)."""
        if name in self.definitions:
            stanza = self.definitions[name]
            for key in _UNSUPPORTED_KEYS:
                if key in stanza:
                    raise UnsupportedSPL(f"lookup {name!r}: setting {key} is not supported")
            return stanza
        if name.endswith(".csv"):
            return {"filename": name}
        raise LookupError_(f"lookup {name!r} is not defined in transforms.conf and is not a .csv file")

    def read(self, name: str) -> List[Row]:
        """All rows of a lookup (what ``| inputlookup name`` returns)."""
        if name in self.written:
            return [dict(row) for row in self.written[name]]
        stanza = self.definition(name)
        path = self._path(name, stanza)
        rows = read_csv(path)
        fields_list = stanza.get("fields_list")
        if fields_list:
            keep = [f.strip() for f in fields_list.split(",") if f.strip()]
            rows = [{k: v for k, v in row.items() if k in keep} for row in rows]
        return rows

    def index(self, name: str, fields: Sequence[str], *, casefold: bool = False) -> tuple:
        """``(rows by match key, columns)`` of a lookup for ``| lookup`` on ``fields`` (keys
        case-folded with ``casefold``, for ``case_sensitive_match = false``); kept until the
        lookup is written (a scheduled replay runs the same lookup hundreds of times)."""
        stanza = self.definition(name)
        version: object = id(self.written[name]) if name in self.written else _file_version(self._path(name, stanza))
        key = (name, tuple(fields), version, casefold)
        if key not in self._indexes:
            table = self.read(name)
            by_key: Dict[tuple, List[Row]] = {}
            columns: Dict[str, None] = {}
            for entry in table:
                values = (values_of(entry.get(f)) for f in fields)
                by_key.setdefault(
                    tuple(tuple(v.casefold() if casefold else v for v in vs) for vs in values), []
                ).append(entry)
                for column in entry:
                    columns.setdefault(column, None)
            self._indexes[key] = (by_key, list(columns))
        return self._indexes[key]

    def write(self, name: str, rows: Sequence[Row], *, append: bool = False) -> None:
        """Replace (or append to) a lookup's rows, as ``| outputlookup`` does."""
        self.definition(name)
        current = self.read(name) if append else []
        self.written[name] = current + [dict(row) for row in rows]
        if self.write_dir is not None:
            stanza = self.definition(name)
            file_name = stanza.get("filename") or f"{stanza.get('collection', name)}.csv"
            target = Path(self.write_dir) / file_name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(write_csv(self.written[name]), encoding="utf-8")

    def _path(self, name: str, stanza: Mapping[str, str]) -> Path:
        if stanza.get("external_type", "").strip() == "kvstore":
            if self.kvstore_dir is None:
                raise LookupError_(f"lookup {name!r} is a KV store lookup and no KV store directory was given")
            collection = stanza.get("collection", name).strip()
            for candidate in (f"{collection}.csv", f"{name}.csv"):
                path = Path(self.kvstore_dir) / candidate
                if path.is_file():
                    return path
            raise LookupError_(f"KV store collection {collection!r} (lookup {name!r}) has no CSV in {self.kvstore_dir}")
        if stanza.get("external_type"):
            raise UnsupportedSPL(f"lookup {name!r}: external_type = {stanza['external_type']} is not supported")
        file_name = stanza.get("filename")
        if not file_name:
            raise LookupError_(f"lookup {name!r} has neither filename nor external_type = kvstore")
        for directory in self.lookup_dirs:
            path = Path(directory) / file_name
            if path.is_file():
                return path
        raise LookupError_(
            f"lookup file {file_name!r} (lookup {name!r}) not found in {list(map(str, self.lookup_dirs))}"
        )


def _file_version(path: Path) -> tuple:
    stat = path.stat()
    return (str(path), stat.st_mtime_ns, stat.st_size)


_CSV_CACHE: Dict[tuple, List[Row]] = {}


def read_csv(path: Union[str, Path]) -> List[Row]:
    """Read a lookup CSV: empty cells are absent fields, newline-joined cells are multivalue.

    Parsed files are cached by path, modification time and size; callers get fresh row copies."""
    key = _file_version(Path(path))
    if key not in _CSV_CACHE:
        _CSV_CACHE[key] = _parse_csv(Path(path))
    return [{k: list(v) if isinstance(v, list) else v for k, v in row.items()} for row in _CSV_CACHE[key]]


def _parse_csv(path: Path) -> List[Row]:
    text = path.read_text(encoding="utf-8-sig")
    rows: List[Row] = []
    for record in csv.DictReader(io.StringIO(text)):
        row: Row = {}
        for key, value in record.items():
            if key is None or value is None or value == "":
                continue
            row[key] = value.split("\n") if "\n" in value else value
        rows.append(row)
    return rows


def write_csv(rows: Sequence[Row]) -> str:
    """Rows as CSV text (columns in first-seen order, multivalue newline-joined)."""
    columns: Dict[str, None] = {}
    for row in rows:
        for key in row:
            columns.setdefault(key, None)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(list(columns))
    for row in rows:
        writer.writerow(["\n".join(values_of(row.get(c))) for c in columns])
    return out.getvalue()
