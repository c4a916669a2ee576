"""``aws/s3/copy_object``: copy an object to a destination bucket and key (flomation-co/executor:
actions/aws/s3/copy_object/action.go): ``copy_source`` is ``source-bucket/source-key``;
``{tool_result, etag}``."""

from __future__ import annotations

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
    id="aws/s3/copy_object",
    name="AWS S3 Copy Object",
    description="Copy an object to a destination bucket and key within AWS S3.",
    icon="file-lines+copy",
    inputs=(
        *AUTH_BLOCK,
        Connection(
            "bucket", "string", "Destination Bucket", placeholder="my-bucket", required=True
        ),
        Connection(
            "key", "string", "Destination Key", placeholder="path/to/destination.txt", required=True
        ),
        Connection(
            "copy_source",
            "string",
            "Copy Source",
            placeholder="source-bucket/source-key.txt",
            required=True,
        ),
    ),
    outputs=(
        Connection("tool_result", "string", "Result summary"),
        Connection("etag", "string", "ETag"),
    ),
    extra={"differences": ["auth_method 'credential' is refused", "error texts are boto3's"]},
)


def run(ctx: ActionContext) -> Outputs:
    """``{tool_result, etag}``."""
    bucket, key = text_input(ctx, "bucket"), text_input(ctx, "key")
    source = text_input(ctx, "copy_source")
    if not bucket or not key:
        raise HardError("destination bucket and key are required")
    if not source:
        raise HardError("copy_source (source-bucket/source-key) is required")
    result = call(s3_client(ctx).copy_object, Bucket=bucket, Key=key, CopySource=source)
    etag = str((result.get("CopyObjectResult") or {}).get("ETag") or "")
    return {"tool_result": f"Copied {source} to {bucket}/{key}", "etag": etag}
