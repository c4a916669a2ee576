"""``aws/s3/head_object``: an object's metadata without its body (flomation-co/executor:
actions/aws/s3/head_object/action.go): ``{tool_result, content_length, content_type, etag,
last_modified, version_id}``; ``bucket and key are required``."""

from __future__ import annotations

from datetime import UTC

from flomation.executor.actions.aws.s3._client import AUTH_BLOCK, call, s3_client, text_input
from flomation.executor.actions.base import (
    ActionContext,
    ActionSpec,
    Connection,
    HardError,
    Outputs,
)

__all__ = ["SPEC", "run"]

SPEC = ActionSpec(
    id="aws/s3/head_object",
    name="AWS S3 Head Object",
    description="Retrieve an object's metadata (size, type, ETag) without downloading it.",
    icon="file-lines+magnifying-glass",
    inputs=(
        *AUTH_BLOCK,
        Connection("bucket", "string", "Bucket", placeholder="my-bucket", required=True),
        Connection("key", "string", "Object Key", placeholder="path/to/object.txt", required=True),
    ),
    outputs=(
        Connection("tool_result", "string", "Result summary"),
        Connection("content_length", "integer", "Content Length"),
        Connection("content_type", "string", "Content Type"),
        Connection("etag", "string", "ETag"),
        Connection("last_modified", "string", "Last Modified"),
        Connection("version_id", "string", "Version ID"),
    ),
    extra={"differences": ["auth_method 'credential' is refused", "error texts are boto3's"]},
)


def run(ctx: ActionContext) -> Outputs:
    """The object's metadata."""
    bucket, key = text_input(ctx, "bucket"), text_input(ctx, "key")
    if not bucket or not key:
        raise HardError("bucket and key are required")
    result = call(s3_client(ctx).head_object, Bucket=bucket, Key=key)
    modified = result.get("LastModified")
    length = int(result.get("ContentLength") or 0)
    content_type = str(result.get("ContentType") or "")
    return {
        "tool_result": f"{bucket}/{key}: {length} bytes, {content_type}",
        "content_length": length,
        "content_type": content_type,
        "etag": str(result.get("ETag") or ""),
        "last_modified": modified.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if modified is not None
        else "",
        "version_id": str(result.get("VersionId") or ""),
    }
