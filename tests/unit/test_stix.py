"""The STIX 2.1 bundle reader (content/stix.py).

Real bundles (Mobile 17.1, ICS 18.1 in ../shared/attack-stix/) are read in place and compared
with MITRE's own library, mitreattack-python (a development dependency), on the same files.
Enterprise v19 is generated (tests/attack_bundles.py): the real one is not available here.
"""

from __future__ import annotations

import io
import json

import pytest

from malicious_image.content.stix import StixError, iter_objects, read_bundle
from tests import attack_bundles as B
from tests.support.paths import SHARED

STIX = SHARED / "attack-stix"
REAL = ["mobile-attack-17.1.json", "ics-attack-18.1.json"]


def _real(name: str):
    path = STIX / name
    if not path.is_file():
        pytest.skip(f"{path} is absent (the shared ATT&CK STIX bundles are not on this machine)")
    return path


def _attack_id(obj) -> str:
    return next(
        r["external_id"] for r in obj["external_references"]
        if str(r.get("source_name", "")).startswith("mitre-") and "external_id" in r
    )  # fmt: skip


@pytest.fixture(scope="module", params=REAL)
def pair(request):
    mitre = pytest.importorskip(
        "mitreattack.stix20", reason="mitreattack-python (requirements/dev.txt) is not installed"
    )
    path = _real(request.param)
    with open(path, "rb") as handle:
        ours = read_bundle(handle, source=str(path))
    return ours, mitre.MitreAttackData(str(path)), path


def test_counts_agree_with_mitreattack_python(pair) -> None:
    ours, theirs, _ = pair
    every = theirs.get_techniques(remove_revoked_deprecated=False)
    expected = {
        "techniques": sum(1 for t in every if not t.get("x_mitre_is_subtechnique")),
        "subtechniques": sum(1 for t in every if t.get("x_mitre_is_subtechnique")),
        "revoked": sum(1 for t in every if t.get("revoked")),
        "deprecated": sum(1 for t in every if t.get("x_mitre_deprecated")),
        "groups": len(theirs.get_groups(remove_revoked_deprecated=True)),
    }
    figures = ours.figures()
    assert {k: figures[k] for k in expected} == expected
    assert figures["techniques"] > 50 and figures["groups"] > 5


def test_release_and_domain(pair) -> None:
    ours, _, path = pair
    domain, version = path.stem.rsplit("-", 1)
    assert (ours.domain, ours.version) == (domain, version)


def test_tactic_order_is_the_current_matrix_order(pair) -> None:
    ours, theirs, _ = pair
    matrices = theirs.get_matrices(remove_revoked_deprecated=True)
    assert len(matrices) == 1
    expected = [_attack_id(theirs.get_object_by_stix_id(ref)) for ref in matrices[0]["tactic_refs"]]
    assert [t.tactic_id for t in ours.tactics] == expected
    assert [t.tactic_order for t in ours.tactics] == list(range(1, len(expected) + 1))


def test_per_technique_tactics_parents_and_successors(pair) -> None:
    ours, theirs, _ = pair
    by_id = {t.technique_id: t for t in ours.techniques}
    order = {t.tactic: t.tactic_order for t in ours.tactics}
    checked = 0
    for obj in theirs.get_techniques(remove_revoked_deprecated=False):
        mine = by_id[_attack_id(obj)]
        names = {t["name"] for t in theirs.get_tactics_by_technique(obj["id"])}
        assert set(mine.tactics) == names, mine.technique_id
        ranks = [order.get(n, len(order) + 1) for n in mine.tactics]  # off-matrix tactics last
        assert ranks == sorted(ranks), mine.technique_id
        if obj.get("x_mitre_is_subtechnique"):
            parents = theirs.get_parent_technique_of_subtechnique(obj["id"])
            assert mine.parent_technique_id == _attack_id(parents[0]["object"]), mine.technique_id
        else:
            assert mine.parent_technique_id == ""
        if obj.get("revoked"):
            successor = theirs.get_revoking_object(obj["id"])
            assert mine.revoked_by == (_attack_id(successor) if successor else ""), mine.technique_id
        assert mine.deprecated == bool(obj.get("x_mitre_deprecated")) and mine.revoked == bool(obj.get("revoked"))
        assert mine.platforms == tuple(obj.get("x_mitre_platforms", ()))
        checked += 1
    assert checked == len(ours.techniques)


def test_groups_and_their_techniques_agree(pair) -> None:
    ours, theirs, _ = pair
    expected = {
        _attack_id(g): {_attack_id(u["object"]) for u in theirs.get_techniques_used_by_group(g["id"])}
        for g in theirs.get_groups(remove_revoked_deprecated=True)
    }
    assert {g.group_id: set(g.technique_ids) for g in ours.groups} == expected
    assert any(g.technique_ids for g in ours.groups)


# -- generated enterprise-like v19 --------------------------------------------------------------
@pytest.fixture(scope="module")
def v19():
    return read_bundle(B.v19_bundle())


@pytest.mark.runtime
def test_v19_has_15_tactics_in_bundle_order(v19) -> None:
    assert [t.tactic for t in v19.tactics] == [name for name, _, _ in B.V19_TACTICS]
    assert v19.tactics[7].tactic_id == "TA0112" and v19.tactics[7].shortname == "defense-impairment"
    assert (v19.domain, v19.version) == ("enterprise-attack", "19.0")


@pytest.mark.runtime
def test_v19_subtechnique_revoked_chain_and_deprecated(v19) -> None:
    by_id = {t.technique_id: t for t in v19.techniques}
    image = by_id["T1204.003"]
    assert (image.technique_name, image.parent_technique_id, image.tactics) == (
        "Malicious Image",
        "T1204",
        ("Execution",),
    )
    assert image.url == "https://attack.mitre.org/techniques/T1204/003" and image.attack_version == "19.0"
    assert by_id["T1089"].revoked_by == "T1685.002"  # T1089 -> T1562.001 -> T1685.002
    assert by_id["T1562.001"].revoked_by == "T1685.002" and by_id["T1562.001"].revoked
    assert by_id["T1064"].deprecated and not by_id["T1064"].revoked and by_id["T1064"].revoked_by == ""
    assert by_id["T1610"].tactics == ("Execution", "Stealth")  # matrix order, not the object's
    assert v19.figures() == {"techniques": 9, "subtechniques": 6, "revoked": 3, "deprecated": 1, "groups": 3,
                             "tactics": 15}  # fmt: skip
    groups = {g.group_id: g for g in v19.groups}
    assert "T1204.003" in groups["G0139"].technique_ids and groups["G0007"].aliases == ("Fancy Bear",)


@pytest.mark.runtime
def test_revoked_by_cycle_is_guarded() -> None:
    a = B.technique("T1001", "A", ("execution",), revoked=True)
    b = B.technique("T1002", "B", ("execution",), revoked=True)
    extra = [a, b, B.relationship("revoked-by", a["id"], b["id"]), B.relationship("revoked-by", b["id"], a["id"])]
    catalogue = read_bundle(B.bundle_bytes(B.v19_objects(extra=extra)))
    by_id = {t.technique_id: t for t in catalogue.techniques}
    assert by_id["T1001"].revoked and by_id["T1001"].revoked_by == "" and by_id["T1002"].revoked_by == ""


@pytest.mark.runtime
@pytest.mark.parametrize("chunk", [1, 7, 4096, 1 << 20])
@pytest.mark.parametrize("indent", [None, 0, 4])
def test_stream_result_does_not_depend_on_chunks_or_layout(chunk, indent, v19) -> None:
    data = B.v19_bundle(indent=indent)
    assert read_bundle(io.BytesIO(data), chunk_chars=chunk) == v19


@pytest.mark.runtime
def test_iter_objects_matches_json_load_on_a_real_bundle() -> None:
    data = _real(REAL[0]).read_bytes()
    assert list(iter_objects(data, chunk_chars=5000)) == json.loads(data)["objects"]


@pytest.mark.runtime
@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "not a JSON object"),
        (b"[]", "not a JSON object"),
        (b'{"type": "bundle"}', "no 'objects' array"),
        (b'{"type": "x", "objects": []}', "not a STIX bundle"),
        (b'{"type": "bundle", "objects": [1]}', "object 0 of 'objects'"),
        (b'{"type": "bundle", "objects": [{"type": "a", "id": "a--1"} {"type": "b"}]}', "object 0 of 'objects' (a--1)"),
        (
            b'{"type": "bundle", "objects": [{"type": "a", "id": "a--1"}, {"type": "b", ',
            "object 1 of 'objects': invalid JSON",
        ),
        (b'{"type": "bundle", "objects": []} x', "data after the end"),
        (b'{"type": "bundle", "objects": ["\xff"]}', "not UTF-8"),
        (b'{"type": "bundle", "objects": []}', "no x-mitre-collection"),
    ],
)
def test_errors_name_the_object_at_fault(data, words) -> None:
    with pytest.raises(StixError, match=None) as caught:
        read_bundle(data, chunk_chars=8)
    assert words in str(caught.value)


@pytest.mark.runtime
def test_a_malformed_attack_object_is_named() -> None:
    bad = B.technique("T1999", "Bad", ("execution",))
    bad["x_mitre_is_subtechnique"] = "yes"
    with pytest.raises(StixError) as caught:
        read_bundle(B.bundle_bytes(B.v19_objects(extra=[bad])))
    assert bad["id"] in str(caught.value) and "x_mitre_is_subtechnique" in str(caught.value)


@pytest.mark.runtime
def test_no_matrix_or_missing_tactic_is_refused() -> None:
    objects = [o for o in B.v19_objects() if o["type"] != "x-mitre-matrix"]
    with pytest.raises(StixError, match="no x-mitre-matrix"):
        read_bundle(B.bundle_bytes(objects))
    objects = [o for o in B.v19_objects() if not (o["type"] == "x-mitre-tactic" and o["name"] == "Stealth")]
    with pytest.raises(StixError, match="not in the bundle"):
        read_bundle(B.bundle_bytes(objects))


@pytest.mark.runtime
def test_a_malformed_object_fails_without_buffering_the_rest_of_the_file() -> None:
    data = B.v19_bundle(indent=None).replace(b'"name": "Stealth"', b'"name": Stealth', 1) + b" " * (8 << 20)
    stream = io.BytesIO(data)
    with pytest.raises(StixError, match="invalid JSON"):
        read_bundle(stream, chunk_chars=4096)
    assert stream.tell() < 64 * 1024  # stopped near the fault, not at the end of 8 MB
