"""Table rows: objects (tags, ACL, batch delete, versions, multipart uploads, Object Lock).

Each row matches flomation-co/executor: actions/aws/s3/<name>/action.go (inputs, outputs,
required-input errors and the ``tool_result`` sentence); see ``_operations`` for the columns.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from typing import Any

from flomation.executor.actions.aws.s3._operations import (
    BUCKET,
    KEY,
    VERSION_ID,
    Operation,
    Param,
    Result,
    Values,
    in_order,
    json_list,
    rfc3339,
    tag_count,
    tags_param,
)
from flomation.executor.actions.aws.s3.get import MAX_BODY_BYTES
from flomation.executor.actions.base import HardError, Outputs

__all__ = ["OBJECT_ROWS"]

# Some actions check bucket and key together, with one message.
_BUCKET_AND = replace(BUCKET, required="bucket and key are required")
_KEY_AND = replace(KEY, required="bucket and key are required")
_LARGE_KEY = replace(KEY, placeholder="path/to/large-object")
_LOCKED_KEY = replace(KEY, required="object key is required", placeholder="path/to/object")
_UPLOAD_ID = Param("upload_id", "Upload ID", "UploadId", required="upload_id is required")
_LOCKED_VERSION = replace(VERSION_ID, placeholder="Leave blank for latest version")
_PREFIX = Param("prefix", "Prefix (optional)", "Prefix", placeholder="path/to/")


def _object_acl(values: Values, reply: Any) -> Outputs:
    owner = reply.get("Owner") or {}
    grants = []
    for grant in reply.get("Grants") or ():
        grantee = grant.get("Grantee") or {}
        named = [grantee.get(key) for key in ("DisplayName", "URI", "ID")]
        grants.append(
            {
                "grantee": next((name for name in named if name), ""),
                "grantee_type": str(grantee.get("Type") or ""),
                "permission": str(grant.get("Permission") or ""),
            }
        )
    return {
        "owner": str(owner.get("DisplayName") or owner.get("ID") or ""),
        "grants": in_order(grants),
    }


def _keys(values: Values) -> dict[str, Any]:
    keys = [part.strip() for part in values["keys"].split(",") if part.strip()]
    if not keys:
        raise HardError("at least one object key is required")
    return {"Delete": {"Objects": [{"Key": key} for key in keys]}}


def _deleted(values: Values, reply: Any) -> Outputs:
    errors = [
        {
            "key": str(error.get("Key") or ""),
            "code": str(error.get("Code") or ""),
            "message": str(error.get("Message") or ""),
        }
        for error in reply.get("Errors") or ()
    ]
    return {"deleted_count": len(reply.get("Deleted") or ()), "errors": in_order(errors)}


def _versions(values: Values, reply: Any) -> Outputs:
    versions = [
        {
            "key": str(version.get("Key") or ""),
            "version_id": str(version.get("VersionId") or ""),
            "is_latest": bool(version.get("IsLatest")),
            "size": int(version.get("Size") or 0),
            "last_modified": rfc3339(version.get("LastModified")),
        }
        for version in reply.get("Versions") or ()
    ]
    return {"versions": in_order(versions), "count": len(versions)}


def _uploads(values: Values, reply: Any) -> Outputs:
    uploads = [
        {
            "key": str(upload.get("Key") or ""),
            "upload_id": str(upload.get("UploadId") or ""),
            "initiated": rfc3339(upload.get("Initiated")),
        }
        for upload in reply.get("Uploads") or ()
    ]
    return {"uploads": in_order(uploads), "count": len(uploads)}


def _parts(values: Values, reply: Any) -> Outputs:
    parts = [
        {
            "part_number": int(part.get("PartNumber") or 0),
            "etag": str(part.get("ETag") or ""),
            "size": int(part.get("Size") or 0),
        }
        for part in reply.get("Parts") or ()
    ]
    return {"parts": in_order(parts), "count": len(parts)}


def _completed_parts(values: Values) -> dict[str, Any]:
    parsed = json_list(values["parts"], "parts", "at least one part is required")
    parts = [
        {"ETag": str(part.get("etag") or ""), "PartNumber": int(part.get("part_number") or 0)}
        for part in parsed
        if isinstance(part, dict)
    ]
    return {"MultipartUpload": {"Parts": parts}}


def _restore_request(values: Values) -> dict[str, Any]:
    if values["days"] <= 0:
        raise HardError("days must be a positive integer")
    tier = values.get("tier", "Standard")
    return {"RestoreRequest": {"Days": values["days"], "GlacierJobParameters": {"Tier": tier}}}


def _torrent(values: Values, reply: Any) -> Outputs:
    stream = reply["Body"]
    try:
        data = stream.read(MAX_BODY_BYTES + 1)
    finally:
        stream.close()
    if len(data) > MAX_BODY_BYTES:
        raise HardError(f"torrent exceeds the {MAX_BODY_BYTES >> 20} MiB limit")
    return {"torrent_base64": base64.b64encode(data).decode("ascii"), "byte_length": len(data)}


def _lock_request(values: Values) -> dict[str, Any]:
    """Object Lock always Enabled (the ``object_lock_enabled`` input is not read, as upstream);
    a default mode needs exactly one of days or years."""
    configuration: dict[str, Any] = {"ObjectLockEnabled": "Enabled"}
    mode = values.get("default_mode")
    if mode:
        days, years = values.get("default_days"), values.get("default_years")
        if days is not None and years is not None:
            raise HardError("specify either default_days or default_years, not both")
        if days is None and years is None:
            raise HardError(
                "default_days or default_years is required when a default retention mode is set"
            )
        retention = {"Mode": mode, **({"Days": days} if days is not None else {"Years": years})}
        configuration["Rule"] = {"DefaultRetention": retention}
    return {"ObjectLockConfiguration": configuration}


def _lock_configuration(values: Values, reply: Any) -> Outputs:
    configuration = reply.get("ObjectLockConfiguration") or {}
    retention = (configuration.get("Rule") or {}).get("DefaultRetention") or {}
    return {
        "object_lock_enabled": configuration.get("ObjectLockEnabled") == "Enabled",
        "default_mode": str(retention.get("Mode") or ""),
        "default_days": int(retention.get("Days") or 0),
        "default_years": int(retention.get("Years") or 0),
    }


OBJECT_ROWS = (
    Operation(
        "get_object_tagging",
        "AWS S3 Get Object Tagging",
        "Read the tag set applied to an object in AWS S3.",
        "file-lines+tag",
        "get_object_tagging",
        params=(_BUCKET_AND, _KEY_AND),
        results=(Result("tags", "Tags (JSON object)", "TagSet", "tag_map"),),
        summary=lambda values, outputs, reply: (
            f"Retrieved {len(json.loads(outputs['tags']))} tag(s) for "
            f"{values['bucket']}/{values['key']}"
        ),
    ),
    Operation(
        "delete_object_tagging",
        "AWS S3 Delete Object Tagging",
        "Remove all tags from an object in AWS S3.",
        "file-lines+trash",
        "delete_object_tagging",
        params=(_BUCKET_AND, _KEY_AND),
        summary="Deleted all tags from {bucket}/{key}",
    ),
    Operation(
        "get_object_acl",
        "AWS S3 Get Object ACL",
        "Read the access control list (owner and grants) of an S3 object.",
        "file-lines+shield-halved",
        "get_object_acl",
        params=(_BUCKET_AND, _KEY_AND),
        results=(Result("owner", "Owner"), Result("grants", "Grants (JSON)")),
        reply=_object_acl,
        summary=lambda values, outputs, reply: (
            f"{values['bucket']}/{values['key']} owned by {outputs['owner']} with "
            f"{len(json.loads(outputs['grants']))} grant(s)"
        ),
    ),
    Operation(
        "delete_objects",
        "AWS S3 Delete Objects",
        "Delete multiple objects from an AWS S3 bucket in one batch request.",
        "file-lines+trash",
        "delete_objects",
        params=(
            BUCKET,
            Param(
                "keys",
                "Object Keys",
                required="at least one object key is required",
                placeholder="a.txt, b.txt, c.txt (comma-separated)",
            ),
        ),
        results=(
            Result("deleted_count", "Objects Deleted", render="int"),
            Result("errors", "Errors (JSON)"),
        ),
        request=_keys,
        reply=_deleted,
        summary=lambda values, outputs, reply: (
            f"Deleted {outputs['deleted_count']} object(s) from {values['bucket']} "
            f"({len(json.loads(outputs['errors']))} error(s))"
        ),
    ),
    Operation(
        "list_object_versions",
        "AWS S3 List Object Versions",
        "List object versions in a versioning-enabled S3 bucket, optionally by prefix.",
        "file-lines+clock",
        "list_object_versions",
        params=(BUCKET, _PREFIX),
        results=(
            Result("versions", "Versions (JSON)"),
            Result("count", "Version Count", render="int"),
        ),
        reply=_versions,
        summary="Found {count} object version(s) in {bucket}",
    ),
    Operation(
        "list_multipart_uploads",
        "AWS S3 List Multipart Uploads",
        "List in-progress multipart uploads in an S3 bucket.",
        "layer-group+list",
        "list_multipart_uploads",
        params=(BUCKET, replace(_PREFIX, label="Key Prefix (optional)")),
        results=(Result("uploads", "Uploads (JSON)"), Result("count", "Count", render="int")),
        reply=_uploads,
        summary="Found {count} in-progress multipart upload(s) in {bucket}",
    ),
    Operation(
        "create_multipart_upload",
        "AWS S3 Create Multipart Upload",
        "Initiate an S3 multipart upload and return an upload ID for the parts.",
        "layer-group+plus",
        "create_multipart_upload",
        params=(
            BUCKET,
            _LARGE_KEY,
            Param(
                "content_type",
                "Content Type (optional)",
                "ContentType",
                placeholder="application/octet-stream",
            ),
        ),
        results=(
            Result("upload_id", "Upload ID", "UploadId"),
            Result("bucket", "Bucket", echo=True),
            Result("key", "Object Key", echo=True),
        ),
        summary="Initiated multipart upload for {bucket}/{key} (upload id {upload_id})",
    ),
    Operation(
        "list_parts",
        "AWS S3 List Parts",
        "List the parts already uploaded for an S3 multipart upload.",
        "layer-group+magnifying-glass",
        "list_parts",
        params=(BUCKET, _LARGE_KEY, _UPLOAD_ID),
        results=(Result("parts", "Parts (JSON)"), Result("count", "Count", render="int")),
        reply=_parts,
        summary="Found {count} uploaded part(s) for {bucket}/{key}",
    ),
    Operation(
        "complete_multipart_upload",
        "AWS S3 Complete Multipart Upload",
        "Complete an S3 multipart upload from a JSON list of part ETags.",
        "layer-group+circle-check",
        "complete_multipart_upload",
        params=(
            BUCKET,
            _LARGE_KEY,
            _UPLOAD_ID,
            Param(
                "parts",
                "Parts (JSON array)",
                required="parts JSON array is required",
                placeholder='[{"etag":"\\"abc123\\"","part_number":1}]',
            ),
        ),
        results=(
            Result("location", "Location", "Location"),
            Result("etag", "ETag", "ETag"),
            Result("version_id", "Version ID", "VersionId"),
        ),
        request=_completed_parts,
        summary=lambda values, outputs, reply: (
            f"Completed multipart upload of {values['bucket']}/{values['key']} from "
            f"{len(_completed_parts(values)['MultipartUpload']['Parts'])} part(s)"
        ),
    ),
    Operation(
        "abort_multipart_upload",
        "AWS S3 Abort Multipart Upload",
        "Abort an in-progress S3 multipart upload and discard its parts.",
        "layer-group+trash",
        "abort_multipart_upload",
        params=(BUCKET, _LARGE_KEY, _UPLOAD_ID),
        summary="Aborted multipart upload {upload_id} for {bucket}/{key}",
    ),
    Operation(
        "get_object_legal_hold",
        "AWS S3 Get Object Legal Hold",
        "Read the legal hold status of an AWS S3 object version.",
        "lock+magnifying-glass",
        "get_object_legal_hold",
        params=(BUCKET, _LOCKED_KEY, _LOCKED_VERSION),
        results=(Result("status", "Legal Hold Status", "LegalHold.Status"),),
        summary="Legal hold on {bucket}/{key}: {status}",
    ),
    Operation(
        "get_object_retention",
        "AWS S3 Get Object Retention",
        "Read the WORM retention mode and retain-until date of an AWS S3 object.",
        "lock+clock",
        "get_object_retention",
        params=(BUCKET, _LOCKED_KEY, _LOCKED_VERSION),
        results=(
            Result("mode", "Retention Mode", "Retention.Mode"),
            Result("retain_until", "Retain Until", "Retention.RetainUntilDate", "time"),
        ),
        summary="Retention on {bucket}/{key}: {mode} until {retain_until}",
        untested="moto's server answers GetObjectRetention with 500 Internal Server Error",
    ),
    Operation(
        "get_object_lock_configuration",
        "AWS S3 Get Object Lock Configuration",
        "Read the Object Lock and default WORM retention of an AWS S3 bucket.",
        "lock+magnifying-glass",
        "get_object_lock_configuration",
        params=(BUCKET,),
        results=(
            Result("object_lock_enabled", "Object Lock Enabled", render="bool"),
            Result("default_mode", "Default Retention Mode"),
            Result("default_days", "Default Retention Days", render="int"),
            Result("default_years", "Default Retention Years", render="int"),
        ),
        reply=_lock_configuration,
        summary=lambda values, outputs, reply: (
            f"Bucket {values['bucket']} Object Lock enabled: "
            f"{'true' if outputs['object_lock_enabled'] else 'false'}"
        ),
    ),
    Operation(
        "put_object_tagging",
        "AWS S3 Put Object Tagging",
        "Set (replace) the tag set on an object in AWS S3.",
        "file-lines+tag",
        "put_object_tagging",
        params=(
            _BUCKET_AND,
            _KEY_AND,
            tags_param("Tagging.TagSet"),
        ),
        results=(Result("tag_count", "Tags Applied", render="int"),),
        reply=tag_count,
        summary="Applied {tag_count} tag(s) to {bucket}/{key}",
    ),
    Operation(
        "put_object_acl",
        "AWS S3 Put Object ACL",
        "Apply a canned access control list (e.g. private, public-read) to an S3 object.",
        "file-lines+shield-halved",
        "put_object_acl",
        params=(
            _BUCKET_AND,
            _KEY_AND,
            Param(
                "acl",
                "Canned ACL",
                "ACL",
                required="a canned ACL is required",
                options=(
                    ("Private", "private"),
                    ("Public Read", "public-read"),
                    ("Public Read/Write", "public-read-write"),
                    ("Authenticated Read", "authenticated-read"),
                    ("AWS Exec Read", "aws-exec-read"),
                    ("Bucket Owner Read", "bucket-owner-read"),
                    ("Bucket Owner Full Control", "bucket-owner-full-control"),
                ),
            ),
        ),
        summary=lambda values, outputs, reply: (
            f"Applied ACL {json.dumps(values['acl'])} to {values['bucket']}/{values['key']}"
        ),
    ),
    Operation(
        "put_object_legal_hold",
        "AWS S3 Put Object Legal Hold",
        "Place or remove a legal hold on an AWS S3 object version.",
        "lock+circle-check",
        "put_object_legal_hold",
        params=(
            BUCKET,
            _LOCKED_KEY,
            Param(
                "status",
                "Legal Hold Status",
                "LegalHold.Status",
                required="legal hold status is required",
                options=(("On", "ON"), ("Off", "OFF")),
            ),
            _LOCKED_VERSION,
        ),
        results=(
            Result("bucket", "Bucket", echo=True),
            Result("key", "Object Key", echo=True),
            Result("status", "Legal Hold Status", echo=True),
        ),
        summary="Set legal hold {status} on {bucket}/{key}",
    ),
    Operation(
        "put_object_lock_configuration",
        "AWS S3 Put Object Lock Configuration",
        "Enable Object Lock and set default WORM retention on an AWS S3 bucket.",
        "lock+pen",
        "put_object_lock_configuration",
        params=(
            BUCKET,
            Param("object_lock_enabled", "Object Lock Enabled", kind="boolean"),
            Param(
                "default_mode",
                "Default Retention Mode (optional)",
                options=(("Governance", "GOVERNANCE"), ("Compliance", "COMPLIANCE")),
            ),
            Param(
                "default_days",
                "Default Retention Days (optional)",
                kind="integer",
                placeholder="30",
            ),
            Param(
                "default_years",
                "Default Retention Years (optional)",
                kind="integer",
                placeholder="1",
            ),
        ),
        results=(Result("bucket", "Bucket", echo=True),),
        request=_lock_request,
        summary=lambda values, outputs, reply: (
            f"Object Lock enabled on bucket {values['bucket']}"
            + (
                f" with default {values['default_mode']} retention"
                if values.get("default_mode")
                else ""
            )
        ),
    ),
    Operation(
        "get_object_attributes",
        "AWS S3 Get Object Attributes",
        "Retrieve an S3 object's ETag, storage class and size without downloading the body.",
        "file-lines+circle-info",
        "get_object_attributes",
        params=(_BUCKET_AND, _KEY_AND, Param("version_id", "Version ID (optional)", "VersionId")),
        results=(
            Result("etag", "ETag", "ETag"),
            Result("storage_class", "Storage Class", "StorageClass"),
            Result("object_size", "Object Size", "ObjectSize", "int"),
            Result("last_modified", "Last Modified", "LastModified", "time"),
        ),
        request=lambda values: {"ObjectAttributes": ["ETag", "StorageClass", "ObjectSize"]},
        summary="{bucket}/{key}: {object_size} bytes, storage class {storage_class}",
    ),
    Operation(
        "upload_part",
        "AWS S3 Upload Part",
        "Upload one part of an S3 multipart upload and return its ETag.",
        "layer-group+arrow-up",
        "upload_part",
        params=(
            BUCKET,
            _LARGE_KEY,
            _UPLOAD_ID,
            Param(
                "part_number",
                "Part Number",
                "PartNumber",
                kind="integer",
                required="part_number is required",
                placeholder="1",
            ),
            Param(
                "content",
                "Part Contents",
                required="content is required",
                placeholder="Inline text, or a file/blob reference",
            ),
        ),
        results=(Result("etag", "ETag", "ETag"), Result("part_number", "Part Number", echo=True)),
        request=lambda values: {"Body": values["content"].encode("utf-8")},
        summary=lambda values, outputs, reply: (
            f"Uploaded part {values['part_number']} ({len(values['content'].encode('utf-8'))} "
            f"bytes) with ETag {outputs['etag']}"
        ),
        differences=("content is sent as text (flo:file:/flo:blob: references are not resolved)",),
    ),
    Operation(
        "restore_object",
        "AWS S3 Restore Object",
        "Initiate retrieval of an archived (Glacier) object for a number of days.",
        "bucket+arrow-up",
        "restore_object",
        params=(
            _BUCKET_AND,
            replace(_KEY_AND, placeholder="path/to/archive.zip"),
            Param(
                "days",
                "Days to Retain Copy",
                kind="integer",
                required="days must be a positive integer",
                placeholder="7",
            ),
            Param(
                "tier",
                "Retrieval Tier",
                options=(("Standard", "Standard"), ("Bulk", "Bulk"), ("Expedited", "Expedited")),
            ),
        ),
        request=_restore_request,
        summary=lambda values, outputs, reply: (
            f"Requested {values.get('tier', 'Standard')} restore of {values['bucket']}/"
            f"{values['key']} for {values['days']} day(s)"
        ),
    ),
    Operation(
        "upload_part_copy",
        "AWS S3 Upload Part Copy",
        "Upload a multipart part by copying from an existing S3 object.",
        "layer-group+copy",
        "upload_part_copy",
        params=(
            replace(BUCKET, label="Destination Bucket"),
            replace(_LARGE_KEY, label="Destination Object Key"),
            _UPLOAD_ID,
            Param(
                "part_number",
                "Part Number",
                "PartNumber",
                kind="integer",
                required="part_number is required",
                placeholder="1",
            ),
            Param(
                "copy_source",
                "Copy Source",
                "CopySource",
                required="copy_source is required",
                placeholder="source-bucket/source-key",
            ),
        ),
        results=(
            Result("etag", "ETag", "CopyPartResult.ETag"),
            Result("part_number", "Part Number", echo=True),
        ),
        summary="Copied part {part_number} from {copy_source} with ETag {etag}",
    ),
    Operation(
        "get_object_torrent",
        "AWS S3 Get Object Torrent",
        "Retrieve the BitTorrent .torrent file for an S3 object, base64-encoded.",
        "arrow-down+file-lines",
        "get_object_torrent",
        params=(_BUCKET_AND, _KEY_AND),
        results=(
            Result("torrent_base64", "Torrent (base64)"),
            Result("byte_length", "Byte Length", render="int"),
        ),
        reply=_torrent,
        summary="Retrieved torrent for {bucket}/{key} ({byte_length} bytes)",
        differences=("torrents over 32 MiB are refused",),
    ),
)
