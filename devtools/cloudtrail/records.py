"""Builders of realistic CloudTrail records of Amazon ECR (PutImage, DescribeImageScanFindings).

Records follow the CloudTrail record format (CloudTrail User Guide, "CloudTrail record contents"
and "userIdentity element") and the ECR API reference (PutImage, DescribeImageScanFindings,
ImageScanFindings with ``findings`` for basic and ``enhancedFindings`` for Amazon Inspector
scanning). Ids, keys and digests come from a seeded :class:`Ids`, so the same seed gives
byte-identical records. The built-in scenario lives in :mod:`devtools.cloudtrail.sample`.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timezone
from typing import Any, Dict, Sequence

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
        self._rng = random.Random(seed)  # noqa: S311 - deterministic test data, not secrets

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
    return {
        "type": "IAMUser",
        "principalId": ids.key("AIDA"),
        "arn": f"arn:aws:iam::{account}:user/{name}",
        "accountId": account,
        "accessKeyId": ids.key("AKIA"),
        "userName": name,
    }


def assumed_role(ids: Ids, role: str, session: str, account: str = ACCOUNT, created: str = "") -> Record:
    """userIdentity of an assumed role session: no top-level userName, the role in sessionIssuer."""
    role_id = ids.key("AROA")
    return {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
        "accountId": account,
        "accessKeyId": ids.key("ASIA"),
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": role_id,
                "arn": f"arn:aws:iam::{account}:role/{role}",
                "accountId": account,
                "userName": role,
            },
            "webIdFederationData": {},
            "attributes": {"creationDate": created or "2026-01-01T00:00:00Z", "mfaAuthenticated": "false"},
        },
    }


def aws_service(service: str) -> Record:
    """userIdentity of an AWS service acting on its own (e.g. ECR replication, pull-through cache)."""
    return {"type": "AWSService", "invokedBy": service}


def _base(
    ids: Ids,
    when: datetime,
    identity: Record,
    source: str,
    name: str,
    ip: str,
    agent: str,
    read_only: bool,
    region: str,
) -> Record:
    return {
        "eventVersion": "1.08",
        "userIdentity": identity,
        "eventTime": iso(when),
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": ip,
        "userAgent": agent,
        "requestParameters": None,
        "responseElements": None,
        "requestID": ids.uuid(),
        "eventID": ids.uuid(),
        "readOnly": read_only,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": identity.get("accountId", ACCOUNT),
        "eventCategory": "Management",
    }


def manifest(ids: Ids) -> str:
    """A small Docker image manifest v2 (as the JSON string PutImage carries)."""
    body = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 1462,
            "digest": ids.digest(),
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": 3370706,
                "digest": ids.digest(),
            }
        ],
    }
    return json.dumps(body, indent=3)


def put_image(
    ids: Ids,
    when: datetime,
    identity: Record,
    repository: str,
    *,
    tag: str | None = "latest",
    digest: str | None = None,
    ip: str = "203.0.113.10",
    public: bool = False,
    error: str | None = None,
    region: str = REGION,
    by_digest: bool = False,
) -> Record:
    """A PutImage record; ``by_digest`` omits imageTag and sends imageDigest (push by digest)."""
    source = "ecr-public.amazonaws.com" if public else "ecr.amazonaws.com"
    record = _base(
        ids,
        when,
        identity,
        source,
        "PutImage",
        ip,
        "docker/26.1.4 go/go1.21.11 os/linux",
        False,
        "us-east-1" if public else region,
    )
    image_digest = digest or ids.digest()
    registry = identity.get("accountId", ACCOUNT)
    body = manifest(ids)
    request: Record = {
        "registryId": registry,
        "repositoryName": repository,
        "imageManifest": body,
        "imageManifestMediaType": "application/vnd.docker.distribution.manifest.v2+json",
    }
    image_id: Record = {"imageDigest": image_digest}
    if by_digest or tag is None:
        request["imageDigest"] = image_digest
    else:
        request["imageTag"] = tag
        image_id["imageTag"] = tag
    record["requestParameters"] = request
    partition_service = "ecr-public" if public else "ecr"
    record["resources"] = [
        {
            "accountId": registry,
            "ARN": f"arn:aws:{partition_service}:{record['awsRegion']}:{registry}:repository/{repository}",
        }
    ]
    if error:
        record["errorCode"] = error
        record["errorMessage"] = f"{error}: the request was rejected"
    else:
        record["responseElements"] = {
            "image": {
                "registryId": registry,
                "repositoryName": repository,
                "imageId": image_id,
                "imageManifest": body,
                "imageManifestMediaType": request["imageManifestMediaType"],
            }
        }
    return record


def basic_finding(
    name: str,
    severity: str | None,
    description: str | None = None,
    package: str = "openssl",
    version: str = "3.0.11-1",
) -> Record:
    """One basic-scanning finding (``imageScanFindings.findings[]``); None omits the key."""
    finding: Record = {
        "name": name,
        "uri": f"https://security-tracker.debian.org/tracker/{name}",
        "attributes": [
            {"key": "package_version", "value": version},
            {"key": "package_name", "value": package},
        ],
    }
    if description is not None:
        finding["description"] = description
    if severity is not None:
        finding["severity"] = severity
    return finding


def enhanced_finding(
    vulnerability: str,
    severity: str,
    package: str,
    description: str,
    account: str = ACCOUNT,
    region: str = REGION,
    ids: Ids | None = None,
) -> Record:
    """One enhanced-scanning (Amazon Inspector) finding (``imageScanFindings.enhancedFindings[]``)."""
    arn_id = ids.uuid().replace("-", "") if ids else "0" * 32
    return {
        "awsAccountId": account,
        "description": description,
        "findingArn": f"arn:aws:inspector2:{region}:{account}:finding/{arn_id}",
        "firstObservedAt": "2026-11-21T02:20:11Z",
        "lastObservedAt": "2026-11-21T02:20:11Z",
        "packageVulnerabilityDetails": {
            "source": "NVD",
            "sourceUrl": f"https://nvd.nist.gov/vuln/detail/{vulnerability}",
            "vulnerabilityId": vulnerability,
            "vendorSeverity": severity,
            "vulnerablePackages": [{"name": package, "version": "1.0.0", "packageManager": "OS"}],
        },
        "remediation": {"recommendation": {"text": "None Provided"}},
        "score": 7.5,
        "severity": severity,
        "status": "ACTIVE",
        "title": f"{vulnerability} - {package}",
        "type": "PACKAGE_VULNERABILITY",
        "updatedAt": "2026-11-21T02:20:11Z",
    }


def describe_scan_findings(
    ids: Ids,
    when: datetime,
    identity: Record,
    repository: str,
    digest: str,
    *,
    findings: Sequence[Record] | None = None,
    enhanced: Sequence[Record] | None = None,
    status: str = "COMPLETE",
    error: str | None = None,
    ip: str = "198.51.100.7",
    by_tag: str | None = None,
    region: str = REGION,
) -> Record:
    """A DescribeImageScanFindings record (basic ``findings`` and/or enhanced ``enhancedFindings``)."""
    record = _base(
        ids,
        when,
        identity,
        "ecr.amazonaws.com",
        "DescribeImageScanFindings",
        ip,
        "aws-cli/2.17.0 Python/3.11.9 Linux/6.1 exe/x86_64",
        True,
        region,
    )
    registry = identity.get("accountId", ACCOUNT)
    image_id = {"imageTag": by_tag} if by_tag else {"imageDigest": digest}
    record["requestParameters"] = {"repositoryName": repository, "imageId": image_id, "maxResults": 1000}
    if error:
        record["errorCode"] = error
        record["errorMessage"] = f"Image scan does not exist for image with '{{imageDigest:'{digest}'}}'"
        return record
    response: Record = {
        "registryId": registry,
        "repositoryName": repository,
        "imageId": {"imageDigest": digest, **({"imageTag": by_tag} if by_tag else {})},
        "imageScanStatus": {
            "status": status,
            "description": "The scan was completed successfully."
            if status == "COMPLETE"
            else "The scan is in progress.",
        },
    }
    if status == "COMPLETE":
        counts: Dict[str, int] = {}
        for item in list(findings or []) + list(enhanced or []):
            key = str(item.get("severity", "UNDEFINED"))
            counts[key] = counts.get(key, 0) + 1
        scan: Record = {
            "imageScanCompletedAt": "Nov 21, 2026, 2:20:11 AM",
            "vulnerabilitySourceUpdatedAt": "Nov 20, 2026, 11:00:00 PM",
            "findingSeverityCounts": counts,
        }
        if findings is not None:
            scan["findings"] = list(findings)
        if enhanced is not None:
            scan["enhancedFindings"] = list(enhanced)
        response["imageScanFindings"] = scan
    record["responseElements"] = response
    return record
