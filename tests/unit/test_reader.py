"""The reader: every era of detection YAML to one canonical record (fixtures in tests/fixtures/content)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from malicious_image.content import yaml_safe
from malicious_image.content.model import DETECTION_FIELDS, DataSource, Detection, LookupDef, Macro, Story
from malicious_image.content.reader import member_kind, read_member

pytestmark = pytest.mark.runtime

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "content"
SAME_RULE = "detections/endpoint/container_image_pulled_from_unlisted_registry.yml"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def read(era: str, rel: str):
    result = read_member(rel, (FIXTURES / era / rel).read_bytes(), commit=COMMIT)
    assert result.rejection is None, result.rejection
    return result.record


@pytest.fixture(params=["libyaml", "pure"])
def yaml_backend(request):
    """Run a test with each YAML back-end; both must give the same records."""
    if request.param == "libyaml" and not hasattr(__import__("yaml"), "CSafeLoader"):
        pytest.skip("PyYAML built without libyaml")
    before = yaml_safe.libyaml_in_use()
    yaml_safe.use_libyaml(request.param == "libyaml")
    yield request.param
    yaml_safe.use_libyaml(before)


def without(record, *fields):
    return dataclasses.replace(
        record, **{f: () if isinstance(getattr(record, f), tuple) else "" for f in fields}
    )


# ------------------------------------------------------------------------------ member_kind

@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("detections/cloud/aws_ecr_container_upload_unknown_user.yml", "detection"),
        ("detections/deprecated/correlation_by_user_and_risk.yml", "detection"),
        ("detections/experimental/cloud/x.yml", "detection"),
        ("./detections/web/x.yml", "detection"),
        ("removed/detections/x.yml", "detection"),
        ("removed/old_rule.yml", "detection"),
        ("removed/stories/old_story.yml", "story"),
        ("removed/deprecation_mapping_v6.YML", None),
        ("stories/dev_sec_ops.yml", "story"),
        ("macros/aws_ecr_users.yml", "macro"),
        ("lookups/mitre_enrichment.csv", "catalogue"),
        ("app_template/lookups/mitre_enrichment.csv", "catalogue"),
        ("lookups/attacker_tools.yml", "lookup"),
        ("lookups/attacker_tools.csv", None),
        ("data_sources/aws_cloudtrail_putimage.yml", "data_source"),
        ("detections/experimental/cloud/.untested", None),
        ("detections/.gitkeep", None),
        # upstream's own tools read *.yml only: a name with a trailing space is not content
        ("detections/deprecated/kubernetes_aws_detect_rbac_authorization_by_account.yml ", None),
        ("ssa_detections/endpoint/x.yml", None),
        # ESCU 6 renamed deployments/ to schedules/: neither is content the sync needs
        ("deployments/escu_default_configuration_ttp.yml", None),
        ("schedules/escu_default_configuration_ttp.yml", None),
        ("detections/cloud/x.yaml", None),
        ("dist/escu/lookups/mitre_enrichment.csv", None),
        ("tests/cloud/x.test.yml", None),
        ("README.md", None),
        ("x.yml", None),
    ],
)
def test_member_kind(path, kind):
    assert member_kind(path) == kind


def test_paths_are_recorded_relative_with_forward_slashes():
    data = (FIXTURES / "era_b" / "macros/fixture_ctime.yml").read_bytes()
    assert read_member("./macros\\fixture_ctime.yml", data).record.source_path == "macros/fixture_ctime.yml"
    assert read_member("./detections/x.yml", b"[1]").rejection.path == "detections/x.yml"


def test_read_member_ignores_files_the_sync_does_not_need():
    assert read_member("README.md", b"# hi").kind is None
    result = read_member("lookups/mitre_enrichment.csv", b"mitre_id,technique,tactics,groups\n")
    assert (result.kind, result.record, result.rejection) == ("catalogue", None, None)


# -------------------------------------------------------------------- one rule, four eras

def test_era_c2_reads_to_the_expected_canonical_record(yaml_backend):
    record = read("era_c2", SAME_RULE)
    assert isinstance(record, Detection)
    assert record.id == "5b0f5c1e-7d43-4c1a-9a57-2f3b8e6d9c10"
    assert record.name == "Container Image Pulled From Unlisted Registry"
    assert (record.type, record.status, record.version, record.date) == ("TTP", "production", 2, "2022-03-14")
    assert record.mitre_attack_id == ("T1204.003", "T1204")
    assert record.analytic_story == ("Dev Sec Ops",)
    assert record.data_source == ("Sysmon EventID 1",)
    assert (record.security_domain, record.platform, record.era) == ("endpoint", "endpoint", "C2")
    assert record.risk_message == "Image pulled from an unlisted registry on $dest$ by $user$"
    row = record.to_row()
    assert row["risk_object_field"] == ["dest", "user"]
    assert row["risk_object_type"] == ["system", "user"]
    assert row["risk_score"] == 56
    assert row["threat_object_field"] == ["process_name"]
    assert row["threat_object_type"] == ["process"]
    assert row["search"].startswith("| tstats `security_content_summariesonly` count")
    assert row["search"].endswith("| `container_image_pulled_from_unlisted_registry_filter`")
    assert "\n" not in row["search"]
    assert row["source_path"] == SAME_RULE and row["source_commit"] == COMMIT
    assert tuple(row) == DETECTION_FIELDS
    # ESCU 6 keys: top level, no tags block; both finding blocks in one file
    assert (row["finding_kind"], row["creation_date"], row["asset_type"], row["category"]) == (
        "both", "2021-11-02", "Endpoint", "endpoint")
    assert (row["product"], row["cve"]) == (["Splunk Enterprise Security"], [])
    assert {(o.field, o.message) for o in record.risk_objects} == {
        ("dest", record.risk_message), ("user", record.risk_message)}


def test_c1_and_c2_read_to_the_same_canonical_record(yaml_backend):
    c1, c2 = read("era_c1", SAME_RULE), read("era_c2", SAME_RULE)
    assert (c1.era, c2.era) == ("C1", "C2")
    # ESCU 6 adds the creation date and the category (the folder name) that C1 has no key for
    assert (c1.creation_date, c1.category) == ("", "")
    assert without(c1, "era") == without(c2, "era", "creation_date", "category")


def test_eras_a_and_b_read_to_the_same_record_as_c1(yaml_backend):
    a, b, c1 = read("era_a", SAME_RULE), read("era_b", SAME_RULE), read("era_c1", SAME_RULE)
    assert (a.era, b.era) == ("A", "B")
    assert without(b, "era") == without(c1, "era")
    # Era A has no data_source field; everything else is the same.
    assert a.data_source == ()
    assert without(a, "era", "data_source") == without(c1, "era", "data_source")


def test_search_as_literal_block_keeps_its_lines():
    record = read("era_c1", "detections/cloud/ecr_push_literal_block_search.yml")
    assert record.search.splitlines() == [
        "`cloudtrail` eventSource=ecr.amazonaws.com eventName=PutImage",
        "| stats count by userName, requestParameters.repositoryName",
        "| `ecr_push_literal_block_search_filter`",
    ]
    assert (record.status, record.platform, record.risk_score) == ("experimental", "cloud", 30)
    assert record.threat_objects == ()


# ------------------------------------------------------------------------- status and folders

def test_era_a_status_comes_from_the_folder():
    experimental = read("era_a", "detections/experimental/cloud/ecr_image_pushed_by_digest_only.yml")
    assert (experimental.status, experimental.platform) == ("experimental", "cloud")
    assert experimental.type == "Hunting"
    # era A: a type that is neither user nor system is a threat object whatever its role
    assert experimental.to_row()["threat_object_field"] == ["repository"]
    assert experimental.risk_objects == () and experimental.risk_score is None
    deprecated = read("era_a", "detections/deprecated/old_registry_rule.yml")
    assert (deprecated.status, deprecated.platform, deprecated.security_domain) == ("deprecated", "", "cloud")
    # era A (2022 build tool): a user observable with role Attacker is a risk object
    assert [(o.field, o.type, o.score) for o in deprecated.risk_objects] == [("user", "user", 1)]


def test_era_b_deprecated_folder_wins_over_the_status_field():
    record = read("era_b", "detections/deprecated/old_registry_rule_b.yml")
    assert (record.era, record.status) == ("B", "deprecated")
    # era B (contentctl 4.4): a user observable with role Attacker is a threat object
    assert record.risk_objects == ()
    assert [(o.field, o.type) for o in record.threat_objects] == [("user", "user")]


def test_removed_detection_needs_no_search():
    record = read("era_c2", "removed/detections/correlation_by_image_and_risk.yml")
    assert (record.status, record.era, record.search, record.date) == ("removed", "C2", "", "2026-05-01")
    assert record.platform == ""


# -------------------------------------------------------------------------- other kinds

def test_macros_stories_lookups_and_data_sources():
    macro = read("era_b", "macros/fixture_ctime.yml")
    assert isinstance(macro, Macro)
    assert (macro.name, macro.arguments) == ("fixture_ctime(1)", ("field",))
    assert macro.definition == 'convert timeformat="%Y-%m-%dT%H:%M:%S" ctime($field$)'
    plain = read("era_b", "macros/container_registries_allowed.yml")
    assert (plain.name, plain.arguments) == ("container_registries_allowed", ())

    story_b = read("era_b", "stories/fixture_images.yml")
    story_c2 = read("era_c2", "stories/fixture_images.yml")
    assert isinstance(story_b, Story)
    assert story_b == story_c2
    assert story_b.to_row()["category"] == ["Cloud Security"]
    assert (story_b.date, story_b.usecase) == ("2021-08-18", "Security Monitoring")

    lookup = read("era_b", "lookups/fixture_registries.yml")
    assert isinstance(lookup, LookupDef)
    assert (lookup.name, lookup.filename) == ("fixture_registries", "fixture_registries.csv")
    assert lookup.collection == ""

    source = read("era_b", "data_sources/fixture_putimage.yml")
    assert isinstance(source, DataSource)
    assert (source.sourcetype, source.supported_ta) == ("aws:cloudtrail", ("Splunk Add-on for AWS",))
    assert source.fields == ("eventName", "eventSource")


def test_read_results_survive_a_round_trip_through_json(yaml_backend):
    import json

    from malicious_image.content.model import result_from_dict, result_to_dict

    paths = [
        ("era_c2", SAME_RULE), ("era_a", "detections/deprecated/old_registry_rule.yml"),
        ("era_b", "stories/fixture_images.yml"), ("era_b", "macros/fixture_ctime.yml"),
        ("era_b", "lookups/fixture_registries.yml"), ("era_b", "data_sources/fixture_putimage.yml"),
    ]
    results = [read_member(rel, (FIXTURES / era / rel).read_bytes(), commit=COMMIT) for era, rel in paths]
    results.append(read_member("detections/x.yml", b"- not a mapping\n"))
    for result in results:
        again = result_from_dict(json.loads(json.dumps(result_to_dict(result))))
        assert again == result
    with pytest.raises(ValueError, match="not a cached read result"):
        result_from_dict({"kind": "detection", "record": {"id": "x"}, "rejection": None})


def test_c2_variants_entity_list_and_intermediate_findings_only():
    text = (FIXTURES / "era_c2" / SAME_RULE).read_text(encoding="utf-8")
    # a finding may name several entities
    as_list = text.replace(
        "  entity:\n    field: dest\n    type: system\n    score: 56\n",
        "  entity:\n  - field: dest\n    type: system\n    score: 56\n  - field: user\n    type: user\n    score: 40\n",
    )
    record = read_member(SAME_RULE, as_list.encode()).record
    assert [(o.field, o.type, o.score) for o in record.risk_objects] == [("dest", "system", 56), ("user", "user", 56)]
    # an Anomaly raises intermediate findings only: the message falls back to their title
    start, end = text.index("finding:\n"), text.index("intermediate_findings:\n")
    no_finding = (text[:start] + text[end:]).replace(
        "intermediate_findings:\n", "intermediate_findings:\n  title: Pulled by $user$\n")
    record = read_member(SAME_RULE, no_finding.encode()).record
    assert [(o.field, o.type, o.score) for o in record.risk_objects] == [("user", "user", 56)]
    assert (record.risk_message, record.risk_score, record.era) == ("Pulled by $user$", 56, "C2")


def test_c1_hunting_without_rba_raises_no_risk():
    text = (FIXTURES / "era_c1" / SAME_RULE).read_text(encoding="utf-8")
    start, end = text.index("rba:\n"), text.index("tags:\n")
    hunting = (text[:start] + text[end:]).replace("type: TTP", "type: hunting")
    record = read_member(SAME_RULE, hunting.encode()).record
    assert record.era == "B"  # without rba nothing tells C1 from B, and nothing needs to
    assert (record.type, record.risk_objects, record.threat_objects, record.risk_score) == ("Hunting", (), (), None)


def test_c2_leftover_manual_review_block_is_ignored_and_reported_as_unknown():
    """Converted Correlation detections carry ``MANUAL_REVIEW: {rba: {}, manual_review_rationale}``."""
    text = (FIXTURES / "era_c2" / SAME_RULE).read_text(encoding="utf-8")
    text += "MANUAL_REVIEW:\n  rba: {}\n  manual_review_rationale: converted by hand\n"
    result = read_member(SAME_RULE, text.encode(), commit=COMMIT)
    assert result.unknown_keys == ("MANUAL_REVIEW",)
    assert result.record == read("era_c2", SAME_RULE)
    # also on a file that is rejected: a format change shows even when files fail
    bad = read_member(SAME_RULE, text.replace("version: 2", "version: two").encode())
    assert bad.rejection is not None and bad.unknown_keys == ("MANUAL_REVIEW",)


def test_c2_top_level_key_wins_over_tags_in_a_mixed_file():
    text = (FIXTURES / "era_c2" / SAME_RULE).read_text(encoding="utf-8")
    mixed = text + "tags:\n  mitre_attack_id:\n  - T1059\n  analytic_story:\n  - Old Story\n  cve:\n  - cve-2020-1\n"
    record = read_member(SAME_RULE, mixed.encode()).record
    assert (record.mitre_attack_id, record.analytic_story) == (("T1204.003", "T1204"), ("Dev Sec Ops",))
    assert record.cve == ("CVE-2020-1",)  # only in tags here: read from there


@pytest.mark.parametrize(
    ("blocks", "kind"),
    [("finding", "finding"), ("intermediate_findings", "intermediate"), ("", "none"),
     ("finding intermediate_findings", "both")],
)
def test_c2_finding_kind_follows_the_blocks_present(blocks, kind):
    text = (FIXTURES / "era_c2" / SAME_RULE).read_text(encoding="utf-8")
    start, end = text.index("finding:\n"), text.index("threat_objects:\n")
    middle = text.index("intermediate_findings:\n")
    finding, inter = text[start:middle], text[middle:end]
    kept = (finding if "finding" in blocks.split() else "") + (inter if "intermediate_findings" in blocks else "")
    record = read_member(SAME_RULE, (text[:start] + kept + text[end:]).encode()).record
    assert record.finding_kind == kind
    assert bool(record.risk_objects) == bool(blocks)


def test_c2_deprecation_info_is_carried():
    record = read("era_c2", "removed/detections/correlation_by_image_and_risk.yml")
    assert (record.deprecation_reason, record.removed_in_version, record.replacement_content) == (
        "Replaced by a risk rule over the Risk data model.", "6.0.0", "Risk Rule For Images")
    # an ESCU 6 file with neither finding block produces nothing, whatever its type
    assert (record.type, record.creation_date, record.finding_kind) == ("Correlation", "2022-04-01", "none")


def test_unknown_keys_of_a_hostile_file_are_bounded():
    text = (FIXTURES / "era_c2" / SAME_RULE).read_text(encoding="utf-8")
    text += "".join(f"k{n:03}{'x' * 200}: 1\n" for n in range(500))
    result = read_member(SAME_RULE, text.encode())
    assert result.record is not None
    assert len(result.unknown_keys) == 20 and {len(k) for k in result.unknown_keys} == {80}
