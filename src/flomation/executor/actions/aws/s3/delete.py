"""``aws/s3/delete``: delete one object.

Matches flomation-co/executor: actions/aws/s3/delete/action.go (inputs ``aws_access_key``,
``aws_secret_key``, ``aws_region``, ``key``, ``bucket``; outputs ``bucket``, ``filename``,
``result: 0``). As S3 itself, deleting a key that does not exist succeeds.
"""

from __future__ import annotations

from flomation.executor.actions.aws.s3._client import (
    ACCESS_KEY,
    REGION,
    SECRET_KEY,
    call,
    s3_client,
    text_input,
)
from flomation.executor.actions.base import ActionContext, ActionSpec, Connection, Outputs

__all__ = ["SPEC", "run"]

SPEC = ActionSpec(
    id="aws/s3/delete",
    name="AWS S3 Delete",
    description="Delete an object from an AWS S3 bucket",
    icon="bucket+trash",
    inputs=(
        ACCESS_KEY,
        SECRET_KEY,
        REGION,
        Connection("key", "secret", "Filename"),
        Connection("bucket", "string", "Bucket"),
    ),
    outputs=(
        Connection("tool_result", "string", "Result summary"),
        Connection("bucket", "string", "Bucket"),
        Connection("filename", "string", "Filename"),
        Connection("result", "integer", "Filename"),
    ),
    extra={"differences": ["error texts are boto3's"]},
)


def run(ctx: ActionContext) -> Outputs:
    """``{bucket, filename, result: 0}``."""
    bucket, key = text_input(ctx, "bucket"), text_input(ctx, "key")
    client = s3_client(ctx)
    call(client.delete_object, Bucket=bucket, Key=key)
    return {"bucket": bucket, "filename": key, "result": 0}
