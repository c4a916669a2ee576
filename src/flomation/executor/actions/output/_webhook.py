"""Posting a JSON payload to a chat service's incoming webhook (Slack, Discord).

Both upstream actions (flomation-co/executor: actions/output/slack_webhook/action.go,
actions/output/discord_webhook/action.go) accept only ``https://`` URLs and send the payload with
Go's ``http.Post``: ``Content-Type: application/json``, Go's default User-Agent, the body encoded
by ``encoding/json`` (sorted keys, HTML characters escaped). Upstream sets no timeout; ours is
bounded (see ``WEBHOOK_TIMEOUT_S``) so a silent peer cannot hold the execution forever.
"""

from __future__ import annotations

import threading
from typing import Any

from flomation.executor.actions.base import HardError
from flomation.executor.actions.web._transfer import Response, transfer
from flomation.executor.gojson import go_json

__all__ = ["WEBHOOK_TIMEOUT_S", "post_json", "require_https"]

WEBHOOK_TIMEOUT_S = 60
# The reply body is discarded (upstream drains it); read at most this much of it.
_MAX_REPLY_BYTES = 64 * 1024
_GO_USER_AGENT = "Go-http-client/1.1"


def require_https(url: str) -> None:
    """Upstream refuses anything but ``https://`` before sending."""
    if not url.startswith("https://"):
        raise HardError("webhook URL must use HTTPS")


def post_json(url: str, payload: dict[str, Any], cancel_event: threading.Event) -> Response:
    """POST ``payload`` as Go-JSON; TransferError on a transport failure."""
    return transfer(
        "POST",
        url,
        headers={"Content-Type": "application/json", "User-Agent": _GO_USER_AGENT},
        body=go_json(payload).encode("utf-8"),
        timeout_s=WEBHOOK_TIMEOUT_S,
        max_body_bytes=_MAX_REPLY_BYTES,
        cancel_event=cancel_event,
    )
