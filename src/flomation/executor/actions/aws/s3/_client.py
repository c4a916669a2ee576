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
    "AUTH_BLOCK",
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
    """An S3 call failed; the message is the SDK's, ``code`` S3's error code (``""`` if none)."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


def text_input(ctx: ActionContext, name: str) -> str:
    """The input as text, ``""`` when missing (upstream would dereference nil and crash)."""
    return read_string(ctx.inputs, name) or ""


_AUTH_KEYS = {"field": "auth_method", "values": ["keys"]}
_AUTH_ROLE = {"field": "auth_method", "values": ["assume_role"]}

# The authentication block of upstream's newer S3 actions (flomation-co/executor:
# actions/aws/s3/head_object/action.go and its siblings).
AUTH_BLOCK = (
    Connection(
        "auth_method",
        "string",
        "Authentication",
        required=True,
        options=(
            {"name": "Access Keys", "value": "keys"},
            {"name": "Assume Role (cross-account)", "value": "assume_role"},
            {"name": "Managed Role (Credential)", "value": "credential"},
        ),
    ),
    Connection(
        "aws_access_key",
        "secret",
        "AWS Access Key",
        required=True,
        visible_when=_AUTH_KEYS,
        secret=True,
    ),
    Connection(
        "aws_secret_key",
        "secret",
        "AWS Secret Key",
        required=True,
        visible_when=_AUTH_KEYS,
        secret=True,
    ),
    Connection("aws_region", "string", "Region", placeholder=DEFAULT_REGION, required=True),
    Connection(
        "aws_session_token",
        "secret",
        "Session Token (optional)",
        visible_when=_AUTH_KEYS,
        secret=True,
    ),
    Connection(
        "assume_role_arn",
        "string",
        "Role ARN to Assume",
        placeholder="arn:aws:iam::<your-account>:role/FlomationAccess",
        required=True,
        visible_when=_AUTH_ROLE,
    ),
    Connection(
        "external_id",
        "string",
        "Assume Role External ID (optional)",
        visible_when=_AUTH_ROLE,
    ),
    Connection(
        "credential",
        "credential",
        "AWS Role Credential",
        required=True,
        visible_when={"field": "auth_method", "values": ["credential"]},
    ),
)


def s3_client(ctx: ActionContext, service: str = "s3") -> Any:
    """An S3 (or ``service``: s3control, sts) client for the node's credentials and region."""
    import boto3  # lazily: see the module docstring
    from botocore.config import Config

    access_key = text_input(ctx, "aws_access_key")
    secret_key = text_input(ctx, "aws_secret_key")
    region = text_input(ctx, "aws_region").strip() or DEFAULT_REGION
    method = text_input(ctx, "auth_method").strip() or "keys"
    config = Config(
        connect_timeout=_TIMEOUT_S, read_timeout=_TIMEOUT_S, retries={"max_attempts": 3}
    )
    credentials: dict[str, str] = {}
    if method in ("keys", "assume_role") and access_key and secret_key:
        credentials = {"aws_access_key_id": access_key, "aws_secret_access_key": secret_key}
        token = text_input(ctx, "aws_session_token")
        if token:
            credentials["aws_session_token"] = token
    if method == "credential":
        raise HardError(
            "auth_method 'credential' (a managed role credential) is not supported by this "
            "executor; use access keys or assume_role"
        )
    if method not in ("keys", "assume_role"):
        raise HardError(f"unknown auth_method {method!r}")
    session = boto3.session.Session(region_name=region, **credentials)
    if method == "assume_role":
        role_arn = text_input(ctx, "assume_role_arn").strip()
        if not role_arn:
            raise HardError("assume_role_arn is required when auth_method is assume_role")
        arguments = {"RoleArn": role_arn, "RoleSessionName": "flomation"}
        external_id = text_input(ctx, "external_id").strip()
        if external_id:
            arguments["ExternalId"] = external_id
        assumed = call(session.client("sts", config=config).assume_role, **arguments)
        granted = assumed["Credentials"]
        session = boto3.session.Session(
            region_name=region,
            aws_access_key_id=granted["AccessKeyId"],
            aws_secret_access_key=granted["SecretAccessKey"],
            aws_session_token=granted["SessionToken"],
        )
    return session.client(service, config=config)


def call(operation: Any, **arguments: Any) -> Any:
    """Run one S3 operation; SDK and connection errors become the node's hard error."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return operation(**arguments)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        raise S3Failure(str(error), code) from None
    except BotoCoreError as error:
        raise S3Failure(str(error)) from None
