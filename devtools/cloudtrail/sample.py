"""Realistic, deterministic CloudTrail records of Amazon ECR, for replaying the rules.

Records follow the CloudTrail record format (CloudTrail User Guide, "CloudTrail record contents"
and "userIdentity element") and the ECR API reference (PutImage, DescribeImageScanFindings,
ImageScanFindings with ``findings`` for basic and ``enhancedFindings`` for Amazon Inspector
scanning). Builders make single records; :func:`sample_records` makes the built-in scenario that
``samples/cloudtrail_ecr_sample.json`` holds and the README's main job replays::

    python3 -m devtools.cloudtrail.sample --write     # regenerate samples/cloudtrail_ecr_sample.json

Everything is seeded: the same seed gives byte-identical records.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

ROOT = Path(__file__).resolve().parent.parent.parent
SAMPLE_PATH = ROOT / "samples" / "cloudtrail_ecr_sample.json"
SAMPLE_NOW = "2026-11-21T03:10:00Z"  # a Saturday: the rules' window is 02:00-03:00 UTC
SAMPLE_SEED = 1204
ACCOUNT = "111111111111"
REGION = "eu-central-1"
Record = Dict[str, Any]


def iso(moment: datetime) -> str:
    """CloudTrail's eventTime format (UTC, seconds, Z)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    """Parse ``2026-11-21T03:10:00Z`` (or with an offset) into an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Ids:
    """Deterministic request ids, event ids, access keys and digests from one seed."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def uuid(self) -> str:
        """A random-looking UUID4 string."""
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def digest(self) -> str:
        """An image digest (sha256)."""
        return "sha256:" + "".join(self._rng.choice("0123456789abcdef") for _ in range(64))

    def key(self, prefix: str) -> str:
        """An access key or principal id (ASIA..., AIDA..., AROA...)."""
        return prefix + "".join(self._rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))


def iam_user(ids: Ids, name: str, account: str = ACCOUNT) -> Record:
    """userIdentity of an IAM user (type IAMUser, with userName)."""
    return {"type": "IAMUser", "principalId": ids.key("AIDA"), "arn": f"arn:aws:iam::{account}:user/{name}",
            "accountId": account, "accessKeyId": ids.key("AKIA"), "userName": name}


def assumed_role(ids: Ids, role: str, session: str, account: str = ACCOUNT, created: str = "") -> Record:
    """userIdentity of an assumed role session: no top-level userName, the role in sessionIssuer."""
    role_id = ids.key("AROA")
    return {
        "type": "AssumedRole", "principalId": f"{role_id}:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}", "accountId": account,
        "accessKeyId": ids.key("ASIA"),
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "principalId": role_id, "arn": f"arn:aws:iam::{account}:role/{role}",
                              "accountId": account, "userName": role},
            "webIdFederationData": {},
            "attributes": {"creationDate": created or "2026-01-01T00:00:00Z", "mfaAuthenticated": "false"},
        },
    }


def aws_service(service: str) -> Record:
    """userIdentity of an AWS service acting on its own (e.g. ECR replication, pull-through cache)."""
    return {"type": "AWSService", "invokedBy": service}


def _base(ids: Ids, when: datetime, identity: Record, source: str, name: str, ip: str, agent: str,
          read_only: bool, region: str) -> Record:
    return {
        "eventVersion": "1.08", "userIdentity": identity, "eventTime": iso(when), "eventSource": source,
        "eventName": name, "awsRegion": region, "sourceIPAddress": ip, "userAgent": agent,
        "requestParameters": None, "responseElements": None, "requestID": ids.uuid(), "eventID": ids.uuid(),
        "readOnly": read_only, "eventType": "AwsApiCall", "managementEvent": True,
        "recipientAccountId": identity.get("accountId", ACCOUNT), "eventCategory": "Management",
    }


def manifest(ids: Ids) -> str:
    """A small Docker image manifest v2 (as the JSON string PutImage carries)."""
    body = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1462,
                       "digest": ids.digest()},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 3370706,
                        "digest": ids.digest()}]}
    return json.dumps(body, indent=3)


def put_image(ids: Ids, when: datetime, identity: Record, repository: str, *, tag: Optional[str] = "latest",
              digest: Optional[str] = None, ip: str = "203.0.113.10", public: bool = False,
              error: Optional[str] = None, region: str = REGION, by_digest: bool = False) -> Record:
    """A PutImage record; ``by_digest`` omits imageTag and sends imageDigest (push by digest)."""
    source = "ecr-public.amazonaws.com" if public else "ecr.amazonaws.com"
    record = _base(ids, when, identity, source, "PutImage", ip, "docker/26.1.4 go/go1.21.11 os/linux",
                   False, "us-east-1" if public else region)
    image_digest = digest or ids.digest()
    registry = identity.get("accountId", ACCOUNT)
    body = manifest(ids)
    request: Record = {"registryId": registry, "repositoryName": repository, "imageManifest": body,
                       "imageManifestMediaType": "application/vnd.docker.distribution.manifest.v2+json"}
    image_id: Record = {"imageDigest": image_digest}
    if by_digest or tag is None:
        request["imageDigest"] = image_digest
    else:
        request["imageTag"] = tag
        image_id["imageTag"] = tag
    record["requestParameters"] = request
    partition_service = "ecr-public" if public else "ecr"
    record["resources"] = [{"accountId": registry,
                            "ARN": f"arn:aws:{partition_service}:{record['awsRegion']}:{registry}:repository/{repository}"}]
    if error:
        record["errorCode"] = error
        record["errorMessage"] = f"{error}: the request was rejected"
    else:
        record["responseElements"] = {"image": {"registryId": registry, "repositoryName": repository,
                                                "imageId": image_id, "imageManifest": body,
                                                "imageManifestMediaType": request["imageManifestMediaType"]}}
    return record


def basic_finding(name: str, severity: Optional[str], description: Optional[str] = None,
                  package: str = "openssl", version: str = "3.0.11-1") -> Record:
    """One basic-scanning finding (``imageScanFindings.findings[]``); None omits the key."""
    finding: Record = {"name": name, "uri": f"https://security-tracker.debian.org/tracker/{name}",
                       "attributes": [{"key": "package_version", "value": version},
                                      {"key": "package_name", "value": package}]}
    if description is not None:
        finding["description"] = description
    if severity is not None:
        finding["severity"] = severity
    return finding


def enhanced_finding(vulnerability: str, severity: str, package: str, description: str,
                     account: str = ACCOUNT, region: str = REGION, ids: Optional[Ids] = None) -> Record:
    """One enhanced-scanning (Amazon Inspector) finding (``imageScanFindings.enhancedFindings[]``)."""
    arn_id = ids.uuid().replace("-", "") if ids else "0" * 32
    return {
        "awsAccountId": account, "description": description,
        "findingArn": f"arn:aws:inspector2:{region}:{account}:finding/{arn_id}",
        "firstObservedAt": "2026-11-21T02:20:11Z", "lastObservedAt": "2026-11-21T02:20:11Z",
        "packageVulnerabilityDetails": {
            "source": "NVD", "sourceUrl": f"https://nvd.nist.gov/vuln/detail/{vulnerability}",
            "vulnerabilityId": vulnerability, "vendorSeverity": severity,
            "vulnerablePackages": [{"name": package, "version": "1.0.0", "packageManager": "OS"}],
        },
        "remediation": {"recommendation": {"text": "None Provided"}},
        "score": 7.5, "severity": severity, "status": "ACTIVE", "title": f"{vulnerability} - {package}",
        "type": "PACKAGE_VULNERABILITY", "updatedAt": "2026-11-21T02:20:11Z",
    }


def describe_scan_findings(ids: Ids, when: datetime, identity: Record, repository: str, digest: str, *,
                           findings: Optional[Sequence[Record]] = None,
                           enhanced: Optional[Sequence[Record]] = None, status: str = "COMPLETE",
                           error: Optional[str] = None, ip: str = "198.51.100.7", by_tag: Optional[str] = None,
                           region: str = REGION) -> Record:
    """A DescribeImageScanFindings record (basic ``findings`` and/or enhanced ``enhancedFindings``)."""
    record = _base(ids, when, identity, "ecr.amazonaws.com", "DescribeImageScanFindings", ip,
                   "aws-cli/2.17.0 Python/3.11.9 Linux/6.1 exe/x86_64", True, region)
    registry = identity.get("accountId", ACCOUNT)
    image_id = {"imageTag": by_tag} if by_tag else {"imageDigest": digest}
    record["requestParameters"] = {"repositoryName": repository, "imageId": image_id, "maxResults": 1000}
    if error:
        record["errorCode"] = error
        record["errorMessage"] = f"Image scan does not exist for image with '{{imageDigest:'{digest}'}}'"
        return record
    response: Record = {"registryId": registry, "repositoryName": repository,
                        "imageId": {"imageDigest": digest, **({"imageTag": by_tag} if by_tag else {})},
                        "imageScanStatus": {"status": status, "description": "The scan was completed successfully."
                                            if status == "COMPLETE" else "The scan is in progress."}}
    if status == "COMPLETE":
        counts: Dict[str, int] = {}
        for item in list(findings or []) + list(enhanced or []):
            key = str(item.get("severity", "UNDEFINED"))
            counts[key] = counts.get(key, 0) + 1
        scan: Record = {"imageScanCompletedAt": "Nov 21, 2026, 2:20:11 AM",
                        "vulnerabilitySourceUpdatedAt": "Nov 20, 2026, 11:00:00 PM",
                        "findingSeverityCounts": counts}
        if findings is not None:
            scan["findings"] = list(findings)
        if enhanced is not None:
            scan["enhancedFindings"] = list(enhanced)
        response["imageScanFindings"] = scan
    record["responseElements"] = response
    return record


def _history(ids: Ids, now: datetime, rng: random.Random) -> List[Record]:
    """30 days of ordinary pushes, in business hours on weekdays, by the team's known pushers."""
    alice = iam_user(ids, "alice")
    records: List[Record] = []
    start = (now - timedelta(days=28)).replace(hour=0, minute=0, second=0)
    day = start
    while day < now.replace(hour=0, minute=0, second=0) - timedelta(days=1):
        if day.weekday() < 5:
            when = day + timedelta(hours=9 + rng.randrange(0, 9), minutes=rng.randrange(0, 60))
            records.append(put_image(ids, when, alice, "payments/api", tag=f"v1.{len(records)}"))
            if day.weekday() in (1, 3):
                session = f"codebuild-{rng.randrange(1000, 9999)}"
                ci = assumed_role(ids, "ci-deployer", session)
                records.append(put_image(ids, when + timedelta(minutes=30), ci, "web/frontend",
                                         tag=f"build-{rng.randrange(100, 999)}", ip="AWS Internal"))
        day += timedelta(days=1)
    return records


def sample_records(seed: int = SAMPLE_SEED, now: str = SAMPLE_NOW) -> List[Record]:
    """The built-in scenario: a month of normal pushes, then a Saturday night in the window.

    In the rules' window (02:00-03:00 UTC on Saturday 2026-11-21, ``now`` 03:10):

    - alice (known IAM user) pushes payments/api: outside business hours only;
    - a contractor role never seen before (assumed role contractor-role/mallory) pushes
      payments/api by digest from an unknown IP: unknown user and outside business hours;
    - eve (new IAM user) pushes to ECR Public; her retry fails (errorCode, ignored);
    - ECR's pull-through cache pushes (AWSService caller, ignored);
    - the scans of the contractor's image: basic findings of every severity (CRITICAL, HIGH,
      MEDIUM, LOW, INFORMATIONAL, UNDEFINED without a description), described twice (duplicate),
      one scan still in progress and one that does not exist (errorCode); and the enhanced
      (Inspector) findings of web/frontend with HIGH and UNTRIAGED.
    """
    ids = Ids(seed)
    rng = random.Random(seed + 1)
    moment = parse_iso(now)
    records = _history(ids, moment, rng)
    window = moment.replace(minute=0, second=0) - timedelta(hours=1)  # 02:00 on the sample's day
    alice = iam_user(ids, "alice")
    contractor = assumed_role(ids, "contractor-role", "mallory")
    eve = iam_user(ids, "eve")
    scanner = assumed_role(ids, "security-audit", "inspector-sync")
    bad_digest = ids.digest()
    records += [
        put_image(ids, window + timedelta(minutes=5), alice, "payments/api", tag="hotfix-1"),
        put_image(ids, window + timedelta(minutes=12), contractor, "payments/api", digest=bad_digest,
                  by_digest=True, ip="192.0.2.66"),
        put_image(ids, window + timedelta(minutes=20), eve, "tools/miner", tag="latest", ip="192.0.2.99",
                  public=True),
        put_image(ids, window + timedelta(minutes=21), eve, "tools/miner", tag="latest", ip="192.0.2.99",
                  public=True, error="ImageTagAlreadyExistsException"),
        put_image(ids, window + timedelta(minutes=25), aws_service("ecr.amazonaws.com"), "cache/nginx",
                  tag="1.27", ip="ecr.amazonaws.com"),
    ]
    basic = [
        basic_finding("CVE-2026-0001", "CRITICAL", "Remote code execution in the HTTP parser.", "libhttp"),
        basic_finding("CVE-2026-0002", "HIGH", "Heap overflow in certificate parsing.", "openssl"),
        basic_finding("CVE-2026-0003", "MEDIUM", "Denial of service with crafted input.", "zlib"),
        basic_finding("CVE-2026-0004", "LOW", "Information leak in an error message.", "curl"),
        basic_finding("CVE-2026-0005", "INFORMATIONAL", "Disputed issue in the shell.", "bash"),
        basic_finding("CVE-2026-0006", "UNDEFINED", None, "nginx"),
    ]
    records += [
        describe_scan_findings(ids, window + timedelta(minutes=30), scanner, "payments/api", bad_digest,
                               findings=basic),
        describe_scan_findings(ids, window + timedelta(minutes=35), scanner, "payments/api", bad_digest,
                               findings=basic),
        describe_scan_findings(ids, window + timedelta(minutes=36), scanner, "payments/api", ids.digest(),
                               status="IN_PROGRESS"),
        describe_scan_findings(ids, window + timedelta(minutes=37), scanner, "payments/api", ids.digest(),
                               error="ScanNotFoundException"),
        describe_scan_findings(ids, window + timedelta(minutes=40), scanner, "web/frontend", ids.digest(),
                               enhanced=[
                                   enhanced_finding("CVE-2026-1001", "HIGH", "glibc", "Buffer overflow in glibc.",
                                                    ids=ids),
                                   enhanced_finding("CVE-2026-1002", "UNTRIAGED", "busybox",
                                                    "Not yet triaged by the vendor.", ids=ids),
                               ]),
    ]
    records.sort(key=lambda r: r["eventTime"])
    return records


def render_sample(records: Sequence[Record]) -> str:
    """CloudTrail's S3 delivery format: ``{"Records": [...]}``, one record per line for diffs."""
    lines = ",\n".join(json.dumps(record, sort_keys=True) for record in records)
    return '{"Records": [\n' + lines + "\n]}\n"


def replay_sample_summary() -> str:
    """Replay the built-in sample through the shipped rules; return a short summary of what fired."""
    from devtools import replay  # imported late: replay needs the SPL evaluator

    outcome = replay.replay_file(SAMPLE_PATH, now=SAMPLE_NOW)
    return replay.summary(outcome)


def main(argv: Sequence[str]) -> int:
    """``python3 -m devtools.cloudtrail.sample [--write | --check]``."""
    parser = argparse.ArgumentParser(description="Generate the built-in CloudTrail ECR sample.")
    parser.add_argument("--write", action="store_true", help=f"write {SAMPLE_PATH.relative_to(ROOT)}")
    parser.add_argument("--check", action="store_true", help="exit 1 when the committed sample is stale")
    args = parser.parse_args(argv)
    text = render_sample(sample_records())
    if args.check:
        return 0 if SAMPLE_PATH.exists() and SAMPLE_PATH.read_text(encoding="utf-8") == text else 1
    if args.write:
        SAMPLE_PATH.parent.mkdir(parents=True, exist_ok=True)
        SAMPLE_PATH.write_text(text, encoding="utf-8")
        print(f"wrote {SAMPLE_PATH.relative_to(ROOT)}")
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
