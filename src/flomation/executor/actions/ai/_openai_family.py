"""The OpenAI Chat Completions wire format, shared by ``ai/openai``, ``ai/groq``,
``ai/openrouter`` and ``ai/azure_openai`` (flomation-co/executor: actions/ai/openai/action.go,
actions/ai/groq/action.go, actions/ai/streaming.go HandleOpenAICompatibleStream).

Messages are the system prompt, the conversation history and the prompt; ``tools`` is sent when
tool definitions are given. A streamed reply (``stream: true`` with
``stream_options.include_usage``) is the concatenation of the ``choices[].delta.content`` pieces,
with usage from the chunk that carries it.
"""

from __future__ import annotations

import json
from typing import Any

from flomation.executor.accessors import read_string
from flomation.executor.actions.ai._chat import (
    ChatInputs,
    Reply,
    ToolTurn,
    finish,
    parse_json,
    post,
    server_sent_events,
)
from flomation.executor.actions.base import ActionContext, HardError, Outputs

__all__ = [
    "USAGE_KEYS",
    "base_payload",
    "bearer_completion",
    "chat",
    "messages",
    "optional_float",
    "parse_whole",
    "sampling",
]

USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens")


def messages(inputs: ChatInputs) -> list[Any]:
    """System prompt, history turns, then the prompt as the user turn; inside the tool loop the
    carried conversation plus one ``tool`` message per result."""
    if inputs.resumed is not None:
        return [
            *inputs.resumed.conversation,
            *(
                {
                    "role": "tool",
                    "tool_call_id": result.get("tool_use_id"),
                    "content": result.get("content"),
                }
                for result in inputs.resumed.results
            ),
        ]
    result: list[Any] = []
    if inputs.system_prompt:
        result.append({"role": "system", "content": inputs.system_prompt})
    result.extend({"role": role, "content": content} for role, content in inputs.history)
    result.append({"role": "user", "content": inputs.prompt})
    return result


def base_payload(inputs: ChatInputs) -> dict[str, Any]:
    """The chat/completions body every provider of the family takes."""
    return {
        "model": inputs.model,
        "messages": messages(inputs),
        "max_tokens": inputs.max_tokens,
        "temperature": inputs.temperature,
    }


def _usage(document: Any) -> dict[str, int]:
    usage = document.get("usage") if isinstance(document, dict) else None
    if not isinstance(usage, dict):
        return {}
    return {key: int(usage.get(key) or 0) for key in USAGE_KEYS}


def _tool_turn(message: dict[str, Any], sent: list[Any]) -> ToolTurn:
    """The requests and the conversation (``sent`` plus the assistant's tool-call message)."""
    calls = [call for call in message.get("tool_calls") or [] if isinstance(call, dict)]
    requests = []
    for call in calls:
        function = call.get("function") or {}
        try:
            arguments = json.loads(function.get("arguments") or "")
        except ValueError:
            arguments = None
        requests.append(
            {
                "id": str(call.get("id") or ""),
                "name": str(function.get("name") or ""),
                "input": arguments if isinstance(arguments, dict) else {},
            }
        )
    assistant: dict[str, Any] = {"role": "assistant", "tool_calls": calls}
    if message.get("content") is not None:
        assistant["content"] = message["content"]
    return ToolTurn(requests, [*sent, assistant])


def parse_whole(provider: str, body: bytes, model: str, sent: list[Any]) -> Reply:
    """A whole (non-streamed) reply; ``sent`` is the request's messages, for the tool loop."""
    document = parse_json(provider, body)
    choices = document.get("choices") if isinstance(document, dict) else None
    if not choices:
        raise HardError(f"{provider} returned no choices")
    choice = choices[0]
    message = choice.get("message") or {}
    tool_calls = message.get("tool_calls") or []
    finish_reason = str(choice.get("finish_reason") or "")
    calling = finish_reason == "tool_calls" and bool(tool_calls)
    return Reply(
        text=str(message.get("content") or ""),
        model=str(document.get("model") or ""),
        stop_reason="tool_calls" if calling else "",
        usage=_usage(document),
        tool_calls=len(tool_calls) if calling else 0,
        tool_turn=_tool_turn(message, sent) if calling else None,
    )


def _streamed(body: bytes, model: str) -> Reply:
    text: list[str] = []
    usage: dict[str, int] = {}
    tool_indexes: set[int] = set()
    stop_reason, reply_model = "", ""
    for event in server_sent_events(body):
        if not isinstance(event, dict):
            continue
        reply_model = str(event.get("model") or reply_model)
        usage = _usage(event) or usage
        for choice in event.get("choices") or []:
            delta = choice.get("delta") or {}
            text.append(str(delta.get("content") or ""))
            for call in delta.get("tool_calls") or []:
                tool_indexes.add(int(call.get("index") or 0))
            stop_reason = str(choice.get("finish_reason") or stop_reason)
    return Reply(
        text="".join(text),
        model=reply_model or model,
        stop_reason=stop_reason if tool_indexes else "",
        usage=usage,
        tool_calls=len(tool_indexes),
    )


def chat(
    ctx: ActionContext,
    provider: str,
    url: str,
    headers: dict[str, str],
    inputs: ChatInputs,
    payload: dict[str, Any],
    *,
    timeout_s: float,
) -> Reply:
    """Send ``payload`` (messages and sampling already in it) and parse the reply."""
    if inputs.tools:
        payload["tools"] = inputs.tools
    if inputs.streaming:
        payload["stream"] = True
        payload["stream_options"] = {"include_usage": True}
    body = post(ctx, provider, url, headers, payload, timeout_s=timeout_s, stream=inputs.streaming)
    if inputs.streaming:
        return _streamed(body, inputs.model)
    return parse_whole(provider, body, inputs.model, payload["messages"])


def optional_float(ctx: ActionContext, name: str) -> float | None:
    """A sampling control: sent only when set to a number (else a warning, and left out)."""
    text = (read_string(ctx.inputs, name) or "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        ctx.log("warning", f"invalid {name}; left out of the request", value=text)
        return None


def sampling(ctx: ActionContext, payload: dict[str, Any]) -> None:
    """Add top_p, frequency_penalty and presence_penalty when they are set."""
    for name in ("top_p", "frequency_penalty", "presence_penalty"):
        value = optional_float(ctx, name)
        if value is not None:
            payload[name] = value


def bearer_completion(
    ctx: ActionContext, provider: str, inputs: ChatInputs, payload: dict[str, Any]
) -> Outputs:
    """``POST {endpoint}/chat/completions`` with the API key as bearer token; the outputs."""
    reply = chat(
        ctx,
        provider,
        f"{inputs.endpoint}/chat/completions",
        {"Authorization": "Bearer " + inputs.api_key},
        inputs,
        payload,
        timeout_s=120,
    )
    return finish(reply, USAGE_KEYS, inputs)
