"""The three real security_content snapshots, read in memory straight from their tarballs.

Each snapshot is decompressed and read once per session (module-scoped fixture, libyaml when
PyYAML has it; see SHAS for the runtime runs). The files are never extracted or copied. What is
checked:

* every file the sync reads gives a record or a rejection, and nothing crashes;
* every file under detections/ that has a detection's shape (a YAML mapping with name, id and
  search) is accepted: the files ``member_kind`` reads are all accepted, and the files it skips
  are parsed too; the only detection-shaped one is a 2023 file whose name ends in ".yml "
  (trailing space), which upstream's own build tools skipped as well;
* the seven T1204.003 rules of REFERENCE.md section 1 are found with their names, ids,
  technique and status, and the right version of their search;
* the ATT&CK catalogue reads and the tables build.
"""

from __future__ import annotations

import random
import sys
import tarfile
import time

import pytest
import yaml

from malicious_image.content import yaml_safe
from malicious_image.content.catalogue import load_tactic_order
from malicious_image.content.reader import CATALOGUE_PATHS, member_kind, read_catalogue, read_member
from malicious_image.sync.tables import build_tables, duplicate_detection_ids
from tests.support.paths import SNAPSHOTS

# All three snapshots are read in the whole-suite run. The Python 3.9 and 3.13 runs (``-m
# runtime``) read only the 2024 one: they use the vendored pure-Python PyYAML, which takes about
# ten CPU seconds a snapshot, and era A is covered there by the unit fixtures.
SHAS = (
    pytest.param("ba8de57", id="ba8de57"),
    pytest.param("fe159f0", id="fe159f0"),
    pytest.param("b13b314", id="b13b314", marks=pytest.mark.runtime),
)

# name -> (type, id in the 2024 content where REFERENCE.md gives it, status in October 2024)
SEVEN = {
    "AWS ECR Container Scanning Findings High": ("TTP", "30a0e9f8-f1dd-4f9d-8fc2-c622461d781c", "production"),
    "AWS ECR Container Scanning Findings Medium": ("Anomaly", None, "production"),
    "AWS ECR Container Scanning Findings Low Informational Unknown": ("Anomaly", None, "production"),
    "AWS ECR Container Upload Outside Business Hours": (
        "Anomaly", "d4c4d4eb-3994-41ca-a25e-a82d64e125bb", "production"),
    "AWS ECR Container Upload Unknown User": (
        "Anomaly", "300688e4-365c-4486-a065-7c884462b31d", "production"),
    "Correlation by User and Risk": (
        "Correlation", "610e12dc-b6fa-4541-825e-4a0b3b6f6773", "deprecated"),
    "Correlation by Repository and Risk": (
        "Correlation", "8da9fdd9-6a1b-4ae0-8a34-8c25e6be9687", "deprecated"),
}
# Before 2024 (seen in the 2022 and 2023 snapshots): the scanning-High rule had another id
# (ids can change between versions) and the Low/Informational/Unknown rule was a Hunting search.
HIGH_ID_BEFORE_2024 = "62721bd2-1d82-4623-b6e6-aac170014423"
LOW_TYPE_BEFORE_2024 = "Hunting"

EXPECTED_DETECTIONS = {"ba8de57": 923, "fe159f0": 1324, "b13b314": 1711}
EXPECTED_TECHNIQUES = {"ba8de57": 566, "fe159f0": 578, "b13b314": 637}
# Detection-shaped files the sync does not read, with the reason.
NOT_READ = {
    "fe159f0": {
        "detections/deprecated/kubernetes_aws_detect_rbac_authorization_by_account.yml ":
            "name ends in '.yml ' (trailing space); upstream's build read *.yml only",
    },
}


class Snapshot:
    """One snapshot read in memory: its commit, members, and what the reader made of them."""

    def __init__(self, sha: str) -> None:
        path = SNAPSHOTS / f"splunk-security_content-{sha}.tar.gz"
        if not path.exists():
            pytest.skip(f"snapshot {path} not present")
        started = time.perf_counter()
        self.members: dict[str, bytes] = {}
        # YAML files under detections/ that the sync does not read but that look like detections
        self.unread_detection_shaped: set[str] = set()
        with tarfile.open(path, "r:gz") as archive:
            self.commit = archive.pax_headers.get("comment", "")
            for member in archive:
                if not member.isfile():
                    continue
                rel = member.name.split("/", 1)[1]
                kind = member_kind(rel)
                if kind is None and not rel.startswith("detections/"):
                    continue
                data = archive.extractfile(member).read()
                if kind is not None:
                    self.members[rel] = data
                elif ".yml" in rel and self._shaped(data):
                    self.unread_detection_shaped.add(rel)
        self.results = {
            rel: read_member(rel, data, commit=self.commit)
            for rel, data in self.members.items()
            if member_kind(rel) != "catalogue"
        }
        catalogue = next(self.members[p] for p in CATALOGUE_PATHS if p in self.members)
        self.tactic_order = load_tactic_order()
        self.techniques = read_catalogue(catalogue, self.tactic_order)
        self.records = [r.record for r in self.results.values() if r.record is not None]
        self.seconds = time.perf_counter() - started

    @staticmethod
    def _shaped(data: bytes) -> bool:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        try:
            doc = yaml.load(data, Loader=loader)
        except yaml.YAMLError:
            return False
        return isinstance(doc, dict) and {"name", "id", "search"} <= set(doc)

    def detections(self) -> dict[str, object]:
        return {p: r for p, r in self.results.items() if r.kind == "detection"}


@pytest.fixture(scope="module", params=SHAS)
def snapshot(request):
    snap = Snapshot(request.param)
    snap.sha = request.param
    print(f"\n{request.param}: read {len(snap.results)} files in {snap.seconds:.2f}s "
          f"({'libyaml' if yaml_safe.libyaml_in_use() else 'pure-Python'})", file=sys.stderr)
    return snap


def test_commit_comes_from_the_tarball(snapshot):
    assert len(snapshot.commit) == 40 and snapshot.commit.startswith(snapshot.sha)
    assert all(r.source_commit == snapshot.commit for r in snapshot.records)


def test_every_file_gives_a_record_or_a_reason(snapshot):
    for path, result in snapshot.results.items():
        assert (result.record is None) != (result.rejection is None), path
    kinds = {r.kind for r in snapshot.results.values()}
    assert {"detection", "story", "macro", "lookup"} <= kinds


def test_every_detection_shaped_file_is_accepted(snapshot):
    detections = snapshot.detections()
    accepted = {p for p, r in detections.items() if r.record is not None}
    rejected = {p: r.rejection.reason for p, r in detections.items() if r.rejection is not None}
    for path, reason in sorted(rejected.items()):
        print(f"rejected {path}: {reason}")
    assert len(accepted) + len(rejected) == len(detections)
    assert rejected == {}
    assert len(accepted) == EXPECTED_DETECTIONS[snapshot.sha]
    # what the sync reads as a detection has a detection's shape (an accepted record proves it) ...
    assert all(r.record.search or r.record.status == "removed" for r in detections.values())
    # ... and every detection-shaped file it does not read is known, with the reason
    not_read = snapshot.unread_detection_shaped
    assert {p: NOT_READ[snapshot.sha][p] for p in not_read} == NOT_READ.get(snapshot.sha, {})


def test_the_seven_t1204_003_rules(snapshot):
    by_name = {r.name: r for r in snapshot.records if getattr(r, "era", None)}
    for name, (kind, id_2024, status_2024) in SEVEN.items():
        rule = by_name[name]
        assert "T1204.003" in rule.mitre_attack_id, name
        if snapshot.sha != "b13b314" and name.endswith("Low Informational Unknown"):
            kind = LOW_TYPE_BEFORE_2024
        assert rule.type == kind, name
        assert rule.analytic_story == ("Dev Sec Ops",), name
        if snapshot.sha == "b13b314":
            assert rule.status == status_2024, name
            if id_2024:
                assert rule.id == id_2024, name
        else:
            assert rule.status == "production", name
            expected = HIGH_ID_BEFORE_2024 if name.endswith("Findings High") else id_2024
            if expected:
                assert rule.id == expected, name
    correlation = by_name["Correlation by User and Risk"]
    # 2022 read the `signals` macro; 2023 and 2024 read risk_index
    if snapshot.sha == "ba8de57":
        assert correlation.search.startswith("`signals`") and correlation.era == "A"
    else:
        assert "risk_index" in correlation.search and correlation.era == "B"
    if snapshot.sha == "b13b314":
        assert correlation.source_path == "detections/deprecated/correlation_by_user_and_risk.yml"
        unknown = by_name["AWS ECR Container Upload Unknown User"]
        row = unknown.to_row()
        # as ESCU 4.42 rendered it (REFERENCE.md section 2)
        risk = (row["risk_object_field"], row["risk_object_type"], row["risk_score"])
        assert risk == (["user"], ["user"], 49)
        assert (row["threat_object_field"], row["threat_object_type"]) == (["src_ip"], ["ip_address"])
        assert (unknown.version, unknown.date) == (3, "2024-09-30")
        assert unknown.data_source == ("AWS CloudTrail PutImage",)


def test_catalogue_and_tables(snapshot):
    assert len(snapshot.techniques) == EXPECTED_TECHNIQUES[snapshot.sha]
    image = next(t for t in snapshot.techniques if t.technique_id == "T1204.003")
    assert (image.technique_name, image.tactics, image.parent_technique_id) == (
        "Malicious Image", ("Execution",), "T1204")
    tables = build_tables(snapshot.records, snapshot.techniques, snapshot.tactic_order, snapshot.commit)
    assert len(tables["detections"]) == EXPECTED_DETECTIONS[snapshot.sha]
    assert len(tables["techniques"]) == EXPECTED_TECHNIQUES[snapshot.sha]
    tactics = [row["tactic"] for row in tables["tactics"]]
    assert tactics == [t for t in snapshot.tactic_order if t in tactics]  # v15 content: 14 tactics
    assert len(tactics) == 14 and "Command and Control" in tactics
    assert len(tables["stories"]) > 100 and len(tables["macros"]) > 100


def test_duplicate_ids_are_reported(snapshot):
    dupes = duplicate_detection_ids(snapshot.records)
    if snapshot.sha == "ba8de57":
        assert dupes == {"2850c734-2d44-4431-8139-1a56f6f54c01": [
            "detections/web/spring4shell_payload_url_request.yml",
            "detections/web/web_jsp_request_via_url.yml",
        ]}
    else:
        assert dupes == {}


def test_pure_python_loader_reads_the_same_records(snapshot):
    """A sample (the seven rules and 60 others) read again with the pure-Python loader."""
    if not yaml_safe.libyaml_in_use():
        pytest.skip("already read with the pure-Python loader")
    paths = sorted(snapshot.results)
    sample = random.Random(snapshot.sha).sample(paths, 60)
    sample += [p for p in paths if "aws_ecr_container" in p or "correlation_by_" in p]
    yaml_safe.use_libyaml(False)
    try:
        for path in sample:
            again = read_member(path, snapshot.members[path], commit=snapshot.commit)
            assert again == snapshot.results[path], path
    finally:
        yaml_safe.use_libyaml(True)


def test_every_top_level_key_is_known(snapshot):
    """The reader knows every top-level key of the era A/B snapshots: ``unknown_keys`` stays
    empty there, so an entry in a status event means a format the reader has not seen."""
    unknown = {path: r.unknown_keys for path, r in snapshot.results.items() if r.unknown_keys}
    assert unknown == {}


def test_finding_kinds_follow_the_rendered_actions(snapshot):
    """Before ESCU 6, what a detection produces follows its type (contentctl 4-5 rendering)."""
    expected = {"Hunting": {"none"}, "Correlation": {"finding"}, "Anomaly": {"intermediate", "none"},
                "TTP": {"both", "finding"}}
    for record in snapshot.records:
        if getattr(record, "type", None) in expected:
            assert record.finding_kind in expected[record.type], record.source_path
