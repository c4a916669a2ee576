"""``output/slack_webhook``: send a message to a Slack channel through an incoming webhook.

Matches flomation-co/executor: actions/output/slack_webhook/action.go: the payload is
``{text, mrkdwn: true}`` plus ``username``/``icon_emoji`` when given and ``blocks``/``attachments``
when they parse as JSON arrays (otherwise a warning is logged and they are left out). A
transport failure is a soft failure (``success: false`` with the error); success means HTTP 200.
"""

from __future__ import annotations

import json
from typing import Any

from flomation.executor.accessors import read_string
from flomation.executor.actions.base import (
    ActionContext,
    ActionSpec,
    Connection,
    HardError,
    Outputs,
)
from flomation.executor.actions.output._webhook import post_json, require_https
from flomation.executor.actions.web._transfer import TransferError

__all__ = ["SPEC", "run"]

SPEC = ActionSpec(
    id="output/slack_webhook",
    name="Slack Webhook",
    description=(
        "Send a message to a Slack channel via webhook with mrkdwn formatting and optional "
        "Block Kit layouts"
    ),
    icon="hashtag",
    inputs=(
        Connection(
            "webhook_url",
            "string",
            "Webhook URL",
            placeholder="https://hooks.slack.com/services/...",
            required=True,
        ),
        Connection(
            "message",
            "text",
            "Message",
            placeholder="Hello from Flomation! Use *bold*, _italic_, `code`",
            required=True,
        ),
        Connection("username", "string", "Username Override", placeholder="Flomation Bot"),
        Connection("icon_emoji", "string", "Icon Emoji", placeholder=":robot_face:"),
        Connection(
            "blocks",
            "text",
            "Block Kit JSON",
            placeholder='[{"type":"section","text":{"type":"mrkdwn","text":"*Rich* message"}}]',
        ),
        Connection(
            "attachments",
            "text",
            "Attachments JSON",
            placeholder='[{"color":"#36a64f","text":"Attachment text"}]',
        ),
    ),
    outputs=(
        Connection("status_code", "integer"),
        Connection("success", "boolean"),
        Connection("error", "string", "Error"),
    ),
    extra={
        "differences": [
            "the POST is bounded by a 60 s timeout (upstream: none)",
        ]
    },
)


def _json_array(ctx: ActionContext, name: str, warning: str) -> tuple[bool, Any]:
    """(True, value) when the input holds a JSON array (or null); logs ``warning`` otherwise."""
    text = (read_string(ctx.inputs, name) or "").strip()
    if not text:
        return False, None
    try:
        value = json.loads(text)
    except ValueError as error:
        ctx.log("warning", warning, error=str(error))
        return False, None
    if value is not None and not isinstance(value, list):
        ctx.log("warning", warning, error=f"{name} is not a JSON array")
        return False, None
    return True, value


def run(ctx: ActionContext) -> Outputs:
    """Post the message; ``{status_code, success, error}``."""
    url = read_string(ctx.inputs, "webhook_url")
    if not url:
        raise HardError("webhook_url is required")
    require_https(url)
    message = read_string(ctx.inputs, "message")
    if not message:
        raise HardError("message is required")
    payload: dict[str, Any] = {"text": message, "mrkdwn": True}
    for name in ("username", "icon_emoji"):
        value = read_string(ctx.inputs, name)
        if value:
            payload[name] = value
    found, blocks = _json_array(
        ctx, "blocks", "failed to parse blocks JSON — sending as plain text"
    )
    if found:
        payload["blocks"] = blocks
    found, attachments = _json_array(
        ctx, "attachments", "failed to parse attachments JSON — skipping"
    )
    if found:
        payload["attachments"] = attachments
    try:
        response = post_json(url, payload, ctx.cancel_event)
    except TransferError as error:
        return {"status_code": 0, "success": False, "error": str(error)}
    return {"status_code": response.status, "success": response.status == 200, "error": ""}
