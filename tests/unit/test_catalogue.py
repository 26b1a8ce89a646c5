"""ATT&CK catalogue (mitre_enrichment.csv) and the tactic order file the app ships."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from malicious_image.content.catalogue import (
    DEFAULT_TACTIC_ORDER_PATH,
    CatalogueError,
    load_tactic_order,
    order_tactics,
    read_catalogue,
)
from malicious_image.content.reader import read_catalogue as reader_read_catalogue

pytestmark = pytest.mark.runtime

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "app" / "lookups" / "attack_tactic_order.csv"

V19 = [
    "Reconnaissance", "Resource Development", "Initial Access", "Execution", "Persistence",
    "Privilege Escalation", "Stealth", "Defense Impairment", "Credential Access", "Discovery",
    "Lateral Movement", "Collection", "Command and Control", "Exfiltration", "Impact",
]

CATALOGUE = b"""mitre_id,technique,tactics,groups
T1204.003,Malicious Image,Execution,TeamTNT
T1610,Deploy Container,Defense Evasion|Execution,TeamTNT
T1204,User Execution,Execution,APT28|TeamTNT
T1071.001,Web Protocols,Command And Control,APT28
T1564.012,File/Path Exclusions,Stealth|Defense Impairment,no
T9999,Invented,Zeta Tactic|Alpha Tactic|Impact,no
not-an-id,Header Repeated,tactics,groups
T1204,User Execution,Initial Access,no
"""


def test_shipped_tactic_order_is_attack_v19_plus_defense_evasion():
    assert Path(DEFAULT_TACTIC_ORDER_PATH) == SHIPPED
    order = load_tactic_order()
    assert len(order) == 16
    assert [t for t in order if t != "Defense Evasion"] == V19
    # kept for ATT&CK <= v18 content: right after Privilege Escalation, before Stealth
    assert order.index("Defense Evasion") == order.index("Privilege Escalation") + 1
    assert order.index("Stealth") == order.index("Defense Evasion") + 1
    with SHIPPED.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["tactic", "tactic_id", "tactic_order"]
    assert [int(r["tactic_order"]) for r in rows] == list(range(1, 17))
    ids = {r["tactic"]: r["tactic_id"] for r in rows}
    assert (ids["Reconnaissance"], ids["Impact"], ids["Defense Impairment"]) == ("TA0043", "TA0040", "TA0112")


def test_read_catalogue_orders_tactics_and_finds_parents():
    order = load_tactic_order()
    techniques = {t.technique_id: t for t in read_catalogue(CATALOGUE, order)}
    assert list(techniques) == sorted(techniques)
    assert "NOT-AN-ID" not in techniques and len(techniques) == 6
    image = techniques["T1204.003"]
    assert (image.technique_name, image.tactics) == ("Malicious Image", ("Execution",))
    assert image.parent_technique_id == "T1204"
    assert image.is_subtechnique
    assert techniques["T1610"].tactics == ("Execution", "Defense Evasion")
    # a repeated id merges tactics; matrix order puts Initial Access first
    assert techniques["T1204"].tactics == ("Initial Access", "Execution")
    assert techniques["T1204"].parent_technique_id == "" and not techniques["T1204"].is_subtechnique
    # spelled as the order file spells it
    assert techniques["T1071.001"].tactics == ("Command and Control",)
    assert techniques["T1564.012"].tactics == ("Stealth", "Defense Impairment")
    # unknown tactics after the known ones, alphabetically
    assert techniques["T9999"].tactics == ("Impact", "Alpha Tactic", "Zeta Tactic")
    assert techniques["T1204.003"].to_row("abc") == {
        "technique_id": "T1204.003", "technique_name": "Malicious Image", "tactics": ["Execution"],
        "parent_technique_id": "T1204", "is_subtechnique": 1, "source_commit": "abc",
        # the CSV knows no platforms, flags or release (content/stix.py does)
        "platforms": [], "deprecated": 0, "revoked": 0, "revoked_by": "", "url": "", "attack_version": "",
    }


def test_reader_exposes_the_same_function():
    assert reader_read_catalogue is read_catalogue


def test_an_admin_edited_order_is_honoured(tmp_path):
    path = tmp_path / "order.csv"
    path.write_text("tactic,tactic_id,tactic_order\nImpact,TA0040,1\nExecution,TA0002,2\n", encoding="utf-8")
    order = load_tactic_order(str(path))
    assert order == ["Impact", "Execution"]
    found = order_tactics(["execution", "Persistence", "IMPACT"], order)
    assert found == ("Impact", "Execution", "Persistence")


def test_bad_catalogue_and_order_files_say_why(tmp_path):
    with pytest.raises(CatalogueError, match=r"lacks the column\(s\) tactics"):
        read_catalogue(b"mitre_id,technique\nT1204,User Execution\n", [])
    with pytest.raises(CatalogueError, match="not UTF-8"):
        read_catalogue(b"mitre_id,technique,tactics\nT1204,\xff,Execution\n", [])
    bad = tmp_path / "bad.csv"
    bad.write_text("tactic,tactic_id,tactic_order\nImpact,TA0040,first\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"bad\.csv line 2: tactic_order of 'Impact' is not a whole"):
        load_tactic_order(str(bad))
    with pytest.raises(CatalogueError, match="cannot read the tactic order file"):
        load_tactic_order(str(tmp_path / "missing.csv"))
