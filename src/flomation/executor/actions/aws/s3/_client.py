"""The S3 client shared by the ``aws/s3/*`` actions.

As upstream's shared AWS configuration (flomation-co/executor: actions/aws/s3/common.go): the
access key and secret key given on the node are used when both are set, otherwise the SDK's
default credential chain; a blank region is ``eu-west-2``. The endpoint comes from the SDK's own
``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3`` variables (S3-compatible stores, tests), which the
Go SDK honours too. boto3 is imported on first use: it costs ~0.3 s, which executions that never
touch AWS do not pay.
"""

from __future__ import annotations

from typing import Any

from flomation.executor.accessors import read_string
from flomation.executor.actions.base import ActionContext, Connection, HardError

__all__ = [
    "ACCESS_KEY",
    "DEFAULT_REGION",
    "REGION",
    "SECRET_KEY",
    "S3Failure",
    "call",
    "s3_client",
    "text_input",
]

DEFAULT_REGION = "eu-west-2"
_TIMEOUT_S = 60

ACCESS_KEY = Connection("aws_access_key", "secret", "AWS Access Key", secret=True)
SECRET_KEY = Connection("aws_secret_key", "secret", "AWS Secret Key", secret=True)
REGION = Connection("aws_region", "string", "Region", placeholder=DEFAULT_REGION)


class S3Failure(HardError):
    """An S3 call failed; the message is the SDK's."""


def text_input(ctx: ActionContext, name: str) -> str:
    """The input as text, ``""`` when missing (upstream would dereference nil and crash)."""
    return read_string(ctx.inputs, name) or ""


def s3_client(ctx: ActionContext) -> Any:
    """An S3 client for the node's credentials and region."""
    import boto3  # lazily: see the module docstring
    from botocore.config import Config

    access_key = text_input(ctx, "aws_access_key")
    secret_key = text_input(ctx, "aws_secret_key")
    region = text_input(ctx, "aws_region").strip() or DEFAULT_REGION
    credentials: dict[str, str] = {}
    if access_key and secret_key:
        credentials = {"aws_access_key_id": access_key, "aws_secret_access_key": secret_key}
    session = boto3.session.Session(region_name=region, **credentials)
    config = Config(
        connect_timeout=_TIMEOUT_S, read_timeout=_TIMEOUT_S, retries={"max_attempts": 3}
    )
    return session.client("s3", config=config)


def call(operation: Any, **arguments: Any) -> Any:
    """Run one S3 operation; SDK and connection errors become the node's hard error."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return operation(**arguments)
    except (BotoCoreError, ClientError) as error:
        raise S3Failure(str(error)) from None
