"""Enterprise-like ATT&CK STIX 2.1 bundles, generated (the real Enterprise bundle, about 45 MB, is
not available here; REFERENCE.md section 3).

The shapes follow ``../shared/attack-stix/USAGE.md`` and the real Mobile/ICS bundles: techniques
are ``attack-pattern`` objects with a ``mitre-attack`` external reference and
``kill_chain_phases`` naming tactic shortnames; sub-techniques have ``x_mitre_is_subtechnique``
and a ``subtechnique-of`` relationship; revoked techniques have ``revoked: true`` and a
``revoked-by`` relationship; retired ones ``x_mitre_deprecated: true``; tactics are
``x-mitre-tactic`` objects ordered by an ``x-mitre-matrix``'s ``tactic_refs``; groups are
``intrusion-set`` objects with ``uses`` relationships; the release is the ``x-mitre-collection``'s
``x_mitre_version``. ATT&CK v19 (April 2026) has 15 Enterprise tactics: Defense Evasion became
Stealth (TA0005) and Defense Impairment (TA0112).

Which techniques moved where in v19 is invented here (T1562.001 revoked by T1685.002, T1089
revoked by T1562.001: a chain); the names of T1204 and its sub-techniques are ATT&CK's.
Used by tests/unit/test_stix*.py and benchmarks/bench_stix.py.
"""

from __future__ import annotations

import json
import uuid
from typing import IO, Any, Dict, Iterable, Iterator, List, Sequence, Tuple

V19_TACTICS: Tuple[Tuple[str, str, str], ...] = (
    ("Reconnaissance", "TA0043", "reconnaissance"),
    ("Resource Development", "TA0042", "resource-development"),
    ("Initial Access", "TA0001", "initial-access"),
    ("Execution", "TA0002", "execution"),
    ("Persistence", "TA0003", "persistence"),
    ("Privilege Escalation", "TA0004", "privilege-escalation"),
    ("Stealth", "TA0005", "stealth"),
    ("Defense Impairment", "TA0112", "defense-impairment"),
    ("Credential Access", "TA0006", "credential-access"),
    ("Discovery", "TA0007", "discovery"),
    ("Lateral Movement", "TA0008", "lateral-movement"),
    ("Collection", "TA0009", "collection"),
    ("Command and Control", "TA0011", "command-and-control"),
    ("Exfiltration", "TA0010", "exfiltration"),
    ("Impact", "TA0040", "impact"),
)

# (id, name, tactic shortnames, platforms, flags) flags: "revoked" / "deprecated"
V19_TECHNIQUES: Tuple[Tuple[str, str, Tuple[str, ...], Tuple[str, ...], str], ...] = (
    ("T1204", "User Execution", ("execution",), ("Linux", "Windows", "macOS", "Containers", "IaaS"), ""),
    ("T1204.001", "Malicious Link", ("execution",), ("Linux", "Windows", "macOS"), ""),
    ("T1204.002", "Malicious File", ("execution",), ("Linux", "Windows", "macOS"), ""),
    ("T1204.003", "Malicious Image", ("execution",), ("Containers", "IaaS"), ""),
    ("T1610", "Deploy Container", ("stealth", "execution"), ("Containers",), ""),
    ("T1078", "Valid Accounts", ("initial-access", "persistence", "privilege-escalation", "stealth"), ("IaaS",), ""),
    (
        "T1078.004",
        "Cloud Accounts",
        ("initial-access", "persistence", "privilege-escalation", "stealth"),
        ("IaaS",),
        "",
    ),
    ("T1685", "Impair Defenses", ("defense-impairment",), ("Linux", "Windows", "IaaS"), ""),
    ("T1685.002", "Disable or Modify Tools", ("defense-impairment",), ("Linux", "Windows", "IaaS"), ""),
    ("T1562", "Impair Defenses", ("defense-impairment",), ("Linux", "Windows"), "revoked"),
    ("T1562.001", "Disable or Modify Tools", ("defense-impairment",), ("Linux", "Windows"), "revoked"),
    ("T1089", "Disabling Security Tools", ("defense-impairment",), ("Windows",), "revoked"),
    ("T1064", "Scripting", ("execution",), ("Windows",), "deprecated"),
    ("T1595", "Active Scanning", ("reconnaissance",), ("PRE",), ""),
    ("T1496", "Resource Hijacking", ("impact",), ("IaaS", "Containers"), ""),
)
V19_REVOKED_BY = {"T1562": "T1685", "T1562.001": "T1685.002", "T1089": "T1562.001"}
V19_GROUPS: Tuple[Tuple[str, str, Tuple[str, ...], Tuple[str, ...]], ...] = (
    ("G0139", "TeamTNT", ("TeamTNT",), ("T1204.003", "T1610", "T1496")),
    ("G0106", "Rocke", ("Rocke",), ("T1204.003", "T1496", "T1562.001")),
    ("G0007", "APT28", ("APT28", "Fancy Bear"), ("T1204.002", "T1078.004")),
)
_IDENTITY = "identity--c78cb6e5-0c4b-4611-8297-d1b8b55e40b5"
_MARKING = "marking-definition--fa42a846-8d90-4e51-bc29-71d5b4802168"
_WHEN = "2026-04-28T14:00:00.000Z"


def _sid(kind: str, key: str) -> str:
    return f"{kind}--{uuid.uuid5(uuid.NAMESPACE_URL, 'attack-bundle:' + key)}"


def _base(kind: str, key: str, name: str, **extra: Any) -> Dict[str, Any]:
    obj: Dict[str, Any] = {
        "type": kind, "spec_version": "2.1", "id": _sid(kind, key), "created": "2018-01-17T12:56:55.080Z",
        "created_by_ref": _IDENTITY, "modified": _WHEN, "name": name, "object_marking_refs": [_MARKING],
        "x_mitre_attack_spec_version": "3.3.0", "x_mitre_domains": ["enterprise-attack"], "x_mitre_version": "1.0",
    }  # fmt: skip
    obj.update(extra)
    return obj


def _reference(path: str, external_id: str) -> List[Dict[str, str]]:
    return [{"source_name": "mitre-attack", "url": f"https://attack.mitre.org/{path}", "external_id": external_id}]


def technique(
    attack_id: str,
    name: str,
    phases: Sequence[str],
    platforms: Sequence[str] = ("Linux",),
    *,
    revoked: bool = False,
    deprecated: bool = False,
    description: str = "",
) -> Dict[str, Any]:
    """One ``attack-pattern`` object."""
    path = "techniques/" + attack_id.replace(".", "/")
    return _base(
        "attack-pattern", attack_id, name, description=description or f"Adversaries may use {name}.",
        external_references=_reference(path, attack_id),
        kill_chain_phases=[{"kill_chain_name": "mitre-attack", "phase_name": p} for p in phases],
        x_mitre_is_subtechnique="." in attack_id, x_mitre_platforms=list(platforms), revoked=revoked,
        x_mitre_deprecated=deprecated,
    )  # fmt: skip


def relationship(kind: str, source: str, target: str) -> Dict[str, Any]:
    """One ``relationship`` object between two STIX ids."""
    obj = _base("relationship", f"{kind}:{source}:{target}", "", relationship_type=kind, source_ref=source,
                target_ref=target)  # fmt: skip
    del obj["name"]
    return obj


def v19_objects(version: str = "19.0", *, extra: Iterable[Dict[str, Any]] = ()) -> Iterator[Dict[str, Any]]:
    """The objects of the enterprise-like v19 bundle (collection first, as MITRE writes it)."""
    about = "Generated enterprise-like bundle (tests/attack_bundles.py)"
    yield _base("x-mitre-collection", "collection", "Enterprise ATT&CK", x_mitre_version=version,
                description=about, x_mitre_contents=[])  # fmt: skip
    tactic_ids = []
    for name, tactic_id, short in V19_TACTICS:
        tactic = _base("x-mitre-tactic", tactic_id, name, x_mitre_shortname=short,
                       external_references=_reference(f"tactics/{tactic_id}", tactic_id))  # fmt: skip
        tactic_ids.append(tactic["id"])
        yield tactic
    matrix_ref = _reference("matrices/enterprise", "enterprise-attack")
    yield _base("x-mitre-matrix", "matrix-old", "Enterprise ATT&CK (v18)", tactic_refs=tactic_ids[::-1],
                x_mitre_deprecated=True, external_references=matrix_ref)  # fmt: skip
    yield _base("x-mitre-matrix", "matrix", "Enterprise ATT&CK", tactic_refs=tactic_ids,
                external_references=matrix_ref)  # fmt: skip
    for attack_id, name, phases, platforms, flag in V19_TECHNIQUES:
        yield technique(attack_id, name, phases, platforms, revoked=flag == "revoked", deprecated=flag == "deprecated")
        if "." in attack_id:
            parent = attack_id.split(".")[0]
            yield relationship("subtechnique-of", _sid("attack-pattern", attack_id), _sid("attack-pattern", parent))
    for old, new in V19_REVOKED_BY.items():
        yield relationship("revoked-by", _sid("attack-pattern", old), _sid("attack-pattern", new))
    for group_id, name, aliases, used in V19_GROUPS:
        yield _base("intrusion-set", group_id, name, aliases=list(aliases),
                    external_references=_reference(f"groups/{group_id}", group_id))  # fmt: skip
        for attack_id in used:
            yield relationship("uses", _sid("intrusion-set", group_id), _sid("attack-pattern", attack_id))
    yield from extra


def bundle_bytes(objects: Iterable[Dict[str, Any]], *, indent: int | None = 4) -> bytes:
    """A bundle of ``objects``, formatted as MITRE formats it (4-space indent) by default."""
    bundle = {"type": "bundle", "id": _sid("bundle", "generated"), "objects": list(objects)}
    return json.dumps(bundle, indent=indent).encode("utf-8")


def v19_bundle(version: str = "19.0", **kwargs: Any) -> bytes:
    """The enterprise-like v19 bundle as bytes."""
    return bundle_bytes(v19_objects(version), **kwargs)


def filler(count: int, *, description_chars: int = 2000, start: int = 3000) -> Iterator[Dict[str, Any]]:
    """``count`` more techniques (T3000...) with Enterprise-sized descriptions, each with a
    sub-technique, a ``uses`` from the first group and a mitigation relationship, for size."""
    text = ("Adversaries may abuse this behaviour to execute code in a container image. " * 40)[:description_chars]
    group = _sid("intrusion-set", V19_GROUPS[0][0])
    for n in range(count):
        attack_id = f"T{start + n % 6000}" if n < 6000 else f"T{start + n % 6000}.{n // 6000:03d}"
        short = V19_TACTICS[n % len(V19_TACTICS)][2]
        yield technique(attack_id, f"Generated technique {n}", (short,), ("Linux", "IaaS"), description=text)
        if "." in attack_id:
            parent = attack_id.split(".")[0]
            yield relationship("subtechnique-of", _sid("attack-pattern", attack_id), _sid("attack-pattern", parent))
        yield relationship("uses", group, _sid("attack-pattern", attack_id))
        yield relationship("mitigates", _sid("course-of-action", "M1000"), _sid("attack-pattern", attack_id))


def write_bundle(out: IO[bytes], target_bytes: int, *, version: str = "19.0") -> int:
    """Write a v19 bundle of about ``target_bytes`` to ``out`` one object at a time (MITRE's
    4-space layout); returns the number of bytes written."""
    written = out.write(
        b'{\n    "type": "bundle",\n    "id": "' + _sid("bundle", "big").encode() + b'",\n    "objects": [\n'
    )
    first = True
    objects: Iterator[Dict[str, Any]] = v19_objects(version, extra=filler(10**7))
    for obj in objects:
        text = ("" if first else ",\n") + "\n".join(
            "        " + line for line in json.dumps(obj, indent=4).splitlines()
        )
        written += out.write(text.encode("utf-8"))
        first = False
        if written >= target_bytes:
            break
    written += out.write(b"\n    ]\n}\n")
    return written
