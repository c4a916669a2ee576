"""Table rows: account-level S3 Control calls (public access block, access points).

Each row matches flomation-co/executor: actions/aws/s3/<name>/action.go; the account is the
``account_id`` input, else the credential's (STS), as upstream's ResolveAccountID.
"""

from __future__ import annotations

import json
from dataclasses import replace
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
    tag_count,
    tags_param,
)
from flomation.executor.actions.base import HardError, Outputs
from flomation.executor.gojson import go_json

__all__ = ["CONTROL_ROWS"]

_NAME = Param(
    "name", "Access Point Name", "Name", required="name is required", placeholder="my-access-point"
)

# The policy actions' name input has no placeholder.
_POLICY_NAME = replace(_NAME, placeholder="")

_CONFIG_ID = Param("config_id", "Configuration ID", "ConfigId", required="config_id is required")


def _lens_configuration(values: Values) -> dict[str, Any]:
    """The configuration JSON (SDK field names); a blank ``Id`` is the config id."""
    try:
        configuration = json.loads(values["storage_lens_configuration"])
    except ValueError as error:
        raise HardError(f"invalid storage_lens_configuration JSON: {error}") from None
    if not isinstance(configuration, dict):
        raise HardError("invalid storage_lens_configuration JSON: not an object")
    if not configuration.get("Id"):
        configuration["Id"] = values["config_id"]
    return {"StorageLensConfiguration": configuration}


def _lens_list(values: Values, reply: Any) -> Outputs:
    entries = [
        {
            "id": str(entry.get("Id") or ""),
            "storage_lens_arn": str(entry.get("StorageLensArn") or ""),
            "is_enabled": bool(entry.get("IsEnabled")),
            "home_region": str(entry.get("HomeRegion") or ""),
        }
        for entry in reply.get("StorageLensConfigurationList") or ()
    ]
    # A Go map (sorted keys) per entry; no entries is Go's nil slice, null.
    return {"configurations": go_json(entries) if entries else "null", "count": len(entries)}


# Creating and deleting a Multi-Region Access Point sends the name inside Details.
_MRAP_NAME = replace(_POLICY_NAME, field="")


def _mrap_create(values: Values) -> dict[str, Any]:
    buckets = [name.strip() for name in values["regions"].split(",") if name.strip()]
    if not buckets:
        raise HardError("at least one bucket is required")
    details = {"Name": values["name"], "Regions": [{"Bucket": bucket} for bucket in buckets]}
    return {"ClientToken": "flomation-mrap-create-" + values["name"], "Details": details}


def _mrap_list(values: Values, reply: Any) -> Outputs:
    points = [
        {
            "name": str(point.get("Name") or ""),
            "alias": str(point.get("Alias") or ""),
            "status": str(point.get("Status") or ""),
        }
        for point in reply.get("AccessPoints") or ()
    ]
    # Go maps (sorted keys); no points is Go's nil slice, null.
    return {"access_points": go_json(points) if points else "null", "count": len(points)}


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
    Operation(
        "put_access_point_policy",
        "AWS S3 Put Access Point Policy",
        "Attach a JSON policy document to an AWS S3 access point.",
        "circle-nodes+lock",
        "put_access_point_policy",
        service="s3control",
        params=(
            ACCOUNT_ID,
            _NAME,
            Param(
                "policy",
                "Policy Document (JSON)",
                "Policy",
                required="policy is required",
                placeholder='{"Version":"2012-10-17","Statement":[...]}',
            ),
        ),
        results=(Result("name", "Access Point Name", echo=True),),
        summary="Applied policy to access point {name}",
    ),
    Operation(
        "get_access_point_policy",
        "AWS S3 Get Access Point Policy",
        "Read the resource policy attached to an S3 access point.",
        "circle-nodes+file-lines",
        "get_access_point_policy",
        service="s3control",
        params=(ACCOUNT_ID, _POLICY_NAME),
        results=(Result("policy", "Policy (JSON)", "Policy"),),
        summary="Retrieved policy for access point {name}",
    ),
    Operation(
        "delete_access_point_policy",
        "AWS S3 Delete Access Point Policy",
        "Remove the resource policy from an S3 access point.",
        "circle-nodes+trash",
        "delete_access_point_policy",
        service="s3control",
        params=(ACCOUNT_ID, _POLICY_NAME),
        summary="Deleted policy for access point {name}",
    ),
    Operation(
        "get_access_point_policy_status",
        "AWS S3 Get Access Point Policy Status",
        "Report whether an S3 access point's policy grants public access.",
        "circle-nodes+shield-halved",
        "get_access_point_policy_status",
        service="s3control",
        params=(ACCOUNT_ID, _POLICY_NAME),
        results=(Result("is_public", "Is Public", "PolicyStatus.IsPublic", "bool"),),
        summary=lambda values, outputs, reply: (
            f"Access point {values['name']} policy is_public={flag(outputs['is_public'])}"
        ),
    ),
    Operation(
        "put_storage_lens_configuration",
        "AWS S3 Put Storage Lens Configuration",
        "Create or update an S3 Storage Lens configuration (JSON uses SDK field names).",
        "chart-line+pen",
        "put_storage_lens_configuration",
        service="s3control",
        params=(
            ACCOUNT_ID,
            _CONFIG_ID,
            Param(
                "storage_lens_configuration",
                "Storage Lens Configuration (JSON)",
                required="storage_lens_configuration JSON is required",
                placeholder="JSON object; keys use SDK field names "
                "(Id, IsEnabled, AccountLevel, ...)",
            ),
            Param("tags", "Tags (optional)", "Tags", kind="tags"),
        ),
        results=(Result("config_id", "Configuration ID", echo=True),),
        request=_lens_configuration,
        summary="Saved Storage Lens configuration {config_id}",
    ),
    Operation(
        "get_storage_lens_configuration",
        "AWS S3 Get Storage Lens Configuration",
        "Read an S3 Storage Lens configuration by ID.",
        "chart-line+magnifying-glass",
        "get_storage_lens_configuration",
        service="s3control",
        params=(ACCOUNT_ID, _CONFIG_ID),
        results=(
            Result("config_id", "Configuration ID", echo=True),
            Result("is_enabled", "Is Enabled", "StorageLensConfiguration.IsEnabled", "bool"),
            Result("configuration", "Configuration (JSON)", "StorageLensConfiguration", "json"),
        ),
        summary=lambda values, outputs, reply: (
            f"Storage Lens configuration {values['config_id']} "
            f"(enabled={flag(outputs['is_enabled'])})"
        ),
    ),
    Operation(
        "delete_storage_lens_configuration",
        "AWS S3 Delete Storage Lens Configuration",
        "Delete an S3 Storage Lens configuration by ID.",
        "chart-line+trash",
        "delete_storage_lens_configuration",
        service="s3control",
        params=(ACCOUNT_ID, _CONFIG_ID),
        summary="Deleted Storage Lens configuration {config_id}",
    ),
    Operation(
        "list_storage_lens_configurations",
        "AWS S3 List Storage Lens Configurations",
        "List the S3 Storage Lens configurations in the account.",
        "chart-line+list",
        "list_storage_lens_configurations",
        service="s3control",
        params=(ACCOUNT_ID,),
        results=(
            Result("configurations", "Configurations (JSON)"),
            Result("count", "Count", render="int"),
        ),
        reply=_lens_list,
        summary="Found {count} Storage Lens configuration(s)",
    ),
    Operation(
        "put_storage_lens_configuration_tagging",
        "AWS S3 Set Storage Lens Tags",
        "Replace the tags on an S3 Storage Lens configuration.",
        "chart-line+tag",
        "put_storage_lens_configuration_tagging",
        service="s3control",
        params=(
            ACCOUNT_ID,
            _CONFIG_ID,
            tags_param("Tags", placeholder=""),
        ),
        results=(Result("tag_count", "Tag Count", render="int"),),
        reply=tag_count,
        summary="Applied {tag_count} tag(s) to Storage Lens configuration {config_id}",
    ),
    Operation(
        "get_storage_lens_configuration_tagging",
        "AWS S3 Get Storage Lens Tags",
        "Read the tags on an S3 Storage Lens configuration.",
        "chart-line+tag",
        "get_storage_lens_configuration_tagging",
        service="s3control",
        params=(ACCOUNT_ID, _CONFIG_ID),
        results=(Result("tags", "Tags (JSON)", "Tags", "tag_map"),),
        summary=lambda values, outputs, reply: (
            f"Storage Lens configuration {values['config_id']} has "
            f"{len(json.loads(outputs['tags']))} tag(s)"
        ),
    ),
    Operation(
        "create_multi_region_access_point",
        "AWS S3 Create Multi-Region Access Point",
        "Create an S3 Multi-Region Access Point (async; control plane is us-west-2).",
        "globe+plus",
        "create_multi_region_access_point",
        service="s3control",
        params=(
            ACCOUNT_ID,
            _MRAP_NAME,
            Param(
                "regions",
                "Buckets",
                required="at least one bucket is required",
                placeholder="Comma-separated bucket names, one per Region",
            ),
        ),
        results=(Result("request_token_arn", "Request Token ARN", "RequestTokenARN"),),
        request=_mrap_create,
        summary="Requested Multi-Region Access Point {name} (async; token {request_token_arn})",
    ),
    Operation(
        "get_multi_region_access_point",
        "AWS S3 Get Multi-Region Access Point",
        "Read the details of an S3 Multi-Region Access Point.",
        "globe+magnifying-glass",
        "get_multi_region_access_point",
        service="s3control",
        params=(ACCOUNT_ID, _POLICY_NAME),
        results=(
            Result("name", "Name", "AccessPoint.Name"),
            Result("alias", "Alias", "AccessPoint.Alias"),
            Result("status", "Status", "AccessPoint.Status"),
            Result("access_point", "Access Point (JSON)", "AccessPoint", "json"),
        ),
        summary="Multi-Region Access Point {name} ({alias}) is {status}",
    ),
    Operation(
        "list_multi_region_access_points",
        "AWS S3 List Multi-Region Access Points",
        "List the S3 Multi-Region Access Points in the account.",
        "globe+list",
        "list_multi_region_access_points",
        service="s3control",
        params=(ACCOUNT_ID,),
        results=(
            Result("access_points", "Access Points (JSON)"),
            Result("count", "Count", render="int"),
        ),
        reply=_mrap_list,
        summary="Found {count} Multi-Region Access Point(s)",
    ),
    Operation(
        "delete_multi_region_access_point",
        "AWS S3 Delete Multi-Region Access Point",
        "Delete an S3 Multi-Region Access Point (async; control plane is us-west-2).",
        "globe+trash",
        "delete_multi_region_access_point",
        service="s3control",
        params=(ACCOUNT_ID, _MRAP_NAME),
        results=(Result("request_token_arn", "Request Token ARN", "RequestTokenARN"),),
        request=lambda values: {
            "ClientToken": "flomation-mrap-delete-" + values["name"],
            "Details": {"Name": values["name"]},
        },
        summary=(
            "Requested deletion of Multi-Region Access Point {name} (async; token "
            "{request_token_arn})"
        ),
    ),
)
