"""devtools.coverage.visibility: fed / blind / ready / needs data, and the two lists."""

from __future__ import annotations

from devtools.coverage.visibility import (
    NO_DATA_SOURCE,
    DataSourceInfo,
    DetectionVisibility,
    Inventory,
    Visibility,
    blind_rules,
    data_verdict,
    ready_to_enable,
    site_visibility,
    visibility,
)

SOURCES = {
    "Sysmon EventID 1": DataSourceInfo("Sysmon EventID 1", "xmlwineventlog"),
    "Sysmon EventID 11": DataSourceInfo("Sysmon EventID 11", "xmlwineventlog"),
    "AWS CloudTrail PutImage": DataSourceInfo("AWS CloudTrail PutImage", "aws:cloudtrail", "PutImage"),
    "AWS CloudTrail DescribeImageScanFindings": DataSourceInfo(
        "AWS CloudTrail DescribeImageScanFindings", "aws:cloudtrail", "DescribeImageScanFindings"),
    "Linux Auditd": DataSourceInfo("Linux Auditd", "linux:audit"),
}
INVENTORY = Inventory.from_rows([
    {"sourcetype": "XmlWinEventLog", "event_name": "", "lastTime": "1"},  # the add-on's capitalisation
    {"sourcetype": "aws:cloudtrail", "event_name": "", "lastTime": "1"},
    {"sourcetype": "aws:cloudtrail", "event_name": "PutImage", "lastTime": "1"},
])


def test_the_four_states():
    assert [visibility(e, s) for e, s in [(1, 1), (1, 0), (0, 1), (0, 0)]] == [
        Visibility.FED, Visibility.BLIND, Visibility.READY, Visibility.NEEDS_DATA]


def test_sourcetypes_match_without_case_and_cloudtrail_needs_its_event():
    assert data_verdict(["Sysmon EventID 1"], SOURCES, INVENTORY).seen
    assert data_verdict(["AWS CloudTrail PutImage"], SOURCES, INVENTORY).seen
    describe = data_verdict(["AWS CloudTrail DescribeImageScanFindings"], SOURCES, INVENTORY)
    assert not describe.seen and describe.missing == ("aws:cloudtrail DescribeImageScanFindings",)


def test_any_alternative_suffices_but_every_part_of_an_and_is_needed():
    assert data_verdict(["Linux Auditd", "Sysmon EventID 1"], SOURCES, INVENTORY).seen
    assert data_verdict(["Sysmon EventID 1 AND Sysmon EventID 11"], SOURCES, INVENTORY).seen
    both = data_verdict(["Sysmon EventID 1 AND Linux Auditd"], SOURCES, INVENTORY)
    assert not both.seen and both.missing == ("linux:audit",)


def test_unknown_or_no_data_source_is_not_seen_and_says_why():
    assert data_verdict([], SOURCES, INVENTORY).missing == (NO_DATA_SOURCE,)
    assert data_verdict(["Zeek Conn"], SOURCES, INVENTORY).missing == ("Zeek Conn (unknown data source)",)


def test_a_correlation_reads_risk_events_of_es_or_of_the_standalone_action():
    assert not data_verdict([], SOURCES, INVENTORY, "Correlation").seen
    for sourcetype in ("stash", "malicious_image:risk"):
        inventory = Inventory.from_rows([{"sourcetype": sourcetype, "event_name": ""}])
        assert data_verdict([], SOURCES, inventory, "Correlation").seen


def test_site_visibility_merges_content_and_enabled_searches_and_fills_both_lists():
    rows = [
        {"name": "Win A", "type": "TTP", "data_source": ["Sysmon EventID 1"],
         "mitre_attack_id": ["T1003", "T1003.001"]},
        {"name": "Win B", "type": "TTP", "data_source": "Sysmon EventID 1", "mitre_attack_id": ["T1003.001", "T1055"]},
        {"name": "Scan", "type": "TTP", "data_source": "AWS CloudTrail DescribeImageScanFindings",
         "mitre_attack_id": "T1204.003"},
        {"name": "Linux", "type": "TTP", "data_source": "Linux Auditd", "mitre_attack_id": "T1059"},
    ]
    ds_rows = [{"name": s.name, "sourcetype": s.sourcetype, "event_name": s.event_name} for s in SOURCES.values()]
    inv_rows = [{"sourcetype": "XmlWinEventLog"}, {"sourcetype": "aws:cloudtrail"},
                {"sourcetype": "aws:cloudtrail", "event_name": "PutImage"}]
    site = site_visibility(rows, ds_rows, inv_rows, {"Win A": ["T1003"], "Scan": ["T1204.003"], "Only Local": []},
                           ["Scan"])
    states = {name: d.state.value for name, d in site.items()}
    assert states == {"Win A": "fed", "Win B": "ready", "Scan": "blind", "Linux": "needs data",
                      "Only Local": "blind"}
    assert site["Scan"].fired and not site["Win A"].fired
    assert [(r.name, r.adds) for r in ready_to_enable(list(site.values()))] == [("Win B", ("T1055",))]
    assert [d.name for d in blind_rules(list(site.values()))] == ["Only Local", "Scan"]


def test_ready_list_sorts_by_techniques_added():
    def det(name, ids, enabled, seen):
        return DetectionVisibility(name, ids, enabled, False, data_verdict(
            ["Sysmon EventID 1"] if seen else ["Linux Auditd"], SOURCES, INVENTORY))
    found = ready_to_enable([det("b", ("T1", "T2"), False, True), det("a", ("T3",), False, True),
                             det("c", ("T1",), True, True), det("d", ("T9",), False, False)])
    assert [(r.name, r.adds) for r in found] == [("a", ("T3",)), ("b", ("T2",))]
