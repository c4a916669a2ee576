"""``aws/s3/get``: download an object and return its body as text.

Matches flomation-co/executor: actions/aws/s3/get/action.go (inputs ``aws_access_key``,
``aws_secret_key``, ``key``, ``bucket``; outputs ``body``, ``bucket``, ``filename``,
``content_type``) with the region input upstream's newer S3 actions have (blank: eu-west-2).
Bodies over 32 MiB are refused (upstream reads any size into memory).
"""

from __future__ import annotations

from flomation.executor.actions.aws.s3._client import (
    ACCESS_KEY,
    REGION,
    SECRET_KEY,
    S3Failure,
    call,
    s3_client,
    text_input,
)
from flomation.executor.actions.base import ActionContext, ActionSpec, Connection, Outputs

__all__ = ["MAX_BODY_BYTES", "SPEC", "run"]

MAX_BODY_BYTES = 32 << 20

SPEC = ActionSpec(
    id="aws/s3/get",
    name="AWS S3 Get Object",
    description="Download an object from an AWS S3 bucket",
    icon="bucket+arrow-down",
    inputs=(
        ACCESS_KEY,
        SECRET_KEY,
        REGION,
        Connection("key", "string", "Filename"),
        Connection("bucket", "string", "Bucket"),
    ),
    outputs=(
        Connection("tool_result", "string", "Result summary"),
        Connection("body", "string", "Body"),
        Connection("bucket", "string", "Bucket"),
        Connection("filename", "string", "Filename"),
        Connection("content_type", "string", "Content Type"),
    ),
    extra={
        "differences": [
            "aws_region input as upstream's newer S3 actions (blank: eu-west-2)",
            "bodies over 32 MiB are refused",
            "error texts are boto3's",
        ]
    },
)


def run(ctx: ActionContext) -> Outputs:
    """``{body, bucket, content_type, filename}``."""
    bucket, key = text_input(ctx, "bucket"), text_input(ctx, "key")
    client = s3_client(ctx)
    result = call(client.get_object, Bucket=bucket, Key=key)
    stream = result["Body"]
    try:
        data = stream.read(MAX_BODY_BYTES + 1)
    finally:
        stream.close()
    if len(data) > MAX_BODY_BYTES:
        raise S3Failure(f"object exceeds the {MAX_BODY_BYTES >> 20} MiB limit")
    return {
        "body": data.decode("utf-8", "replace"),
        "bucket": bucket,
        "content_type": result.get("ContentType") or "",
        "filename": key,
    }
