"""Table rows: account-level S3 Control calls (public access block, access points).

Each row matches flomation-co/executor: actions/aws/s3/<name>/action.go; the account is the
``account_id`` input, else the credential's (STS), as upstream's ResolveAccountID.
"""

from __future__ import annotations

import json
from typing import Any

from flomation.executor.actions.aws.s3._bucket_rows import (
    BLOCK_PARAMS,
    BLOCK_RESULTS,
    block_configuration,
    flag,
)
from flomation.executor.actions.aws.s3._operations import (
    ACCOUNT_ID,
    BUCKET_NAME,
    Operation,
    Param,
    Result,
    Values,
    in_order,
)
from flomation.executor.actions.base import HardError, Outputs

__all__ = ["CONTROL_ROWS"]

_NAME = Param(
    "name", "Access Point Name", "Name", required="name is required", placeholder="my-access-point"
)


def _access_point_request(values: Values) -> dict[str, Any]:
    request: dict[str, Any] = {}
    if values.get("vpc_id"):
        request["VpcConfiguration"] = {"VpcId": values["vpc_id"]}
    if values.get("public_access_block"):
        try:
            request["PublicAccessBlockConfiguration"] = json.loads(values["public_access_block"])
        except ValueError as error:
            raise HardError(f"public_access_block is not valid JSON: {error}") from None
    return request


def _access_points(values: Values, reply: Any) -> Outputs:
    points = [
        {
            "name": str(point.get("Name") or ""),
            "bucket": str(point.get("Bucket") or ""),
            "network_origin": str(point.get("NetworkOrigin") or ""),
            "alias": str(point.get("Alias") or ""),
        }
        for point in reply.get("AccessPointList") or ()
    ]
    # Go marshals the nil slice of no access points as null.
    return {"access_points": in_order(points) if points else "null", "count": len(points)}


CONTROL_ROWS = (
    Operation(
        "get_account_public_access_block",
        "AWS S3 Get Account Public Access Block",
        "Read the account-level S3 public access block configuration.",
        "shield-halved+magnifying-glass",
        "get_public_access_block",
        service="s3control",
        params=(ACCOUNT_ID,),
        results=BLOCK_RESULTS,
        summary=lambda values, outputs, reply: (
            f"Account {values['account_id']} public access block: "
            f"block_public_acls={flag(outputs['block_public_acls'])}, "
            f"ignore_public_acls={flag(outputs['ignore_public_acls'])}, "
            f"block_public_policy={flag(outputs['block_public_policy'])}, "
            f"restrict_public_buckets={flag(outputs['restrict_public_buckets'])}"
        ),
    ),
    Operation(
        "put_account_public_access_block",
        "AWS S3 Put Account Public Access Block",
        "Set the account-level S3 public access block configuration.",
        "shield-halved+pen",
        "put_public_access_block",
        service="s3control",
        params=(ACCOUNT_ID, *BLOCK_PARAMS),
        results=(Result("account_id", "Account ID", echo=True),),
        request=block_configuration,
        summary="Updated account-level public access block for account {account_id}",
    ),
    Operation(
        "delete_account_public_access_block",
        "AWS S3 Delete Account Public Access Block",
        "Remove the account-level S3 public access block configuration.",
        "shield-halved+trash",
        "delete_public_access_block",
        service="s3control",
        params=(ACCOUNT_ID,),
        summary="Deleted account {account_id} public access block",
    ),
    Operation(
        "create_access_point",
        "AWS S3 Create Access Point",
        "Create an S3 access point for a bucket, optionally VPC-scoped.",
        "circle-nodes+plus",
        "create_access_point",
        service="s3control",
        params=(
            ACCOUNT_ID,
            _NAME,
            BUCKET_NAME,
            Param(
                "vpc_id",
                "VPC ID (optional)",
                placeholder="vpc-1a2b3c4d — makes the access point VPC-only",
            ),
            Param(
                "public_access_block",
                "Public Access Block (JSON, optional)",
                placeholder='{"BlockPublicAcls":true,"IgnorePublicAcls":true,'
                '"BlockPublicPolicy":true,"RestrictPublicBuckets":true}',
            ),
        ),
        results=(
            Result("access_point_arn", "Access Point ARN", "AccessPointArn"),
            Result("alias", "Alias", "Alias"),
        ),
        request=_access_point_request,
        summary="Created access point {name} on bucket {bucket}",
    ),
    Operation(
        "get_access_point",
        "AWS S3 Get Access Point",
        "Read the configuration of an AWS S3 access point.",
        "circle-nodes+magnifying-glass",
        "get_access_point",
        service="s3control",
        params=(ACCOUNT_ID, _NAME),
        results=(
            Result("name", "Access Point Name", "Name"),
            Result("bucket", "Bucket", "Bucket"),
            Result("network_origin", "Network Origin", "NetworkOrigin"),
            Result("vpc_id", "VPC ID", "VpcConfiguration.VpcId"),
            Result("alias", "Alias", "Alias"),
            Result("access_point_arn", "Access Point ARN", "AccessPointArn"),
            Result("creation_date", "Creation Date", "CreationDate", "time"),
        ),
        summary=lambda values, outputs, reply: (
            f"Access point {values['name']} on bucket {outputs['bucket']} "
            f"({outputs['network_origin']})"
        ),
    ),
    Operation(
        "delete_access_point",
        "AWS S3 Delete Access Point",
        "Delete an AWS S3 access point by name.",
        "circle-nodes+trash",
        "delete_access_point",
        service="s3control",
        params=(ACCOUNT_ID, _NAME),
        results=(Result("name", "Access Point Name", echo=True),),
        summary="Deleted access point {name}",
    ),
    Operation(
        "list_access_points",
        "AWS S3 List Access Points",
        "List AWS S3 access points, optionally filtered by bucket.",
        "circle-nodes+list",
        "list_access_points",
        service="s3control",
        params=(
            ACCOUNT_ID,
            Param("bucket", "Bucket Name (optional filter)", "Bucket", placeholder="my-bucket"),
        ),
        results=(
            Result("access_points", "Access Points (JSON)"),
            Result("count", "Count", render="int"),
        ),
        pages=True,
        reply=_access_points,
        summary="Found {count} access point(s)",
    ),
)
