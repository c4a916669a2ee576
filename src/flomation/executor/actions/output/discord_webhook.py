"""``output/discord_webhook``: send a message to a Discord channel through a webhook.

Matches flomation-co/executor: actions/output/discord_webhook/action.go: the payload is
``{content}`` plus ``username``/``avatar_url`` when given; a transport failure is a hard error
``failed to send webhook: ...``; success means any 2xx status (Discord answers 204).
"""

from __future__ import annotations

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
    id="output/discord_webhook",
    name="Discord Webhook",
    description="Send a message to a Discord channel via webhook",
    icon="comment-dots",
    inputs=(
        Connection(
            "webhook_url",
            "string",
            "Webhook URL",
            placeholder="https://discord.com/api/webhooks/...",
            required=True,
        ),
        Connection(
            "content", "text", "Message Content", placeholder="Hello from Flomation!", required=True
        ),
        Connection("username", "string", "Username Override", placeholder="Flomation Bot"),
        Connection(
            "avatar_url", "string", "Avatar URL", placeholder="https://example.com/avatar.png"
        ),
    ),
    outputs=(
        Connection("status_code", "integer"),
        Connection("success", "boolean"),
    ),
    extra={
        "differences": [
            "the POST is bounded by a 60 s timeout (upstream: none)",
        ]
    },
)


def run(ctx: ActionContext) -> Outputs:
    """Post the message; ``{status_code, success}``."""
    url = read_string(ctx.inputs, "webhook_url")
    if not url:
        raise HardError("webhook_url is required")
    require_https(url)
    content = read_string(ctx.inputs, "content")
    if not content:
        raise HardError("content is required")
    payload: dict[str, Any] = {"content": content}
    for name in ("username", "avatar_url"):
        value = read_string(ctx.inputs, name)
        if value:
            payload[name] = value
    try:
        response = post_json(url, payload, ctx.cancel_event)
    except TransferError as error:
        raise HardError(f"failed to send webhook: {error}") from None
    return {"status_code": response.status, "success": 200 <= response.status < 300}
