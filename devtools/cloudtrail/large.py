"""Real-size CloudTrail records of Amazon ECR: what the rules must survive on a real Splunk.

- :func:`multiarch_put_image`: a PutImage of a multi-architecture image (an OCI image index /
  Docker manifest list naming one manifest per platform). The escaped index alone passes 5000
  bytes, so ``requestParameters.imageTag``, written after it, and ``recipientAccountId``, written
  at the end of the record, lie beyond automatic JSON extraction (limits.conf ``[spath]
  extraction_cutoff`` = 5000).
- :func:`large_scan_response`: a DescribeImageScanFindings response with ``count`` basic findings
  (ECR returns up to 1,000 per page: ``maxResults`` 1000), about 660 bytes a finding as in the
  real 69 KB, 104-finding sample of security_content (660 KB for 1,000 findings). An
  ``mvexpand`` of the whole event makes 1,000 copies of it (about 660 MB) and passes
  ``max_mem_usage_mb`` = 500, where Splunk truncates.

Both are deterministic for a given :class:`~devtools.cloudtrail.records.Ids` seed.
``python3 -m devtools.cloudtrail.large --write`` writes both into ``samples/cloudtrail_ecr_large.json``
(replay it with ``python3 build.py replay --events samples/cloudtrail_ecr_large.json --now
2026-11-22T03:10:00Z``). The real 69 KB example of security_content is read in place from its
snapshot by the tests, never copied.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import List, Sequence

from devtools.cloudtrail import records as r

PLATFORMS = [
    ("linux", "amd64", ""),
    ("linux", "arm64", "v8"),
    ("linux", "arm", "v7"),
    ("linux", "arm", "v6"),
    ("linux", "386", ""),
    ("linux", "ppc64le", ""),
    ("linux", "s390x", ""),
    ("linux", "riscv64", ""),
    ("linux", "mips64le", ""),
    ("windows", "amd64", ""),
    ("linux", "loong64", ""),
    ("linux", "amd64", "v3"),
]
SEVERITIES = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED"]
INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"


def multiarch_manifest(ids: r.Ids) -> str:
    """An OCI image index naming one manifest (and one attestation) per platform, as PutImage
    carries it (a JSON string, indented as buildx writes it)."""
    manifests = []
    for os_name, arch, variant in PLATFORMS:
        platform = {"architecture": arch, "os": os_name, **({"variant": variant} if variant else {})}
        digest = ids.digest()
        manifests.append(
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": digest,
                "size": 1603,
                "platform": platform,
            }
        )
        manifests.append(
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": ids.digest(),
                "size": 840,
                "annotations": {
                    "vnd.docker.reference.digest": digest,
                    "vnd.docker.reference.type": "attestation-manifest",
                },
                "platform": {"architecture": "unknown", "os": "unknown"},
            }
        )
    return json.dumps({"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": manifests}, indent=3)


def multiarch_put_image(
    ids: r.Ids, when: datetime, identity: r.Record, repository: str, *, tag: str = "v2.4.1"
) -> r.Record:
    """A PutImage of a multi-architecture image index, over 5000 bytes, pushed with ``tag``."""
    record = r.put_image(ids, when, identity, repository, tag=tag)
    body = multiarch_manifest(ids)
    request = record["requestParameters"]
    # CloudTrail's order: registryId, repositoryName, imageManifest, imageManifestMediaType, imageTag.
    record["requestParameters"] = {
        "registryId": request["registryId"],
        "repositoryName": repository,
        "imageManifest": body,
        "imageManifestMediaType": INDEX_MEDIA_TYPE,
        "imageTag": tag,
    }
    image = record["responseElements"]["image"]
    image["imageManifest"] = body
    image["imageManifestMediaType"] = INDEX_MEDIA_TYPE
    return record


def many_findings(count: int) -> List[r.Record]:
    """``count`` distinct basic findings, severities in rotation, realistic descriptions."""
    findings = []
    for number in range(count):
        name = f"CVE-2026-{10000 + number}"
        description = (
            f"A flaw was found in package-{number % 97}: a crafted input can trigger an out-of-bounds "
            f"read in the parser of component {number % 13}, leading to a crash or disclosure of memory. "
            "Versions before the fixed release are affected; upgrade to the latest distribution package. "
            "Exploitation requires the attacker to supply data that the application decodes with the "
            "affected function, for example an uploaded archive or a network message."
        )
        findings.append(
            r.basic_finding(name, SEVERITIES[number % len(SEVERITIES)], description, f"package-{number % 97}")
        )
    return findings


def large_scan_response(
    ids: r.Ids, when: datetime, identity: r.Record, repository: str, digest: str, *, count: int = 1000
) -> r.Record:
    """A DescribeImageScanFindings record whose response holds ``count`` findings."""
    return r.describe_scan_findings(ids, when, identity, repository, digest, findings=many_findings(count))


LARGE_SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "cloudtrail_ecr_large.json"
LARGE_NOW = "2026-11-22T03:10:00Z"


def large_sample_records(seed: int = 2612) -> List[r.Record]:
    """The real-size sample: on Sunday 2026-11-22 at 02:07 UTC, an unknown user pushes a
    multi-architecture image (over 5000 bytes), and CI reads its scan: 1,000 findings."""
    ids = r.Ids(seed)
    pushed = r.parse_iso("2026-11-22T02:07:12Z")
    push = multiarch_put_image(ids, pushed, r.iam_user(ids, "night-owl"), "platform/gateway", tag="v3.0.0-rc1")
    digest = push["responseElements"]["image"]["imageId"]["imageDigest"]
    ci = r.assumed_role(ids, "ci-scanner", "codebuild-4711")
    scan = large_scan_response(ids, pushed + timedelta(minutes=9), ci, "platform/gateway", digest)
    return [push, scan]


def render_large_sample(records: Sequence[r.Record]) -> str:
    """``{"Records": [...]}`` with each record's keys in CloudTrail's own order (not sorted, unlike
    the small sample): what lies past the 5000-byte extraction cutoff depends on that order, and
    CloudTrail writes userIdentity and sourceIPAddress before requestParameters and
    responseElements."""
    return '{"Records": [\n' + ",\n".join(json.dumps(record) for record in records) + "\n]}\n"


def main(argv: Sequence[str]) -> int:
    """``python3 -m devtools.cloudtrail.large [--write | --check]`` for samples/cloudtrail_ecr_large.json."""
    from devtools.cloudtrail.sample import write_or_check

    text = render_large_sample(large_sample_records())
    return write_or_check(LARGE_SAMPLE, text, write="--write" in argv, check="--check" in argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
