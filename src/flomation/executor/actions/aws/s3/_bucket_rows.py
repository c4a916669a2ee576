"""Table rows: a bucket's configuration (CORS, encryption, policy, tags, website, ...).

Each row matches flomation-co/executor: actions/aws/s3/<name>/action.go (inputs, outputs,
required-input errors and the ``tool_result`` sentence); see ``_operations`` for the columns.
"""

from __future__ import annotations

import json
from typing import Any

from flomation.executor.actions.aws.s3._operations import (
    BUCKET,
    BUCKET_NAME,
    Operation,
    Param,
    Result,
    Values,
    in_order,
    json_list,
    plain,
    rfc3339,
    tag_count,
    tags_param,
)
from flomation.executor.actions.base import HardError, Outputs
from flomation.executor.gojson import go_json

__all__ = [
    "BLOCK_PARAMS",
    "BLOCK_RESULTS",
    "BUCKET_ECHO",
    "BUCKET_ROWS",
    "acl_reply",
    "block_configuration",
    "flag",
    "quoted",
]

BUCKET_ECHO = Result("bucket", "Bucket", echo=True)


def _cors_rules(values: Values) -> dict[str, Any]:
    """``CORSConfiguration`` from the snake_case JSON rule list upstream accepts."""
    parsed = json_list(values["cors_rules"], "cors_rules", "at least one CORS rule is required")
    rules = []
    for index, rule in enumerate(parsed):
        rule = rule if isinstance(rule, dict) else {}
        if not rule.get("allowed_methods") or not rule.get("allowed_origins"):
            raise HardError(f"rule {index} requires allowed_methods and allowed_origins")
        shaped: dict[str, Any] = {
            "AllowedMethods": list(rule["allowed_methods"]),
            "AllowedOrigins": list(rule["allowed_origins"]),
        }
        for source, target in (
            ("allowed_headers", "AllowedHeaders"),
            ("expose_headers", "ExposeHeaders"),
        ):
            if rule.get(source):
                shaped[target] = list(rule[source])
        if int(rule.get("max_age_seconds") or 0) > 0:
            shaped["MaxAgeSeconds"] = int(rule["max_age_seconds"])
        rules.append(shaped)
    return {"CORSConfiguration": {"CORSRules": rules}}


def _encryption(values: Values) -> dict[str, Any]:
    default = {"SSEAlgorithm": values["sse_algorithm"]}
    if "kms_key_id" in values:
        default["KMSMasterKeyID"] = values["kms_key_id"]
    rules = [{"ApplyServerSideEncryptionByDefault": default}]
    return {"ServerSideEncryptionConfiguration": {"Rules": rules}}


def _encryption_reply(values: Values, reply: Any) -> Outputs:
    rules = (reply.get("ServerSideEncryptionConfiguration") or {}).get("Rules") or [{}]
    default = rules[0].get("ApplyServerSideEncryptionByDefault") or {}
    return {
        "sse_algorithm": str(default.get("SSEAlgorithm") or ""),
        "kms_key_id": str(default.get("KMSMasterKeyID") or ""),
    }


def acl_reply(values: Values, reply: Any) -> Outputs:
    owner = reply.get("Owner") or {}
    grants = []
    for grant in reply.get("Grants") or ():
        grantee = grant.get("Grantee") or {}
        named = [grantee.get(key) for key in ("ID", "URI", "EmailAddress", "DisplayName")]
        grants.append(
            {
                "grantee_type": str(grantee.get("Type") or ""),
                "grantee": next((name for name in named if name), ""),
                "permission": str(grant.get("Permission") or ""),
            }
        )
    return {
        "owner": str(owner.get("DisplayName") or owner.get("ID") or ""),
        "grants": in_order(grants),
    }


def _lifecycle_rules(values: Values) -> dict[str, Any]:
    """``LifecycleConfiguration`` from upstream's curated JSON rule list."""
    parsed = json_list(values["rules"], "rules", "at least one lifecycle rule is required")
    rules = []
    for index, rule in enumerate(parsed):
        rule = rule if isinstance(rule, dict) else {}
        disabled = str(rule.get("status") or "").strip().lower() == "disabled"
        shaped: dict[str, Any] = {
            "Status": "Disabled" if disabled else "Enabled",
            "Filter": {"Prefix": str(rule.get("prefix") or "")},
        }
        if rule.get("id"):
            shaped["ID"] = str(rule["id"])
        if int(rule.get("expiration_days") or 0) > 0:
            shaped["Expiration"] = {"Days": int(rule["expiration_days"])}
        days, storage_class = (
            int(rule.get("transition_days") or 0),
            rule.get("transition_storage_class"),
        )
        if days > 0 and storage_class:
            shaped["Transitions"] = [{"Days": days, "StorageClass": str(storage_class)}]
        if "Expiration" not in shaped and "Transitions" not in shaped:
            raise HardError(
                f"rule {index} must set expiration_days or transition_days+transition_storage_class"
            )
        rules.append(shaped)
    return {"LifecycleConfiguration": {"Rules": rules}}


_BLOCK_FLAGS = (
    ("block_public_acls", "BlockPublicAcls", "Block Public ACLs"),
    ("ignore_public_acls", "IgnorePublicAcls", "Ignore Public ACLs"),
    ("block_public_policy", "BlockPublicPolicy", "Block Public Policy"),
    ("restrict_public_buckets", "RestrictPublicBuckets", "Restrict Public Buckets"),
)
BLOCK_PARAMS = tuple(Param(name, label, kind="boolean") for name, _, label in _BLOCK_FLAGS)
BLOCK_RESULTS = tuple(
    Result(name, label, "PublicAccessBlockConfiguration." + field, "bool")
    for name, field, label in _BLOCK_FLAGS
)


def block_configuration(values: Values) -> dict[str, Any]:
    """``PublicAccessBlockConfiguration`` with every flag sent (a blank one is false)."""
    flags = {field: bool(values.get(name)) for name, field, _ in _BLOCK_FLAGS}
    return {"PublicAccessBlockConfiguration": flags}


def _plain_rules(reply: Any) -> list[Any]:
    """The replication rules as JSON-ready data ([] when there is no configuration)."""
    rules = (reply.get("ReplicationConfiguration") or {}).get("Rules") or []
    return [plain(rule) for rule in rules]


def _logging_status(values: Values) -> dict[str, Any]:
    """A target bucket enables logging there (prefix as given); none disables it."""
    if not values.get("target_bucket"):
        return {"BucketLoggingStatus": {}}
    enabled = {
        "TargetBucket": values["target_bucket"],
        "TargetPrefix": values.get("target_prefix", ""),
    }
    return {"BucketLoggingStatus": {"LoggingEnabled": enabled}}


def _bucket_list(reply: Any) -> Outputs:
    buckets = [
        {
            "name": str(bucket.get("Name") or ""),
            "creation_date": rfc3339(bucket.get("CreationDate")),
        }
        for bucket in reply.get("Buckets") or ()
    ]
    return {"buckets": in_order(buckets), "count": len(buckets)}


def flag(value: Any) -> str:
    """Go's ``%t``."""
    return "true" if value else "false"


def quoted(text: str) -> str:
    """Go's ``%q`` for the printable text S3 names are made of."""
    return json.dumps(text, ensure_ascii=False)


BUCKET_ROWS = (
    Operation(
        "get_bucket_cors",
        "AWS S3 Get Bucket CORS",
        "Read the cross-origin resource sharing (CORS) rules of an S3 bucket.",
        "bucket+globe",
        "get_bucket_cors",
        params=(BUCKET,),
        results=(Result("cors_rules", "CORS Rules (JSON)", "CORSRules", "json"),),
        summary=lambda values, outputs, reply: (
            f"Retrieved {len(reply.get('CORSRules') or ())} CORS rule(s) for {values['bucket']}"
        ),
    ),
    Operation(
        "put_bucket_cors",
        "AWS S3 Put Bucket CORS",
        "Set a bucket's cross-origin resource sharing rules from a JSON list.",
        "bucket+globe",
        "put_bucket_cors",
        params=(
            BUCKET,
            Param(
                "cors_rules",
                "CORS Rules (JSON array)",
                required="cors_rules JSON array is required",
                placeholder='[{"allowed_methods":["GET"],"allowed_origins":["*"],'
                '"max_age_seconds":3600}]',
            ),
        ),
        results=(Result("rule_count", "Rules Applied", render="int"),),
        request=_cors_rules,
        reply=lambda values, reply: {
            "rule_count": len(_cors_rules(values)["CORSConfiguration"]["CORSRules"])
        },
        summary="Applied {rule_count} CORS rule(s) to {bucket}",
    ),
    Operation(
        "delete_bucket_cors",
        "AWS S3 Delete Bucket CORS",
        "Remove the cross-origin resource sharing configuration from an S3 bucket.",
        "bucket+trash",
        "delete_bucket_cors",
        params=(BUCKET,),
        summary="Deleted CORS configuration from {bucket}",
    ),
    Operation(
        "get_bucket_encryption",
        "AWS S3 Get Bucket Encryption",
        "Read the default server-side encryption of an AWS S3 bucket.",
        "bucket+lock",
        "get_bucket_encryption",
        params=(BUCKET,),
        results=(
            Result("sse_algorithm", "Encryption Algorithm"),
            Result("kms_key_id", "KMS Key ID"),
        ),
        reply=_encryption_reply,
        summary="Bucket {bucket} default encryption: {sse_algorithm}",
    ),
    Operation(
        "put_bucket_encryption",
        "AWS S3 Put Bucket Encryption",
        "Set the default server-side encryption on an AWS S3 bucket.",
        "bucket+lock",
        "put_bucket_encryption",
        params=(
            BUCKET,
            Param(
                "sse_algorithm",
                "Encryption Algorithm",
                required="encryption algorithm is required",
                options=(("AES256 (SSE-S3)", "AES256"), ("aws:kms (SSE-KMS)", "aws:kms")),
            ),
            Param(
                "kms_key_id",
                "KMS Key ID (for aws:kms)",
                placeholder="arn:aws:kms:...:key/... or key id/alias",
            ),
        ),
        results=(BUCKET_ECHO, Result("sse_algorithm", "Encryption Algorithm", echo=True)),
        request=_encryption,
        summary="Set bucket {bucket} default encryption to {sse_algorithm}",
    ),
    Operation(
        "delete_bucket_encryption",
        "AWS S3 Delete Bucket Encryption",
        "Remove the default server-side encryption from an AWS S3 bucket.",
        "bucket+trash",
        "delete_bucket_encryption",
        params=(BUCKET,),
        results=(BUCKET_ECHO,),
        summary="Removed default encryption from bucket {bucket}",
    ),
    Operation(
        "get_bucket_tagging",
        "AWS S3 Get Bucket Tagging",
        "Read the tag set applied to an AWS S3 bucket.",
        "bucket+tag",
        "get_bucket_tagging",
        params=(BUCKET,),
        results=(Result("tags", "Tags (JSON object)", "TagSet", "tag_map"),),
        summary=lambda values, outputs, reply: (
            f"Retrieved {len(json.loads(outputs['tags']))} tag(s) for {values['bucket']}"
        ),
    ),
    Operation(
        "put_bucket_tagging",
        "AWS S3 Put Bucket Tagging",
        "Set (replace) the tag set on an AWS S3 bucket.",
        "bucket+tag",
        "put_bucket_tagging",
        params=(
            BUCKET,
            tags_param("Tagging.TagSet"),
        ),
        results=(Result("tag_count", "Tags Applied", render="int"),),
        reply=tag_count,
        summary="Applied {tag_count} tag(s) to {bucket}",
    ),
    Operation(
        "delete_bucket_tagging",
        "AWS S3 Delete Bucket Tagging",
        "Remove all tags from an AWS S3 bucket.",
        "bucket+trash",
        "delete_bucket_tagging",
        params=(BUCKET,),
        summary="Deleted all tags from {bucket}",
    ),
    Operation(
        "get_bucket_versioning",
        "AWS S3 Get Bucket Versioning",
        "Read the versioning state of an AWS S3 bucket.",
        "bucket+magnifying-glass",
        "get_bucket_versioning",
        params=(BUCKET,),
        results=(
            Result("status", "Versioning Status", "Status"),
            Result("mfa_delete", "MFA Delete", "MFADelete"),
        ),
        summary=lambda values, outputs, reply: (
            f"Bucket {values['bucket']} versioning is {quoted(outputs['status'])}"
            if outputs["status"]
            else f"Bucket {values['bucket']} has never been versioned"
        ),
    ),
    Operation(
        "get_bucket_location",
        "AWS S3 Get Bucket Location",
        "Get the region an AWS S3 bucket resides in.",
        "bucket+globe",
        "get_bucket_location",
        params=(BUCKET_NAME,),
        results=(Result("location", "Location"),),
        # Buckets in us-east-1 answer with no LocationConstraint.
        reply=lambda values, reply: {"location": reply.get("LocationConstraint") or "us-east-1"},
        summary="Bucket {bucket} is in {location}",
    ),
    Operation(
        "head_bucket",
        "AWS S3 Head Bucket",
        "Check whether an AWS S3 bucket exists and is accessible.",
        "bucket+magnifying-glass",
        "head_bucket",
        params=(BUCKET_NAME,),
        results=(Result("exists", "Exists", render="bool"),),
        reply=lambda values, reply: {"exists": True},
        absent=lambda values: {"exists": False},
        absent_codes=("NotFound", "NoSuchBucket", "404"),
        summary=lambda values, outputs, reply: (
            f"Bucket {values['bucket']} exists and is accessible"
            if outputs["exists"]
            else f"Bucket {values['bucket']} does not exist or is not accessible"
        ),
    ),
    Operation(
        "get_bucket_website",
        "AWS S3 Get Bucket Website",
        "Read the static-website hosting configuration of an S3 bucket.",
        "bucket+globe",
        "get_bucket_website",
        params=(BUCKET,),
        results=(
            Result("index_document", "Index Document", "IndexDocument.Suffix"),
            Result("error_document", "Error Document", "ErrorDocument.Key"),
        ),
        summary=lambda values, outputs, reply: (
            f"Website hosting for {values['bucket']}: index={quoted(outputs['index_document'])} "
            f"error={quoted(outputs['error_document'])}"
        ),
    ),
    Operation(
        "delete_bucket_website",
        "AWS S3 Delete Bucket Website",
        "Remove the static-website hosting configuration from an S3 bucket.",
        "bucket+trash",
        "delete_bucket_website",
        params=(BUCKET,),
        summary="Deleted website configuration from {bucket}",
    ),
    Operation(
        "get_bucket_lifecycle_configuration",
        "AWS S3 Get Bucket Lifecycle",
        "Read the lifecycle configuration rules of an AWS S3 bucket.",
        "bucket+clock",
        "get_bucket_lifecycle_configuration",
        params=(BUCKET,),
        results=(Result("rules", "Lifecycle Rules (JSON)", "Rules", "json"),),
        summary=lambda values, outputs, reply: (
            f"Retrieved {len(reply.get('Rules') or ())} lifecycle rule(s) for {values['bucket']}"
        ),
    ),
    Operation(
        "put_bucket_lifecycle_configuration",
        "AWS S3 Put Bucket Lifecycle",
        "Set a bucket's lifecycle rules (expiry/transition) from a curated JSON list.",
        "bucket+clock",
        "put_bucket_lifecycle_configuration",
        params=(
            BUCKET,
            Param(
                "rules",
                "Rules (JSON array)",
                required="rules JSON array is required",
                placeholder='[{"id":"expire-logs","prefix":"logs/","status":"Enabled",'
                '"expiration_days":90}]',
            ),
        ),
        results=(Result("rule_count", "Rules Applied", render="int"),),
        request=_lifecycle_rules,
        reply=lambda values, reply: {
            "rule_count": len(_lifecycle_rules(values)["LifecycleConfiguration"]["Rules"])
        },
        summary="Applied {rule_count} lifecycle rule(s) to {bucket}",
    ),
    Operation(
        "delete_bucket_lifecycle",
        "AWS S3 Delete Bucket Lifecycle",
        "Remove the lifecycle configuration from an AWS S3 bucket.",
        "bucket+trash",
        "delete_bucket_lifecycle",
        params=(BUCKET,),
        summary="Deleted lifecycle configuration from {bucket}",
    ),
    Operation(
        "get_bucket_logging",
        "AWS S3 Get Bucket Logging",
        "Read the server access logging configuration of an S3 bucket.",
        "file-lines+magnifying-glass",
        "get_bucket_logging",
        params=(BUCKET,),
        results=(
            Result("target_bucket", "Target Bucket", "LoggingEnabled.TargetBucket"),
            Result("target_prefix", "Target Prefix", "LoggingEnabled.TargetPrefix"),
            Result("enabled", "Logging Enabled", "LoggingEnabled", "bool"),
        ),
        summary=lambda values, outputs, reply: (
            f"Logging on bucket {values['bucket']} \u2192 {outputs['target_bucket']} prefix "
            f"{quoted(outputs['target_prefix'])}"
            if outputs["enabled"]
            else f"Logging disabled on bucket {values['bucket']}"
        ),
    ),
    Operation(
        "put_bucket_versioning",
        "AWS S3 Put Bucket Versioning",
        "Enable or suspend versioning on an AWS S3 bucket.",
        "bucket+clock",
        "put_bucket_versioning",
        params=(
            BUCKET,
            Param(
                "status",
                "Versioning Status",
                "VersioningConfiguration.Status",
                required="versioning status is required",
                options=(("Enabled", "Enabled"), ("Suspended", "Suspended")),
            ),
        ),
        results=(BUCKET_ECHO, Result("status", "Versioning Status", echo=True)),
        summary=lambda values, outputs, reply: (
            f"Set bucket {values['bucket']} versioning to {quoted(values['status'])}"
        ),
    ),
    Operation(
        "put_bucket_website",
        "AWS S3 Put Bucket Website",
        "Configure static-website hosting on an S3 bucket (index and error documents).",
        "bucket+globe",
        "put_bucket_website",
        params=(
            BUCKET,
            Param(
                "index_suffix",
                "Index Document",
                "WebsiteConfiguration.IndexDocument.Suffix",
                required="index document suffix is required",
                placeholder="index.html",
            ),
            Param(
                "error_key",
                "Error Document (optional)",
                "WebsiteConfiguration.ErrorDocument.Key",
                placeholder="error.html",
            ),
        ),
        summary="Configured website hosting on {bucket} (index {index_suffix})",
    ),
    Operation(
        "get_bucket_accelerate_configuration",
        "AWS S3 Get Bucket Acceleration",
        "Read the transfer acceleration state of an S3 bucket.",
        "bolt+magnifying-glass",
        "get_bucket_accelerate_configuration",
        params=(BUCKET,),
        results=(Result("status", "Acceleration Status", "Status"),),
        summary=lambda values, outputs, reply: (
            f"Transfer acceleration on bucket {values['bucket']} is {quoted(outputs['status'])}"
        ),
    ),
    Operation(
        "put_bucket_accelerate_configuration",
        "AWS S3 Put Bucket Acceleration",
        "Enable or suspend transfer acceleration on an S3 bucket.",
        "bolt+pen",
        "put_bucket_accelerate_configuration",
        params=(
            BUCKET,
            Param(
                "status",
                "Acceleration Status",
                "AccelerateConfiguration.Status",
                required="acceleration status is required",
                options=(("Enabled", "Enabled"), ("Suspended", "Suspended")),
            ),
        ),
        results=(BUCKET_ECHO, Result("status", "Acceleration Status", echo=True)),
        summary=lambda values, outputs, reply: (
            f"Set transfer acceleration on bucket {values['bucket']} to {quoted(values['status'])}"
        ),
    ),
    Operation(
        "get_bucket_request_payment",
        "AWS S3 Get Bucket Request Payment",
        "Read who pays for downloads on an S3 bucket.",
        "bucket+magnifying-glass",
        "get_bucket_request_payment",
        params=(BUCKET,),
        results=(Result("payer", "Payer", "Payer"),),
        summary="Request payment on bucket {bucket} is {payer}",
    ),
    Operation(
        "put_bucket_request_payment",
        "AWS S3 Put Bucket Request Payment",
        "Set who pays for downloads on an S3 bucket (Requester or BucketOwner).",
        "bucket+pen",
        "put_bucket_request_payment",
        params=(
            BUCKET,
            Param(
                "payer",
                "Payer",
                "RequestPaymentConfiguration.Payer",
                required="payer is required",
                options=(("Requester", "Requester"), ("Bucket Owner", "BucketOwner")),
            ),
        ),
        results=(BUCKET_ECHO, Result("payer", "Payer", echo=True)),
        summary="Set request payment on bucket {bucket} to {payer}",
        untested="moto's server takes PutBucketRequestPayment for a CreateBucket and refuses it",
    ),
    Operation(
        "list_buckets",
        "AWS S3 List Buckets",
        "List all AWS S3 buckets owned by the caller.",
        "bucket+list",
        "list_buckets",
        results=(Result("buckets", "Buckets (JSON)"), Result("count", "Count", render="int")),
        reply=lambda values, reply: _bucket_list(reply),
        summary="Found {count} bucket(s)",
    ),
    Operation(
        "get_bucket_notification_configuration",
        "AWS S3 Get Bucket Notification",
        "Read the event notification configuration of an S3 bucket.",
        "bell+magnifying-glass",
        "get_bucket_notification_configuration",
        params=(BUCKET,),
        results=(
            Result(
                "queue_configurations", "Queue Configurations (JSON)", "QueueConfigurations", "json"
            ),
            Result(
                "topic_configurations", "Topic Configurations (JSON)", "TopicConfigurations", "json"
            ),
            Result(
                "lambda_configurations",
                "Lambda Configurations (JSON)",
                "LambdaFunctionConfigurations",
                "json",
            ),
        ),
        summary=lambda values, outputs, reply: (
            f"Bucket {values['bucket']} has {len(reply.get('QueueConfigurations') or ())} queue, "
            f"{len(reply.get('TopicConfigurations') or ())} topic, "
            f"{len(reply.get('LambdaFunctionConfigurations') or ())} lambda notification(s)"
        ),
    ),
    Operation(
        "get_bucket_replication",
        "AWS S3 Get Bucket Replication",
        "Read a bucket's replication configuration, returning the IAM role and its rules.",
        "copy+magnifying-glass",
        "get_bucket_replication",
        params=(BUCKET,),
        results=(
            Result("role", "Replication IAM Role ARN", "ReplicationConfiguration.Role"),
            Result("rules", "Rules (JSON)"),
            Result("rule_count", "Rule Count", render="int"),
        ),
        reply=lambda values, reply: {
            "rules": go_json(_plain_rules(reply)),
            "rule_count": len(_plain_rules(reply)),
        },
        summary="{bucket} has {rule_count} replication rule(s)",
    ),
    Operation(
        "delete_bucket_replication",
        "AWS S3 Delete Bucket Replication",
        "Remove the replication configuration from an S3 bucket.",
        "copy+trash",
        "delete_bucket_replication",
        params=(BUCKET,),
        summary="Deleted replication configuration from {bucket}",
    ),
    Operation(
        "put_bucket_logging",
        "AWS S3 Put Bucket Logging",
        "Enable or disable S3 server access logging (empty target bucket disables it).",
        "file-lines+pen",
        "put_bucket_logging",
        params=(
            BUCKET,
            Param("target_bucket", "Target Bucket (empty to disable)", placeholder="my-log-bucket"),
            Param("target_prefix", "Target Prefix (optional)", placeholder="logs/"),
        ),
        results=(BUCKET_ECHO, Result("enabled", "Logging Enabled", render="bool")),
        request=_logging_status,
        reply=lambda values, reply: {"enabled": bool(values.get("target_bucket"))},
        summary=lambda values, outputs, reply: (
            f"Enabled logging on bucket {values['bucket']} to {values['target_bucket']}"
            if outputs["enabled"]
            else f"Disabled logging on bucket {values['bucket']}"
        ),
    ),
)
