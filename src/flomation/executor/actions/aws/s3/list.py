"""``aws/s3/list``: list the account's buckets (names only).

Matches flomation-co/executor: actions/aws/s3/list/action.go, which despite its description
lists buckets (``ListBuckets`` filtered by ``BucketRegion``): inputs ``aws_access_key``,
``aws_secret_key``, ``aws_region``; outputs ``buckets`` (null when there are none, as Go's nil
slice) and ``result: 0``. A blank region is eu-west-2 (upstream passed it through unchecked).
"""

from __future__ import annotations

from flomation.executor.actions.aws.s3._client import (
    ACCESS_KEY,
    DEFAULT_REGION,
    SECRET_KEY,
    call,
    s3_client,
    text_input,
)
from flomation.executor.actions.base import ActionContext, ActionSpec, Connection, Outputs

__all__ = ["SPEC", "run"]

SPEC = ActionSpec(
    id="aws/s3/list",
    name="AWS S3 List Buckets",
    description="List objects in an AWS S3 bucket with optional prefix filter",
    icon="bucket+list",
    inputs=(ACCESS_KEY, SECRET_KEY, Connection("aws_region", "secret", "AWS Region")),
    outputs=(
        Connection("tool_result", "string", "Result summary"),
        Connection("buckets", "object", "Buckets"),
        Connection("result", "integer", "Filename"),
    ),
    extra={"differences": ["a blank region is eu-west-2", "error texts are boto3's"]},
)


def run(ctx: ActionContext) -> Outputs:
    """``{buckets, result: 0}``."""
    region = text_input(ctx, "aws_region").strip() or DEFAULT_REGION
    client = s3_client(ctx)
    result = call(client.list_buckets, BucketRegion=region)
    names = [bucket["Name"] for bucket in result.get("Buckets", [])]
    return {"buckets": names or None, "result": 0}
