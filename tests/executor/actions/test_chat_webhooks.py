"""output/slack_webhook and output/discord_webhook against a local HTTPS server (127.0.0.1).

The server presents a certificate from a CA made for the test; the actions verify it like any
other (``SSL_CERT_FILE``). Payload shapes are the ones Slack's and Discord's incoming-webhook
documentation describe, as upstream builds them (flomation-co/executor:
actions/output/slack_webhook/action.go, actions/output/discord_webhook/action.go).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fixtures.authority import LocalAuthority
from fixtures.http_peer import Recorded, Reply, http_peer
from flomation.executor.actions.base import HardError
from flomation.executor.actions.output import discord_webhook, slack_webhook

MakeContext = Callable[..., Any]


@pytest.fixture
def authority(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalAuthority:
    """A trusted local CA."""
    local = LocalAuthority(tmp_path)
    local.trust(monkeypatch)
    return local


def _ok(status: int) -> Callable[[Recorded], Reply]:
    return lambda _request: (status, {"Content-Type": "text/plain"}, b"ok")


def test_slack_payload_shape(make_ctx: MakeContext, authority: LocalAuthority) -> None:
    """Slack gets {text, mrkdwn, username, icon_emoji, blocks, attachments} as JSON over HTTPS."""
    with http_peer(_ok(200), tls=authority.issue().server_context()) as peer:
        ctx = make_ctx(
            ("webhook_url", "string", f"{peer.url}/services/T/B/X"),
            ("message", "text", "Deploy <done> & *ok*"),
            ("username", "string", "Flo"),
            ("icon_emoji", "string", ":robot_face:"),
            ("blocks", "text", ' [{"type":"section","text":{"type":"mrkdwn","text":"*hi*"}}] '),
            ("attachments", "text", '[{"color":"#36a64f","text":"a"}]'),
        )
        out = slack_webhook.run(ctx)
    assert out == {"status_code": 200, "success": True, "error": ""}
    (request,) = peer.requests
    assert request.method == "POST" and request.path == "/services/T/B/X"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == "Go-http-client/1.1"
    assert request.json() == {
        "text": "Deploy <done> & *ok*",
        "mrkdwn": True,
        "username": "Flo",
        "icon_emoji": ":robot_face:",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}],
        "attachments": [{"color": "#36a64f", "text": "a"}],
    }
    assert b"\\u003cdone\\u003e \\u0026" in request.body  # Go's encoding/json escaping


def test_slack_bad_blocks_are_left_out_with_a_warning(
    make_ctx: MakeContext, authority: LocalAuthority
) -> None:
    """Blocks that are not a JSON array are skipped with a warning; a non-200 is a soft failure."""
    with http_peer(_ok(404), tls=authority.issue().server_context()) as peer:
        ctx = make_ctx(
            ("webhook_url", "string", peer.url),
            ("message", "text", "m"),
            ("blocks", "text", "{not json"),
            ("attachments", "text", '{"a": 1}'),
        )
        out = slack_webhook.run(ctx)
    assert out == {"status_code": 404, "success": False, "error": ""}
    assert peer.requests[0].json() == {"text": "m", "mrkdwn": True}
    assert [line.message for line in ctx.logs] == [
        "failed to parse blocks JSON — sending as plain text",
        "failed to parse attachments JSON — skipping",
    ]


def test_slack_transport_failure_is_soft(make_ctx: MakeContext, authority: LocalAuthority) -> None:
    """A connection failure returns success false with the error text (no hard error)."""
    with http_peer(_ok(200), tls=authority.issue().server_context()) as peer:
        url = peer.url
    out = slack_webhook.run(make_ctx(("webhook_url", "string", url), ("message", "text", "m")))
    assert out["status_code"] == 0 and out["success"] is False
    assert out["error"].startswith(f'Post "{url}": ')


def test_slack_certificate_is_verified(make_ctx: MakeContext, tmp_path: Path) -> None:
    """A server certificate from an untrusted CA is a transport failure, not a delivery."""
    untrusted = LocalAuthority(tmp_path)
    with http_peer(_ok(200), tls=untrusted.issue().server_context()) as peer:
        out = slack_webhook.run(
            make_ctx(("webhook_url", "string", peer.url), ("message", "text", "m"))
        )
    assert out["success"] is False and "certificate" in out["error"].lower()
    assert peer.requests == []


@pytest.mark.parametrize(
    ("module", "rows", "message"),
    [
        (slack_webhook, [("message", "text", "m")], "webhook_url is required"),
        (
            slack_webhook,
            [("webhook_url", "string", "http://127.0.0.1:9/x"), ("message", "text", "m")],
            "webhook URL must use HTTPS",
        ),
        (slack_webhook, [("webhook_url", "string", "https://h/x")], "message is required"),
        (discord_webhook, [("content", "text", "c")], "webhook_url is required"),
        (
            discord_webhook,
            [("webhook_url", "string", "HTTPS://h/x"), ("content", "text", "c")],
            "webhook URL must use HTTPS",
        ),
        (discord_webhook, [("webhook_url", "string", "https://h/x")], "content is required"),
    ],
)
def test_webhook_input_errors(
    make_ctx: MakeContext, module: Any, rows: list[tuple[str, str, Any]], message: str
) -> None:
    """Missing inputs and non-HTTPS URLs are hard errors with upstream's texts."""
    with pytest.raises(HardError) as caught:
        module.run(make_ctx(*rows))
    assert caught.value.message == message


def test_discord_payload_shape(make_ctx: MakeContext, authority: LocalAuthority) -> None:
    """Discord gets {content, username, avatar_url}; its 204 reply is a success."""
    with http_peer(_ok(204), tls=authority.issue().server_context()) as peer:
        out = discord_webhook.run(
            make_ctx(
                ("webhook_url", "string", f"{peer.url}/api/webhooks/1/t"),
                ("content", "text", "Hello"),
                ("username", "string", ""),
                ("avatar_url", "string", "https://example.com/a.png"),
            )
        )
    assert out == {"status_code": 204, "success": True}
    assert peer.requests[0].json() == {
        "content": "Hello",
        "avatar_url": "https://example.com/a.png",
    }
    assert peer.requests[0].headers["Content-Type"] == "application/json"


def test_discord_transport_failure_is_hard(
    make_ctx: MakeContext, authority: LocalAuthority
) -> None:
    """A connection failure is a hard error 'failed to send webhook: ...'."""
    with http_peer(_ok(204), tls=authority.issue().server_context()) as peer:
        url = peer.url
    with pytest.raises(HardError) as caught:
        discord_webhook.run(make_ctx(("webhook_url", "string", url), ("content", "text", "c")))
    assert caught.value.message.startswith(f'failed to send webhook: Post "{url}": ')
