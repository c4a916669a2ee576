"""``aws/s3/create_bucket``: create a bucket in the region (flomation-co/executor:
actions/aws/s3/create_bucket/action.go): no LocationConstraint for us-east-1;
``{tool_result, bucket, location}``."""

from __future__ import annotations

from typing import Any

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
    id="aws/s3/create_bucket",
    name="AWS S3 Create Bucket",
    description="Create a new AWS S3 bucket in the given region.",
    icon="bucket+plus",
    inputs=(
        *AUTH_BLOCK,
        Connection(
            "bucket", "string", "Bucket Name", placeholder="my-unique-bucket-name", required=True
        ),
    ),
    outputs=(
        Connection("tool_result", "string", "Result summary"),
        Connection("bucket", "string", "Bucket"),
        Connection("location", "string", "Location"),
    ),
    extra={
        "differences": [
            "auth_method 'credential' is refused",
            "a blank region is eu-west-2",
            "error texts are boto3's",
        ]
    },
)


def run(ctx: ActionContext) -> Outputs:
    """``{tool_result, bucket, location}``."""
    bucket = text_input(ctx, "bucket")
    if not bucket:
        raise HardError("bucket is required")
    region = text_input(ctx, "aws_region").strip()
    arguments: dict[str, Any] = {"Bucket": bucket}
    if region and region != "us-east-1":
        arguments["CreateBucketConfiguration"] = {"LocationConstraint": region}
    result = call(s3_client(ctx).create_bucket, **arguments)
    return {
        "tool_result": f"Created bucket {bucket}",
        "bucket": bucket,
        "location": str(result.get("Location") or ""),
    }
