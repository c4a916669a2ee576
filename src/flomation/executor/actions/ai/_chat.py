"""What the ``ai/*`` prompt actions share: reading the common inputs, one HTTP exchange, and the
outputs upstream's actions return (flomation-co/executor: actions/ai/openai/action.go,
actions/ai/anthropic/action.go, actions/ai/common.go, actions/ai/streaming.go).

Common behaviour: ``api_key`` and ``prompt`` are required (``<name> is required``); a blank model
is the provider's default; ``max_tokens`` only counts when positive; ``temperature`` is read like
Go's ``fmt.Sscanf("%f")`` (a leading number; 0.7 otherwise); ``conversation_history`` is a list of
``{role, content}`` (or its JSON text) placed before the prompt; a reply containing
``[NO_RESPONSE]`` gives ``should_respond: false`` and an empty response; a non-200 reply is
``<Provider> API error (<status>): <message>``; a transport failure ``<Provider> request
failed: ...``. Responses are read up to 1 MiB (streams up to 16 MiB).

Tool calls (docs/flows.md §4.13): when the model asks for tools the outputs carry
``__tool_requests`` ([{id, name, input}]) and ``__conversation_state`` (the provider's messages,
the assistant's tool-call turn included) instead of a response; the engine runs the nodes wired to
the ``tools`` handle and re-runs the action with the variables ``__conversation_state`` and
``__tool_results`` set, which the action turns into the provider's tool-result messages. A final
answer after a loop reports ``tool_calls_count`` = the loop's exchanges (``__tool_exchanges``).

Deliberate differences, recorded in each action's ``differences``: the base URL is an input
(``endpoint``) so any compatible server can be used; a streamed reply is read to its end and
returned whole (upstream fires the Response handle per sentence for voice), and tool calls in a
stream are counted but start no tool loop; conversation history is not truncated to the model's
context window.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from flomation.executor.accessors import find_input, read_bool, read_number, read_string
from flomation.executor.actions.base import ActionContext, Connection, HardError, Outputs
from flomation.executor.actions.web._transfer import TransferError, transfer
from flomation.executor.gojson import go_json
from flomation.executor.tool_loop import (
    CONVERSATION_KEY,
    EXCHANGES_KEY,
    INTERMEDIATE_KEY,
    REQUESTS_KEY,
    RESULTS_KEY,
)

__all__ = [
    "COMMON_DIFFERENCES",
    "NO_RESPONSE",
    "ChatInputs",
    "Reply",
    "Resumed",
    "ToolTurn",
    "common_inputs",
    "endpoint_input",
    "finish",
    "openai_outputs",
    "parse_json",
    "post",
    "read_chat_inputs",
    "server_sent_events",
    "with_no_response_rule",
]

NO_RESPONSE = "[NO_RESPONSE]"
_MAX_REPLY_BYTES = 1 << 20
_MAX_STREAM_BYTES = 16 << 20
_SCANF_FLOAT = re.compile(r"\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")

COMMON_DIFFERENCES = (
    "endpoint input: the provider's base URL can be changed (upstream: fixed)",
    "a streamed reply is returned whole when the stream ends (no per-sentence Response); tool "
    "calls in a stream are counted but start no tool loop",
    "text beside tool calls is not sent to the Response handle while the tools run",
    "conversation history is not truncated to the model's context window",
)


def endpoint_input(default: str) -> Connection:
    """The base URL input this executor adds to every provider (``endpoint``)."""
    return Connection("endpoint", "string", "API Base URL", placeholder=default)


def common_inputs(
    *, key_placeholder: str, max_tokens_placeholder: str, models: tuple[str, ...] = ()
) -> tuple[Connection, ...]:
    """api_key, model, system_prompt, prompt, max_tokens, temperature, conversation_history."""
    return (
        Connection(
            "api_key", "secret", "API Key", placeholder=key_placeholder, required=True, secret=True
        ),
        Connection(
            "model",
            "string",
            "Model",
            options=tuple({"name": model, "value": model} for model in models) or None,
        ),
        Connection(
            "system_prompt", "text", "System Prompt", placeholder="You are a helpful assistant."
        ),
        Connection(
            "prompt", "text", "Prompt", placeholder="What would you like to ask?", required=True
        ),
        Connection("max_tokens", "integer", "Max Tokens", placeholder=max_tokens_placeholder),
        Connection("temperature", "string", "Temperature", placeholder="0.7"),
        Connection(
            "conversation_history",
            "object",
            "Conversation History",
            placeholder="${conversation_history}",
        ),
    )


def openai_outputs(*after_response: Connection) -> tuple[Connection, ...]:
    """The outputs of the OpenAI-family prompt actions, with ``after_response`` (a provider's
    own outputs, e.g. Ollama's ``thinking``) listed right after ``response``."""
    return (
        Connection("response", "string", "Response"),
        *after_response,
        Connection("model", "string", "Model Used"),
        Connection("prompt_tokens", "integer", "Prompt Tokens"),
        Connection("completion_tokens", "integer", "Completion Tokens"),
        Connection("total_tokens", "integer", "Total Tokens"),
        Connection("should_respond", "boolean", "Should Respond"),
        Connection("tool_calls_count", "integer", "Tool Calls"),
        Connection("success", "boolean", "Success"),
        Connection("error", "string", "Error"),
    )


@dataclass(frozen=True)
class Resumed:
    """A re-run inside the tool loop: the conversation so far and the tools' results."""

    conversation: list[Any]
    results: list[dict[str, Any]]
    """[{tool_use_id, content, is_error}] in request order."""


@dataclass
class ChatInputs:
    """The inputs every prompt action reads (and the tool loop's state, when re-run in it)."""

    api_key: str
    prompt: str
    model: str
    system_prompt: str
    max_tokens: int
    temperature: float
    history: list[tuple[str, str]]
    tools: list[Any]
    endpoint: str
    streaming: bool
    resumed: Resumed | None = None
    exchanges: int = 0
    """Tool exchanges of this execution's tool loop so far."""


def _scanf_float(text: str, default: float) -> float:
    match = _SCANF_FLOAT.match(text)
    return float(match.group(1)) if match else default


def _history(ctx: ActionContext) -> list[tuple[str, str]]:
    item = find_input(ctx.inputs, "conversation_history")
    value = None if item is None else item.value
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else None
        except ValueError:
            value = None
    if isinstance(value, dict):
        value = value.get("messages")
    if not isinstance(value, list):
        return []
    turns = []
    for entry in value:
        if isinstance(entry, dict):
            role, content = entry.get("role"), entry.get("content")
            if isinstance(role, str) and isinstance(content, str) and role and content:
                turns.append((role, content))
    return turns


def _tools(ctx: ActionContext) -> list[Any]:
    raw = (read_string(ctx.inputs, "tool_definitions") or "").strip()
    if not raw:
        return []
    try:
        parsed = json.loads(raw)
    except ValueError as error:
        ctx.log("warning", "failed to parse tool_definitions JSON", error=str(error))
        return []
    return parsed if isinstance(parsed, list) else []


def read_chat_inputs(
    ctx: ActionContext,
    *,
    default_model: str,
    default_max_tokens: int,
    default_endpoint: str,
    require_api_key: bool = True,
) -> ChatInputs:
    """The common inputs with upstream's defaults and required-input errors."""
    api_key = read_string(ctx.inputs, "api_key") or ""
    if require_api_key and not api_key:
        raise HardError("api_key is required")
    prompt = read_string(ctx.inputs, "prompt") or ""
    if not prompt:
        raise HardError("prompt is required")
    max_tokens = read_number(ctx.inputs, "max_tokens")
    temperature_text = read_string(ctx.inputs, "temperature") or ""
    return ChatInputs(
        api_key=api_key,
        prompt=prompt,
        model=read_string(ctx.inputs, "model") or default_model,
        system_prompt=read_string(ctx.inputs, "system_prompt") or "",
        max_tokens=max_tokens if max_tokens is not None and max_tokens > 0 else default_max_tokens,
        temperature=_scanf_float(temperature_text, 0.7) if temperature_text else 0.7,
        history=_history(ctx),
        tools=_tools(ctx),
        endpoint=(read_string(ctx.inputs, "endpoint") or "").strip().rstrip("/")
        or default_endpoint,
        streaming=read_bool(ctx.inputs, "streaming") is True,
        resumed=_resumed(ctx),
        exchanges=len(ctx.variable(EXCHANGES_KEY) or ()),
    )


def _resumed(ctx: ActionContext) -> Resumed | None:
    conversation = ctx.variable(CONVERSATION_KEY)
    if not isinstance(conversation, list):
        return None
    results = ctx.variable(RESULTS_KEY)
    return Resumed(list(conversation), list(results) if isinstance(results, list) else [])


@dataclass(frozen=True)
class ToolTurn:
    """The model asked for tools: the requests and the conversation to carry to the re-run."""

    requests: list[dict[str, Any]]
    """[{id, name, input}]"""
    conversation: list[Any]
    """The messages sent plus the assistant's tool-call turn, in the provider's format."""


@dataclass
class Reply:
    """A provider's answer, parsed."""

    text: str
    model: str
    stop_reason: str = ""
    usage: dict[str, int] = field(default_factory=dict)
    tool_calls: int = 0
    tool_turn: ToolTurn | None = None


def with_no_response_rule(reply: Reply) -> tuple[str, bool]:
    """(response, should_respond): ``[NO_RESPONSE]`` anywhere silences the reply."""
    if NO_RESPONSE in reply.text.strip():
        return "", False
    return reply.text, True


def post(
    ctx: ActionContext,
    provider: str,
    url: str,
    headers: dict[str, str],
    payload: dict[str, Any],
    *,
    timeout_s: float,
    stream: bool = False,
) -> bytes:
    """POST ``payload`` as JSON; the body of a 200 reply, else the provider's error."""
    try:
        response = transfer(
            "POST",
            url,
            headers={"Content-Type": "application/json", **headers},
            body=go_json(payload).encode("utf-8"),
            timeout_s=timeout_s,
            max_body_bytes=_MAX_STREAM_BYTES if stream else _MAX_REPLY_BYTES,
            cancel_event=ctx.cancel_event,
        )
    except TransferError as error:
        raise HardError(f"{provider} request failed: {error}") from None
    if response.status != 200:
        message = ""
        try:
            document = json.loads(response.body)
            if isinstance(document, list) and document:
                document = document[0]
            if isinstance(document, dict) and isinstance(document.get("error"), dict):
                found = document["error"].get("message")
                message = found if isinstance(found, str) else ""
            elif isinstance(document, dict) and isinstance(document.get("error"), str):
                message = document["error"]
        except ValueError:
            pass
        if not message:
            message = response.body.decode("utf-8", "replace")
        raise HardError(f"{provider} API error ({response.status}): {message}")
    return response.body


def server_sent_events(body: bytes) -> list[Any]:
    """The JSON ``data:`` payloads of an SSE stream, up to ``[DONE]`` (bad JSON skipped)."""
    events = []
    for line in body.decode("utf-8", "replace").splitlines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if not data:
            continue
        if data == "[DONE]":
            break
        try:
            events.append(json.loads(data))
        except ValueError:
            continue
    return events


def parse_json(provider: str, body: bytes) -> Any:
    """The reply as JSON; ``failed to parse <Provider> response: ...`` otherwise."""
    try:
        return json.loads(body)
    except ValueError as error:
        raise HardError(f"failed to parse {provider} response: {error}") from None


def finish(
    reply: Reply, usage_keys: tuple[str, ...], inputs: ChatInputs, extra: Outputs | None = None
) -> Outputs:
    """The outputs: a tool-call turn for the engine's loop, or the final answer."""
    usage = {key: reply.usage.get(key, 0) for key in usage_keys}
    if reply.tool_turn is not None:
        outputs: Outputs = {
            REQUESTS_KEY: reply.tool_turn.requests,
            CONVERSATION_KEY: reply.tool_turn.conversation,
            "stop_reason": reply.stop_reason,
            "model": reply.model,
            **usage,
            **(extra or {}),
            "tool_calls_count": len(reply.tool_turn.requests),
            "success": True,
            "error": "",
        }
        if reply.text.strip():
            outputs[INTERMEDIATE_KEY] = reply.text
        return outputs
    response, should_respond = with_no_response_rule(reply)
    outputs = {"response": response, "should_respond": should_respond, "model": reply.model}
    outputs.update(usage)
    if reply.stop_reason:
        outputs["stop_reason"] = reply.stop_reason
    outputs.update(extra or {})
    # After a tool loop the count is the loop's exchanges (upstream's RecordToolExchange).
    answered = should_respond and bool(response) and inputs.exchanges > 0
    calls = inputs.exchanges if answered else reply.tool_calls
    outputs.update({"tool_calls_count": calls, "success": True, "error": ""})
    return outputs
