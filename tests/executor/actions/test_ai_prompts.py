"""The ai/* prompt actions against a local server speaking each provider's documented wire
format (OpenAI Chat Completions, Anthropic Messages, Gemini generateContent, Ollama /api/chat,
Azure OpenAI deployments), streaming included where upstream streams.

Upstream files pinned: flomation-co/executor: actions/ai/{openai,groq,openrouter,azure_openai,
anthropic,gemini,ollama}/action.go and actions/ai/streaming.go.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from executor.engine_harness import edge, flow_document, node, run_engine, value
from fixtures.http_peer import HttpPeer, Recorded, Reply, http_peer
from flomation.executor.actions.ai import (
    anthropic,
    azure_openai,
    gemini,
    groq,
    ollama,
    openai,
    openrouter,
)
from flomation.executor.actions.base import HardError

MakeContext = Callable[..., Any]
KEY = "sk-test-KEY-1234567890"
HISTORY = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]


def _sse(events: list[Any], done: bool = True) -> bytes:
    lines = [f"data: {json.dumps(event)}\n\n" for event in events]
    if done:
        lines.append("data: [DONE]\n\n")
    return "".join(lines).encode()


def _openai_reply(request: Recorded) -> Reply:
    body = request.json()
    if body.get("stream"):
        chunks = [
            {"model": "m-1", "choices": [{"delta": {"content": "Stream"}}]},
            {"model": "m-1", "choices": [{"delta": {"content": "ed."}, "finish_reason": "stop"}]},
            {
                "model": "m-1",
                "choices": [],
                "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
            },
        ]
        return 200, {"Content-Type": "text/event-stream"}, _sse(chunks)
    reply: dict[str, Any] = {
        "model": "m-1",
        "choices": [
            {
                "message": {"content": "Answer: " + body["messages"][-1]["content"]},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14},
        "provider": "TestProvider",
    }
    if "openrouter" in request.path:
        reply["usage"]["cost"] = 0.0012
    return 200, {"Content-Type": "application/json"}, json.dumps(reply).encode()


def _anthropic_reply(request: Recorded) -> Reply:
    body = request.json()
    if body.get("stream"):
        events = [
            {
                "type": "message_start",
                "message": {"model": "claude-x", "usage": {"input_tokens": 9, "output_tokens": 1}},
            },
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "Hello "},
            },
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "there."},
            },
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn"},
                "usage": {"output_tokens": 4},
            },
            {"type": "message_stop"},
        ]
        return 200, {"Content-Type": "text/event-stream"}, _sse(events, done=False)
    reply = {
        "model": "claude-x",
        "content": [{"type": "text", "text": "Bonjour"}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 12, "output_tokens": 2},
    }
    return 200, {"Content-Type": "application/json"}, json.dumps(reply).encode()


def _gemini_reply(request: Recorded) -> Reply:
    usage = {"promptTokenCount": 6, "candidatesTokenCount": 4, "totalTokenCount": 10}
    if ":streamGenerateContent" in request.path:
        events = [
            {"candidates": [{"content": {"role": "model", "parts": [{"text": "Gem"}]}}]},
            {
                "candidates": [{"content": {"role": "model", "parts": [{"text": "ini!"}]}}],
                "usageMetadata": usage,
                "modelVersion": "gemini-test-001",
            },
        ]
        return 200, {"Content-Type": "text/event-stream"}, _sse(events, done=False)
    reply = {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"text": "Hi from Gemini"}]},
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": usage,
        "modelVersion": "gemini-test-001",
    }
    return 200, {"Content-Type": "application/json"}, json.dumps(reply).encode()


def _ollama_reply(request: Recorded) -> Reply:
    reply = {
        "model": "llama3.2",
        "message": {"role": "assistant", "content": "Local answer", "thinking": "hmm"},
        "done": True,
        "prompt_eval_count": 20,
        "eval_count": 5,
    }
    return 200, {"Content-Type": "application/json"}, json.dumps(reply).encode()


def _provider(request: Recorded) -> Reply:
    if "fail" in request.path:
        error = {"error": {"message": f"bad key {KEY}", "type": "invalid_request_error"}}
        return 401, {"Content-Type": "application/json"}, json.dumps(error).encode()
    if request.path.endswith("/messages"):
        return _anthropic_reply(request)
    if "GenerateContent" in request.path or "generateContent" in request.path:
        return _gemini_reply(request)
    if request.path.endswith("/api/chat"):
        return _ollama_reply(request)
    return _openai_reply(request)


@pytest.fixture
def provider() -> Iterator[HttpPeer]:
    """The local provider server."""
    with http_peer(_provider) as peer:
        yield peer


def _common(base: str, *rows: tuple[str, str, Any]) -> list[tuple[str, str, Any]]:
    return [
        ("api_key", "secret", KEY),
        ("prompt", "text", "What is 2+2?"),
        ("system_prompt", "text", "Be brief."),
        ("conversation_history", "object", HISTORY),
        ("max_tokens", "integer", 100),
        ("temperature", "string", "0.2"),
        ("endpoint", "string", base),
        *rows,
    ]


@pytest.mark.parametrize(
    ("module", "path", "provider_name"),
    [(openai, "/v1", "openai"), (groq, "/openai/v1", "groq"), (openrouter, "/openrouter/v1", "or")],
)
def test_openai_family_request_and_reply(
    make_ctx: MakeContext, provider: HttpPeer, module: Any, path: str, provider_name: str
) -> None:
    """OpenAI-format providers: Bearer key, system+history+prompt messages, text and usage out."""
    out = module.run(make_ctx(*_common(provider.url + path, ("model", "string", "m-1"))))
    assert out["response"] == "Answer: What is 2+2?" and out["success"] is True
    assert (out["prompt_tokens"], out["completion_tokens"], out["total_tokens"]) == (11, 3, 14)
    assert out["model"] == "m-1" and out["should_respond"] is True and out["error"] == ""
    (request,) = provider.requests
    assert request.path == path + "/chat/completions"
    assert request.headers["Authorization"] == "Bearer " + KEY
    sent = request.json()
    assert sent["model"] == "m-1" and sent["max_tokens"] == 100 and sent["temperature"] == 0.2
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        *HISTORY,
        {"role": "user", "content": "What is 2+2?"},
    ]
    if module is openrouter:
        assert out["cost"] == "0.0012" and out["provider"] == "TestProvider"
        assert request.headers["X-Title"] == "Flomation"


def test_openai_streaming(make_ctx: MakeContext, provider: HttpPeer) -> None:
    """A streamed OpenAI reply is the concatenated deltas, with usage from the final chunk."""
    out = openai.run(make_ctx(*_common(provider.url + "/v1", ("streaming", "boolean", True))))
    assert out["response"] == "Streamed." and out["total_tokens"] == 7
    sent = provider.requests[0].json()
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}


def test_azure_openai_deployment(make_ctx: MakeContext, provider: HttpPeer) -> None:
    """Azure: api-key header, deployment in the path, api-version query, no model in the body."""
    out = azure_openai.run(make_ctx(*_common(provider.url, ("deployment", "string", "my dep"))))
    assert out["response"] == "Answer: What is 2+2?" and out["total_tokens"] == 14
    (request,) = provider.requests
    assert request.path == "/openai/deployments/my%20dep/chat/completions?api-version=2024-10-21"
    assert request.headers["Api-Key"] == KEY and "Authorization" not in request.headers
    assert "model" not in request.json()


@pytest.mark.parametrize("streaming", [False, True])
def test_anthropic_messages(make_ctx: MakeContext, provider: HttpPeer, streaming: bool) -> None:
    """Anthropic: x-api-key, version header, cached system block; text and usage out."""
    out = anthropic.run(
        make_ctx(*_common(provider.url + "/v1", ("streaming", "boolean", streaming)))
    )
    expected = ("Hello there.", 9, 4) if streaming else ("Bonjour", 12, 2)
    assert (out["response"], out["input_tokens"], out["output_tokens"]) == expected
    assert out["stop_reason"] == "end_turn" and out["model"] == "claude-x"
    (request,) = provider.requests
    assert request.headers["X-Api-Key"] == KEY
    assert request.headers["Anthropic-Version"] == "2023-06-01"
    sent = request.json()
    assert sent["system"] == [
        {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}
    ]
    assert sent["messages"][-1] == {"role": "user", "content": "What is 2+2?"}
    assert sent["messages"][1]["content"][0]["cache_control"] == {"type": "ephemeral"}
    assert sent.get("stream", False) is streaming


@pytest.mark.parametrize("streaming", [False, True])
def test_gemini_generate_content(
    make_ctx: MakeContext, provider: HttpPeer, streaming: bool
) -> None:
    """Gemini: x-goog-api-key, contents with model role, systemInstruction; usageMetadata out."""
    out = gemini.run(
        make_ctx(
            *_common(
                provider.url + "/v1beta/models",
                ("model", "string", "gemini-test"),
                ("streaming", "boolean", streaming),
            )
        )
    )
    assert out["response"] == ("Gemini!" if streaming else "Hi from Gemini")
    assert (out["prompt_tokens"], out["completion_tokens"], out["total_tokens"]) == (6, 4, 10)
    assert out["model"] == "gemini-test-001"
    (request,) = provider.requests
    method = ":streamGenerateContent?alt=sse" if streaming else ":generateContent"
    assert request.path == "/v1beta/models/gemini-test" + method
    assert request.headers["X-Goog-Api-Key"] == KEY
    sent = request.json()
    assert [content["role"] for content in sent["contents"]] == ["user", "model", "user"]
    assert sent["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert sent["generationConfig"] == {"temperature": 0.2, "maxOutputTokens": 100}


def test_ollama_native_chat(make_ctx: MakeContext, provider: HttpPeer) -> None:
    """Ollama: /api/chat with stream false, options only when set; eval counts as usage."""
    out = ollama.run(
        make_ctx(
            ("endpoint", "string", provider.url + "/api/"),
            ("model", "string", "llama3.2"),
            ("prompt", "text", "Hi?"),
            ("temperature", "string", "0.5"),
            ("num_ctx", "integer", 4096),
            ("think", "string", "off"),
            ("response_format", "string", "json"),
        )
    )
    assert (out["response"], out["thinking"]) == ("Local answer", "hmm")
    assert (out["prompt_tokens"], out["completion_tokens"], out["total_tokens"]) == (20, 5, 25)
    (request,) = provider.requests
    assert request.path == "/api/chat" and "Authorization" not in request.headers
    assert request.json() == {
        "model": "llama3.2",
        "messages": [{"role": "user", "content": "Hi?"}],
        "stream": False,
        "options": {"temperature": 0.5, "num_ctx": 4096},
        "format": "json",
        "think": False,
    }


def test_no_response_sentinel_and_required_inputs(
    make_ctx: MakeContext, provider: HttpPeer
) -> None:
    """[NO_RESPONSE] silences the reply; missing api_key/prompt are upstream's hard errors."""
    with http_peer(
        lambda _r: (
            200,
            {},
            json.dumps(
                {
                    "model": "m",
                    "choices": [
                        {"message": {"content": "ok [NO_RESPONSE]"}, "finish_reason": "stop"}
                    ],
                }
            ).encode(),
        )
    ) as peer:
        out = openai.run(make_ctx(*_common(peer.url)))
    assert (out["response"], out["should_respond"]) == ("", False)
    with pytest.raises(HardError, match=r"^api_key is required$"):
        openai.run(make_ctx(("prompt", "text", "x")))
    with pytest.raises(HardError, match=r"^prompt is required$"):
        anthropic.run(make_ctx(("api_key", "secret", KEY)))
    with pytest.raises(HardError, match=r"^model is required$"):
        ollama.run(make_ctx(("endpoint", "string", provider.url), ("prompt", "text", "x")))


def test_api_errors_carry_the_providers_message(make_ctx: MakeContext, provider: HttpPeer) -> None:
    """A non-200 reply is '<Provider> API error (<status>): <message>'."""
    with pytest.raises(HardError) as caught:
        groq.run(make_ctx(*_common(provider.url + "/fail")))
    assert caught.value.message == f"Groq API error (401): bad key {KEY}"


def test_api_key_is_masked(tmp_path: Path, provider: HttpPeer) -> None:
    """The key never appears in events, results or the error, even when the provider echoes it."""
    inputs = [
        value("api_key", KEY, "secret"),
        value("prompt", "p", "text"),
        value("endpoint", provider.url + "/fail"),
    ]
    document = flow_document(
        [node("t", "trigger/manual", 1), node("x", "ai/anthropic", inputs=inputs)], [edge("t", "x")]
    )
    run = run_engine(tmp_path, document)
    record = run.result.records["x"]
    assert record.error == "Anthropic API error (401): bad key ********"
    assert KEY not in record.to_json() + str(run.events) + str(run.logs)
