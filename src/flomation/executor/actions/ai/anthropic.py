"""``ai/anthropic``: send a prompt to the Anthropic Messages API (flomation-co/executor:
actions/ai/anthropic/action.go).

The request is ``{model, max_tokens, temperature, messages}`` with the system prompt as one
``system`` text block marked ``cache_control: ephemeral`` (as the last history turn and the last
tool definition are), headers ``x-api-key`` and ``anthropic-version: 2023-06-01``. With
``streaming`` the reply is the Messages SSE stream: text from ``content_block_delta`` events,
usage from ``message_start`` and ``message_delta``. See ``_chat`` for the shared behaviour and
differences.
"""

from __future__ import annotations

from typing import Any

from flomation.executor.actions.ai._chat import (
    COMMON_DIFFERENCES,
    ChatInputs,
    Reply,
    ToolTurn,
    common_inputs,
    endpoint_input,
    finish,
    parse_json,
    post,
    read_chat_inputs,
    server_sent_events,
)
from flomation.executor.actions.base import ActionContext, ActionSpec, Connection, Outputs

__all__ = ["SPEC", "run"]

_DEFAULT_ENDPOINT = "https://api.anthropic.com/v1"
_DEFAULT_MODEL = "claude-sonnet-4-6"
_API_VERSION = "2023-06-01"
_EPHEMERAL = {"type": "ephemeral"}
_USAGE_KEYS = ("input_tokens", "output_tokens")

SPEC = ActionSpec(
    id="ai/anthropic",
    name="Anthropic Prompt",
    description="Send a prompt to the Anthropic Messages API and return the response",
    icon="brain+paper-plane",
    inputs=(
        *common_inputs(
            key_placeholder="sk-ant-...",
            max_tokens_placeholder="2048",
            models=(
                "claude-opus-4-8",
                "claude-opus-4-7",
                _DEFAULT_MODEL,
                "claude-haiku-4-5",
                "claude-fable-5",
            ),
        ),
        Connection(
            "streaming", "boolean", "Streaming (fires response per sentence for low-latency voice)"
        ),
        Connection("tool_definitions", "text", "Tool Definitions (JSON)"),
        endpoint_input(_DEFAULT_ENDPOINT),
    ),
    outputs=(
        Connection("response", "string", "Response"),
        Connection("response_mode", "string", "Response Mode (text or voice)"),
        Connection("should_respond", "boolean", "Should Respond"),
        Connection("model", "string", "Model Used"),
        Connection("input_tokens", "integer", "Input Tokens"),
        Connection("output_tokens", "integer", "Output Tokens"),
        Connection("stop_reason", "string", "Stop Reason"),
        Connection("tool_calls_count", "integer", "Tool Calls"),
        Connection("success", "boolean", "Success"),
        Connection("error", "string", "Error"),
    ),
    extra={"differences": list(COMMON_DIFFERENCES)},
)


def _messages(inputs: ChatInputs) -> list[Any]:
    """History and prompt; inside the tool loop the carried conversation plus one user message
    per tool result (a ``tool_result`` block, ``is_error`` only when true)."""
    if inputs.resumed is not None:
        messages = list(inputs.resumed.conversation)
        for result in inputs.resumed.results:
            block = {
                "type": "tool_result",
                "tool_use_id": result.get("tool_use_id"),
                "content": result.get("content"),
            }
            if result.get("is_error"):
                block["is_error"] = True
            messages.append({"role": "user", "content": [block]})
        return messages
    messages = []
    turns = [(role, text) for role, text in inputs.history if role in ("user", "assistant")]
    for index, (role, text) in enumerate(turns):
        if index == len(turns) - 1:
            content: Any = [{"type": "text", "text": text, "cache_control": _EPHEMERAL}]
        else:
            content = text
        messages.append({"role": role, "content": content})
    messages.append({"role": "user", "content": inputs.prompt})
    return messages


def _payload(inputs: ChatInputs) -> dict[str, Any]:
    messages = _messages(inputs)
    payload: dict[str, Any] = {
        "model": inputs.model,
        "max_tokens": inputs.max_tokens,
        "temperature": inputs.temperature,
        "messages": messages,
    }
    if inputs.system_prompt:
        payload["system"] = [
            {"type": "text", "text": inputs.system_prompt, "cache_control": _EPHEMERAL}
        ]
    if inputs.tools:
        tools = list(inputs.tools)
        if isinstance(tools[-1], dict):
            tools[-1] = {**tools[-1], "cache_control": _EPHEMERAL}
        payload["tools"] = tools
    if inputs.streaming:
        payload["stream"] = True
    return payload


def _tool_turn(blocks: list[dict[str, Any]], sent: list[Any]) -> ToolTurn:
    """tool_use blocks as requests; the assistant turn keeps them and any non-empty text."""
    requests, content = [], []
    for block in blocks:
        if block.get("type") == "tool_use":
            given = block.get("input")
            call = {
                "id": str(block.get("id") or ""),
                "name": str(block.get("name") or ""),
                "input": given if isinstance(given, dict) else {},
            }
            requests.append(call)
            content.append({"type": "tool_use", **call})
        elif block.get("type") == "text" and block.get("text"):
            content.append({"type": "text", "text": str(block["text"])})
    return ToolTurn(requests, [*sent, {"role": "assistant", "content": content}])


def _whole(body: bytes, model: str, sent: list[Any]) -> Reply:
    document = parse_json("Anthropic", body)
    if not isinstance(document, dict):
        document = {}
    blocks = [block for block in document.get("content") or [] if isinstance(block, dict)]
    # Text beside tool calls is joined line by line, a final answer as one text.
    separator = "\n" if document.get("stop_reason") == "tool_use" else ""
    text = separator.join(
        str(block.get("text") or "") for block in blocks if block.get("type") == "text"
    )
    usage = document.get("usage") or {}
    return Reply(
        text=text,
        model=str(document.get("model") or model),
        stop_reason=str(document.get("stop_reason") or ""),
        usage={key: int(usage.get(key) or 0) for key in _USAGE_KEYS},
        tool_calls=sum(1 for block in blocks if block.get("type") == "tool_use"),
        tool_turn=_tool_turn(blocks, sent) if document.get("stop_reason") == "tool_use" else None,
    )


def _streamed(body: bytes, model: str) -> Reply:
    text: list[str] = []
    usage = {key: 0 for key in _USAGE_KEYS}
    stop_reason, reply_model, tool_calls = "", model, 0
    for event in server_sent_events(body):
        if not isinstance(event, dict):
            continue
        kind = event.get("type")
        if kind == "message_start":
            message = event.get("message") or {}
            reply_model = str(message.get("model") or reply_model)
            usage["input_tokens"] = int((message.get("usage") or {}).get("input_tokens") or 0)
        elif kind == "content_block_start":
            if (event.get("content_block") or {}).get("type") == "tool_use":
                tool_calls += 1
        elif kind == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") == "text_delta":
                text.append(str(delta.get("text") or ""))
        elif kind == "message_delta":
            stop_reason = str((event.get("delta") or {}).get("stop_reason") or stop_reason)
            output = (event.get("usage") or {}).get("output_tokens")
            if output is not None:
                usage["output_tokens"] = int(output)
    return Reply("".join(text), reply_model, stop_reason, usage, tool_calls)


def run(ctx: ActionContext) -> Outputs:
    """One Messages call; ``{response, model, input_tokens, output_tokens, stop_reason, ...}``."""
    inputs = read_chat_inputs(
        ctx,
        default_model=_DEFAULT_MODEL,
        default_max_tokens=8192,
        default_endpoint=_DEFAULT_ENDPOINT,
    )
    headers = {"x-api-key": inputs.api_key, "anthropic-version": _API_VERSION}
    payload = _payload(inputs)
    body = post(
        ctx,
        "Anthropic",
        f"{inputs.endpoint}/messages",
        headers,
        payload,
        timeout_s=120,
        stream=inputs.streaming,
    )
    if inputs.streaming:
        reply = _streamed(body, inputs.model)
    else:
        reply = _whole(body, inputs.model, payload["messages"])
    # Upstream's tool-call turn also says response_mode text.
    return finish(
        reply, _USAGE_KEYS, inputs, {"response_mode": "text"} if reply.tool_turn else None
    )
