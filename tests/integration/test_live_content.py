"""Real 2025-2026 security_content files (eras C1 and C2), read in place, one test per file.

``../shared/security_content/live-2025-2026/`` holds upstream files copied verbatim with their
commits in ``MANIFEST.tsv``. Each file is read by the reader and, independently, by a plain
``yaml.safe_load`` and the few lines of ``expected_*`` below; the canonical record must equal
what those lines take from the file, and agree with the manifest's own columns (era, type,
status, date, ATT&CK ids). The files are never copied into the repository.
"""

from __future__ import annotations

import csv

import pytest
import yaml

from malicious_image.content.model import DataSource, Detection, Macro, Story
from malicious_image.content.reader import read_member
from tests.support.paths import SNAPSHOTS

pytestmark = pytest.mark.runtime

LIVE = SNAPSHOTS / "live-2025-2026"
COMMIT = "live-2025-2026"


def _manifest() -> list[dict[str, str]]:
    path = LIVE / "MANIFEST.tsv"
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


MANIFEST = _manifest()
ROWS = [pytest.param(row, id=row["path"]) for row in MANIFEST] or [
    pytest.param(None, marks=pytest.mark.skip(reason=f"{LIVE} not present (real upstream files)"))
]


def read(path: str):
    result = read_member(path, (LIVE / path).read_bytes(), commit=COMMIT)
    assert result.rejection is None, result.rejection
    return result


def load(path: str) -> dict:
    return yaml.safe_load((LIVE / path).read_text(encoding="utf-8"))


# ----------------------------------------------------------------- independent expectations

def top_or_tags(doc: dict, key: str):
    """ESCU 6 keeps it at the top level, earlier eras in tags; a top-level key wins."""
    return doc[key] if key in doc else (doc.get("tags") or {}).get(key)


def expected_risks(doc: dict) -> set:
    if "finding" in doc or "intermediate_findings" in doc:
        finding = doc.get("finding") or {}
        entities = [finding["entity"]] if finding.get("entity") else []
        risks = {(e["field"], e["type"], e["score"], finding["title"]) for e in entities}
        inter = (doc.get("intermediate_findings") or {}).get("entities") or []
        return risks | {(e["field"], e["type"], e["score"], e["message"]) for e in inter}
    rba = doc.get("rba") or {}
    return {(o["field"], o["type"], o["score"], rba["message"]) for o in rba.get("risk_objects") or []}


def expected_threats(doc: dict) -> set:
    threats = doc["threat_objects"] if "threat_objects" in doc else (doc.get("rba") or {}).get("threat_objects")
    return {(o["field"], o["type"]) for o in threats or []}


def expected_finding_kind(doc: dict) -> str:
    if "finding" in doc or "intermediate_findings" in doc:
        kinds = ("finding" in doc, "intermediate_findings" in doc)
    else:  # contentctl 5 rendering: TTP notable + risk, Anomaly risk only, Hunting neither
        kinds = (doc["type"] in ("TTP", "Correlation"), bool(doc.get("rba")) and doc["type"] in ("TTP", "Anomaly"))
    return {(True, True): "both", (True, False): "finding", (False, True): "intermediate"}.get(kinds, "none")


def expected_era(doc: dict) -> str:
    return "C2" if "creation_date" in doc or "finding" in doc or "intermediate_findings" in doc else "C1"


# ---------------------------------------------------------------------------- one per file

@pytest.mark.parametrize("row", ROWS)
def test_live_file_reads_to_what_the_file_says(row):
    path, doc = row["path"], load(row["path"])
    result = read(path)
    record = result.record
    if row["type"] == "story":
        assert isinstance(record, Story)
        assert (record.id, record.name) == (doc["id"], doc["name"])
        assert (record.date, record.version) == (doc["modification_date"], doc["version"])
        assert (list(record.category), list(record.product)) == (doc["category"], doc["product"])
        assert record.usecase == doc["usecase"]
        return
    if row["type"] == "macro":
        assert isinstance(record, Macro)
        assert (record.name, record.definition) == (doc["name"], doc["definition"])
        return
    if row["type"] == "data_source":
        assert isinstance(record, DataSource)
        assert (record.name, record.sourcetype, record.source) == (doc["name"], doc["sourcetype"], doc["source"])
        assert record.example_log == doc["example_log"].strip()
        return
    assert isinstance(record, Detection)
    assert (record.id, record.name, record.type) == (doc["id"], doc["name"], doc["type"])
    assert record.status == ("removed" if path.startswith("removed/") else doc["status"])
    assert record.version == doc["version"]
    assert list(record.mitre_attack_id) == list(top_or_tags(doc, "mitre_attack_id") or [])
    assert list(record.analytic_story) == list(top_or_tags(doc, "analytic_story") or [])
    assert record.asset_type == top_or_tags(doc, "asset_type")
    assert list(record.product) == list(top_or_tags(doc, "product") or [])
    assert record.security_domain == top_or_tags(doc, "security_domain")
    assert list(record.cve) == list(top_or_tags(doc, "cve") or [])
    assert record.category == (doc.get("category") or "")
    assert {(o.field, o.type, o.score, o.message) for o in record.risk_objects} == expected_risks(doc)
    assert {(o.field, o.type) for o in record.threat_objects} == expected_threats(doc)
    assert record.date == doc.get("modification_date", doc.get("date"))
    assert record.creation_date == doc.get("creation_date", "")
    assert record.finding_kind == expected_finding_kind(doc)
    assert record.era == expected_era(doc)
    info = doc.get("deprecation_info") or {}
    assert (record.deprecation_reason, record.removed_in_version) == (
        info.get("reason", ""), info.get("removed_in_version", ""))
    assert record.replacement_content == "; ".join(info.get("replacement_content") or [])
    # and the manifest's own columns, written when the files were collected
    ids = [t for t in row["mitre_attack_id"].split(",") if t]
    assert (record.era, record.type, record.status, record.date, list(record.mitre_attack_id)) == (
        row["era"], row["type"], row["status"], row["date_or_modification_date"], ids)
    assert result.unknown_keys == ()


# ------------------------------------------------------------------- across the live files

@pytest.mark.skipif(not MANIFEST, reason=f"{LIVE} not present")
def test_a_file_without_a_final_newline_is_among_them_and_reads():
    missing = [row["path"] for row in MANIFEST if not (LIVE / row["path"]).read_bytes().endswith(b"\n")]
    assert missing, "the live files should include one without a final newline"
    for path in missing:
        read(path)


@pytest.mark.skipif(not MANIFEST, reason=f"{LIVE} not present")
def test_removed_file_mixing_eras_reads_both():
    row = next(r for r in MANIFEST if r["path"].startswith("removed/"))
    doc, record = load(row["path"]), read(row["path"]).record
    # ESCU 6 dates and deprecation_info, contentctl 5 rba and tags
    assert (record.creation_date, record.date) == (doc["creation_date"], doc["modification_date"])
    assert record.risk_objects and record.analytic_story == tuple(doc["tags"]["analytic_story"])
    assert record.deprecation_reason.startswith("Detection has been deprecated")
    assert (record.status, record.platform, record.finding_kind) == ("removed", "", "intermediate")


@pytest.mark.skipif(not MANIFEST, reason=f"{LIVE} not present")
def test_every_live_detection_that_should_cover_a_technique_has_one():
    """The issue's loss: every C2 detection was read with no ATT&CK id and no story."""
    for row in MANIFEST:
        record = read(row["path"]).record
        if isinstance(record, Detection) and record.status in ("production", "experimental"):
            assert record.mitre_attack_id and record.analytic_story, row["path"]
