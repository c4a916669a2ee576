"""``ai/ollama``: chat with a model on your own Ollama server through its native ``/api/chat``
(flomation-co/executor: actions/ai/ollama/action.go).

``endpoint`` is the server's base URL (a pasted ``/api`` or ``/api/chat`` suffix is accepted);
``api_key`` is optional (sent as a Bearer token for an authenticating proxy); ``model`` is
required. Every sampling and runtime option is left out of ``options`` unless set, so the model's
defaults apply; ``format``, ``keep_alive`` and ``think`` are top-level; ``stream`` is false.
Usage: ``prompt_eval_count`` and ``eval_count``. See ``_chat`` for the shared behaviour and
differences (the endpoint is an upstream input here).
"""

from __future__ import annotations

import json
from typing import Any

from flomation.executor.accessors import find_input, read_bool, read_number, read_string
from flomation.executor.actions.ai._chat import (
    COMMON_DIFFERENCES,
    ChatInputs,
    Reply,
    ToolTurn,
    finish,
    openai_outputs,
    parse_json,
    post,
    read_chat_inputs,
)
from flomation.executor.actions.ai._openai_family import messages, optional_float
from flomation.executor.actions.base import (
    ActionContext,
    ActionSpec,
    Connection,
    HardError,
    Outputs,
)

__all__ = ["SPEC", "run"]

_ADVANCED = {"field": "advanced", "values": ["show"]}
_FLOAT_OPTIONS = (
    "temperature",
    "top_p",
    "min_p",
    "repeat_penalty",
    "frequency_penalty",
    "presence_penalty",
)
_INTEGER_OPTIONS = (
    "top_k",
    "seed",
    "num_ctx",
    "repeat_last_n",
    "num_batch",
    "num_gpu",
    "main_gpu",
    "num_thread",
)
_BOOLEAN_OPTIONS = ("low_vram", "use_mlock", "use_mmap", "penalize_newline")
_THINK = {"on": True, "off": False, "low": "low", "medium": "medium", "high": "high"}


def _advanced(name: str, kind: str, label: str) -> Connection:
    return Connection(name, kind, label, visible_when=_ADVANCED)


SPEC = ActionSpec(
    id="ai/ollama",
    name="Ollama Prompt",
    description=(
        "Send a prompt to a model running on your own Ollama server and return the response"
    ),
    icon="brain+server",
    author="Dave McElin",
    inputs=(
        Connection(
            "endpoint",
            "string",
            "Ollama Server URL",
            placeholder="http://localhost:11434",
            required=True,
        ),
        Connection("api_key", "secret", "API Key", secret=True),
        Connection("model", "string", "Model", placeholder="llama3.2", required=True),
        Connection("system_prompt", "text", "System Prompt"),
        Connection("prompt", "text", "Prompt", required=True),
        Connection("conversation_history", "object", "Conversation History"),
        Connection("max_tokens", "integer", "Max Tokens", placeholder="1024 (-1 = unlimited)"),
        Connection("temperature", "string", "Temperature", placeholder="0.8"),
        Connection(
            "response_format",
            "string",
            "Response Format",
            options=({"name": "Text", "value": "text"}, {"name": "JSON", "value": "json"}),
        ),
        Connection(
            "think",
            "string",
            "Thinking",
            options=tuple(
                {"name": name, "value": value}
                for name, value in (
                    ("Model Default", "default"),
                    ("On", "on"),
                    ("Off", "off"),
                    ("On (Low Effort)", "low"),
                    ("On (Medium Effort)", "medium"),
                    ("On (High Effort)", "high"),
                )
            ),
        ),
        Connection(
            "advanced",
            "string",
            "Advanced Options",
            options=({"name": "Hide", "value": "hide"}, {"name": "Show", "value": "show"}),
        ),
        _advanced("top_p", "string", "Top P"),
        _advanced("top_k", "integer", "Top K"),
        _advanced("min_p", "string", "Min P"),
        _advanced("seed", "integer", "Seed"),
        _advanced("stop", "string", "Stop Sequences"),
        _advanced("keep_alive", "string", "Keep Alive"),
        _advanced("num_ctx", "integer", "Context Length"),
        _advanced("repeat_penalty", "string", "Repetition Penalty"),
        _advanced("repeat_last_n", "integer", "Repeat Window"),
        _advanced("frequency_penalty", "string", "Frequency Penalty"),
        _advanced("presence_penalty", "string", "Presence Penalty"),
        _advanced("num_batch", "integer", "Prompt Batch Size"),
        _advanced("num_gpu", "integer", "GPU Layers"),
        _advanced("main_gpu", "integer", "Main GPU"),
        _advanced("num_thread", "integer", "CPU Threads"),
        _advanced("low_vram", "boolean", "Low VRAM Mode"),
        _advanced("use_mlock", "boolean", "Lock Model in RAM (mlock)"),
        _advanced("use_mmap", "boolean", "Memory-Map Model (mmap)"),
        _advanced("penalize_newline", "boolean", "Penalize Newlines"),
        Connection("tool_definitions", "text", "Tool Definitions (JSON)"),
    ),
    outputs=openai_outputs(Connection("thinking", "string", "Thinking")),
    extra={"differences": list(COMMON_DIFFERENCES[1:])},
)


def _chat_url(endpoint: str) -> str:
    base = endpoint.strip().rstrip("/")
    for suffix in ("/api/chat", "/api"):
        base = base.removesuffix(suffix)
    return base + "/api/chat"


def _options(ctx: ActionContext) -> dict[str, Any]:
    options: dict[str, Any] = {}
    max_tokens = read_number(ctx.inputs, "max_tokens")
    if max_tokens is not None and (max_tokens > 0 or max_tokens == -1):
        options["num_predict"] = max_tokens
    for name in _FLOAT_OPTIONS:
        value = optional_float(ctx, name)
        if value is not None:
            options[name] = value
    for name in _INTEGER_OPTIONS:
        number = read_number(ctx.inputs, name)
        if number is not None:
            options[name] = number
    for name in _BOOLEAN_OPTIONS:
        flag = read_bool(ctx.inputs, name)
        if flag is not None:
            options[name] = flag
    stops = [part.strip() for part in (read_string(ctx.inputs, "stop") or "").split(",")]
    if any(stops):
        options["stop"] = [part for part in stops if part]
    return options


def _format(ctx: ActionContext) -> Any:
    item = find_input(ctx.inputs, "response_format")
    if item is None or item.value is None:
        return None
    if isinstance(item.value, dict):
        return item.value  # a JSON schema for structured output
    text = str(item.value).strip()
    if text.lower() == "json":
        return "json"
    if text.startswith("{"):
        try:
            return json.loads(text)
        except ValueError:
            return None
    return None


def _messages(inputs: ChatInputs) -> list[Any]:
    """The chat messages; inside the tool loop the carried ones plus one ``tool`` message per
    result, named (``tool_name``) after the call of the last assistant turn with its id."""
    if inputs.resumed is None:
        return messages(inputs)
    conversation = list(inputs.resumed.conversation)
    names: dict[str, str] = {}
    for message in reversed(conversation):
        if isinstance(message, dict) and message.get("role") == "assistant":
            for call in message.get("tool_calls") or ():
                if isinstance(call, dict):
                    names[str(call.get("id"))] = str((call.get("function") or {}).get("name") or "")
            break
    for result in inputs.resumed.results:
        tool: dict[str, Any] = {"role": "tool", "content": result.get("content")}
        name = names.get(str(result.get("tool_use_id")), "")
        if name:
            tool["tool_name"] = name
        conversation.append(tool)
    return conversation


def _tool_turn(message: dict[str, Any], sent: list[Any]) -> ToolTurn | None:
    """Ollama's tool calls carry no id: ``call_<messages sent>_<index>`` (kept in the state)."""
    calls = [call for call in message.get("tool_calls") or [] if isinstance(call, dict)]
    if not calls:
        return None
    requests, kept = [], []
    for index, call in enumerate(calls):
        function = call.get("function") or {}
        arguments = function.get("arguments")
        given = arguments if isinstance(arguments, dict) else {}
        call_id = f"call_{len(sent)}_{index}"
        name = str(function.get("name") or "")
        requests.append({"id": call_id, "name": name, "input": given})
        kept.append(
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": given}}
        )
    assistant: dict[str, Any] = {
        "role": "assistant",
        "content": str(message.get("content") or ""),
        "tool_calls": kept,
    }
    if message.get("thinking"):
        assistant["thinking"] = message["thinking"]
    return ToolTurn(requests, [*sent, assistant])


def run(ctx: ActionContext) -> Outputs:
    """One native chat call; ``{response, thinking, model, *_tokens, should_respond, ...}``."""
    endpoint = read_string(ctx.inputs, "endpoint") or ""
    if not endpoint:
        raise HardError("endpoint is required")
    if not read_string(ctx.inputs, "model"):
        raise HardError("model is required")
    inputs = read_chat_inputs(
        ctx, default_model="", default_max_tokens=0, default_endpoint="", require_api_key=False
    )
    sent = _messages(inputs)
    payload: dict[str, Any] = {"model": inputs.model, "messages": sent, "stream": False}
    options = _options(ctx)
    if options:
        payload["options"] = options
    response_format = _format(ctx)
    if response_format is not None:
        payload["format"] = response_format
    keep_alive = (read_string(ctx.inputs, "keep_alive") or "").strip()
    if keep_alive:
        payload["keep_alive"] = keep_alive
    think = _THINK.get((read_string(ctx.inputs, "think") or "").strip().lower())
    if think is not None:
        payload["think"] = think
    if inputs.tools:
        payload["tools"] = inputs.tools
    api_key = inputs.api_key.strip()
    headers = {"Authorization": "Bearer " + api_key} if api_key else {}
    body = post(ctx, "Ollama", _chat_url(endpoint), headers, payload, timeout_s=360)
    document = parse_json("Ollama", body)
    if not isinstance(document, dict):
        raise HardError("failed to parse Ollama response: not an object")
    message = document.get("message") or {}
    prompt_tokens = int(document.get("prompt_eval_count") or 0)
    completion_tokens = int(document.get("eval_count") or 0)
    tool_calls = len(message.get("tool_calls") or [])
    reply = Reply(
        text=str(message.get("content") or ""),
        model=str(document.get("model") or inputs.model),
        stop_reason="tool_calls" if tool_calls else "",
        usage={
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
        tool_calls=tool_calls,
        tool_turn=_tool_turn(message, sent),
    )
    thinking = {"thinking": str(message.get("thinking") or "")}
    return finish(reply, ("prompt_tokens", "completion_tokens", "total_tokens"), inputs, thinking)
