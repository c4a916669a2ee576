"""``aws/s3/put``: upload text as an object.

Matches flomation-co/executor: actions/aws/s3/put/action.go (inputs ``aws_access_key``,
``aws_secret_key``, ``aws_region``, ``key``, ``bucket``, ``contents``; outputs ``bucket``,
``filename``, ``result: 0``). A blank key, or one ending in ``/``, stores the object under the
name ``upload`` (in that prefix) instead of writing an object literally called ``""``.
Upstream also accepts ``flo:file:``/``flo:blob:`` media references as contents; this executor
has no media store, so contents are always the text given.
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
    id="aws/s3/put",
    name="AWS S3 Put",
    description="Upload an object to an AWS S3 bucket",
    icon="bucket+arrow-up",
    inputs=(
        ACCESS_KEY,
        SECRET_KEY,
        REGION,
        Connection("key", "secret", "Filename", required=True),
        Connection("bucket", "string", "Bucket", required=True),
        Connection("contents", "string", "Contents", required=True),
    ),
    outputs=(
        Connection("tool_result", "string", "Result summary"),
        Connection("bucket", "string", "Bucket"),
        Connection("filename", "string", "Filename"),
        Connection("result", "integer", "Filename"),
    ),
    extra={
        "differences": [
            "contents are always text (no flo:file:/flo:blob: media references)",
            "error texts are boto3's",
        ]
    },
)


def run(ctx: ActionContext) -> Outputs:
    """``{bucket, filename, result: 0}``."""
    bucket = text_input(ctx, "bucket")
    key = text_input(ctx, "key")
    if not key or key.endswith("/"):
        key += "upload"
    body = text_input(ctx, "contents").encode("utf-8")
    client = s3_client(ctx)
    call(client.put_object, Bucket=bucket, Key=key, Body=body)
    return {"bucket": bucket, "filename": key, "result": 0}
