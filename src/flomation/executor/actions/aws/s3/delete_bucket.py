"""``aws/s3/delete_bucket``: delete an (empty) bucket (flomation-co/executor:
actions/aws/s3/delete_bucket/action.go): ``{tool_result, bucket}``."""

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
    id="aws/s3/delete_bucket",
    name="AWS S3 Delete Bucket",
    description="Delete an empty AWS S3 bucket.",
    icon="bucket+trash",
    inputs=(
        *AUTH_BLOCK,
        Connection("bucket", "string", "Bucket Name", placeholder="my-bucket", required=True),
    ),
    outputs=(
        Connection("tool_result", "string", "Result summary"),
        Connection("bucket", "string", "Bucket"),
    ),
    extra={"differences": ["auth_method 'credential' is refused", "error texts are boto3's"]},
)


def run(ctx: ActionContext) -> Outputs:
    """``{tool_result, bucket}``."""
    bucket = text_input(ctx, "bucket")
    if not bucket:
        raise HardError("bucket is required")
    call(s3_client(ctx).delete_bucket, Bucket=bucket)
    return {"tool_result": f"Deleted bucket {bucket}", "bucket": bucket}
