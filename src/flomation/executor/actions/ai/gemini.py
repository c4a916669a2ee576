"""``ai/gemini``: send a prompt to Google's Gemini API (flomation-co/executor:
actions/ai/gemini/action.go).

``POST {endpoint}/<model>:generateContent`` (``:streamGenerateContent?alt=sse`` when
``streaming``), key in the ``x-goog-api-key`` header, ``contents`` of ``{role, parts}`` (history
roles ``assistant`` become ``model``), the system prompt as ``systemInstruction``,
``generationConfig {temperature, maxOutputTokens}``, tool definitions as
``functionDeclarations``. Usage comes from ``usageMetadata``. See ``_chat`` for the shared
behaviour and differences.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flomation.executor.actions.ai._chat import (
    COMMON_DIFFERENCES,
    ChatInputs,
    Reply,
    ToolTurn,
    common_inputs,
    endpoint_input,
    finish,
    openai_outputs,
    parse_json,
    post,
    read_chat_inputs,
    server_sent_events,
)
from flomation.executor.actions.base import (
    ActionContext,
    ActionSpec,
    Connection,
    HardError,
    Outputs,
)

__all__ = ["SPEC", "run"]

_DEFAULT_ENDPOINT = "https://generativelanguage.googleapis.com/v1beta/models"
_DEFAULT_MODEL = "gemini-2.5-flash"
_USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens")

SPEC = ActionSpec(
    id="ai/gemini",
    name="Gemini Prompt",
    description="Send a prompt to Google's Gemini API and return the response",
    icon="brain+play",
    inputs=(
        *common_inputs(
            key_placeholder="AIza...",
            max_tokens_placeholder="8192",
            models=(
                "gemini-2.5-pro",
                _DEFAULT_MODEL,
                "gemini-2.5-flash-lite",
                "gemini-2.0-flash",
                "gemini-2.0-flash-lite",
            ),
        ),
        Connection("tool_definitions", "text", "Tool Definitions (JSON)"),
        Connection(
            "streaming", "boolean", "Streaming (fires response per sentence for low-latency voice)"
        ),
        endpoint_input(_DEFAULT_ENDPOINT),
    ),
    outputs=openai_outputs(),
    extra={"differences": list(COMMON_DIFFERENCES)},
)


def _declarations(tools: list[Any]) -> list[Any]:
    """Gemini's functionDeclarations from native entries or OpenAI-style ``{function: ...}``."""
    declarations: list[Any] = []
    for tool in tools:
        if not isinstance(tool, dict):
            continue
        if isinstance(tool.get("functionDeclarations"), list):
            declarations.extend(tool["functionDeclarations"])
        elif isinstance(tool.get("function"), dict):
            declarations.append(tool["function"])
        else:
            declarations.append(tool)
    return declarations


def _contents(inputs: ChatInputs) -> list[Any]:
    """History and prompt; inside the tool loop the carried contents plus one user turn of
    ``functionResponse`` parts (the name is the request id without its ``-<index>``)."""
    if inputs.resumed is not None:
        contents = list(inputs.resumed.conversation)
        parts = []
        for result in inputs.resumed.results:
            use_id = str(result.get("tool_use_id") or "")
            name = use_id[: use_id.rindex("-")] if use_id.rfind("-") > 0 else use_id
            response: dict[str, Any] = {"content": result.get("content")}
            if result.get("is_error"):
                response["error"] = True
            parts.append({"functionResponse": {"name": name, "response": response}})
        if parts:
            contents.append({"role": "user", "parts": parts})
        return contents
    contents = [
        {"role": "model" if role == "assistant" else role, "parts": [{"text": text}]}
        for role, text in inputs.history
    ]
    contents.append({"role": "user", "parts": [{"text": inputs.prompt}]})
    return contents


def _payload(inputs: ChatInputs) -> dict[str, Any]:
    contents = _contents(inputs)
    payload: dict[str, Any] = {
        "contents": contents,
        "generationConfig": {
            "temperature": inputs.temperature,
            "maxOutputTokens": inputs.max_tokens,
        },
    }
    if inputs.system_prompt:
        payload["systemInstruction"] = {"parts": [{"text": inputs.system_prompt}]}
    declarations = _declarations(inputs.tools)
    if declarations:
        payload["tools"] = [{"functionDeclarations": declarations}]
    return payload


def _usage(document: dict[str, Any]) -> dict[str, int]:
    metadata = document.get("usageMetadata") or {}
    return {
        "prompt_tokens": int(metadata.get("promptTokenCount") or 0),
        "completion_tokens": int(metadata.get("candidatesTokenCount") or 0),
        "total_tokens": int(metadata.get("totalTokenCount") or 0),
    }


def _parts(document: dict[str, Any]) -> tuple[str, int]:
    text, calls = [], 0
    for candidate in (document.get("candidates") or [])[:1]:
        for part in (candidate.get("content") or {}).get("parts") or []:
            if isinstance(part.get("text"), str):
                text.append(part["text"])
            if isinstance(part.get("functionCall"), dict) and part["functionCall"].get("name"):
                calls += 1
    return "".join(text), calls


def _tool_turn(document: dict[str, Any], sent: list[Any]) -> ToolTurn | None:
    """functionCall parts as requests with ids ``<name>-<index>`` (Gemini gives none); the
    model turn keeps every part (text and calls)."""
    candidate = (document.get("candidates") or [{}])[0]
    parts = [
        part
        for part in (candidate.get("content") or {}).get("parts") or []
        if isinstance(part, dict)
    ]
    requests: list[dict[str, Any]] = []
    kept: list[dict[str, Any]] = []
    for part in parts:
        kept_part: dict[str, Any] = {}
        if isinstance(part.get("text"), str) and part["text"]:
            kept_part["text"] = part["text"]
        call = part.get("functionCall")
        if isinstance(call, dict):
            kept_part["functionCall"] = call
            if call.get("name"):
                given = call.get("args")
                requests.append(
                    {
                        "id": f"{call['name']}-{len(requests)}",
                        "name": str(call["name"]),
                        "input": given if isinstance(given, dict) else {},
                    }
                )
        kept.append(kept_part)
    if not requests:
        return None
    return ToolTurn(requests, [*sent, {"role": "model", "parts": kept}])


def _whole(body: bytes, model: str, sent: list[Any]) -> Reply:
    document = parse_json("Gemini", body)
    if not isinstance(document, dict) or not document.get("candidates"):
        raise HardError("Gemini returned no candidates")
    text, calls = _parts(document)
    return Reply(
        text=text,
        model=str(document.get("modelVersion") or model),
        stop_reason="function_call" if calls else "",
        usage=_usage(document),
        tool_calls=calls,
        tool_turn=_tool_turn(document, sent),
    )


def _streamed(body: bytes, model: str) -> Reply:
    text: list[str] = []
    usage: dict[str, int] = {}
    reply_model, calls = model, 0
    for event in server_sent_events(body):
        if not isinstance(event, dict):
            continue
        piece, piece_calls = _parts(event)
        text.append(piece)
        calls += piece_calls
        if event.get("usageMetadata"):
            usage = _usage(event)
        reply_model = str(event.get("modelVersion") or reply_model)
    return Reply("".join(text), reply_model, "function_call" if calls else "", usage, calls)


def run(ctx: ActionContext) -> Outputs:
    """One generateContent call; ``{response, model, *_tokens, should_respond, ...}``."""
    inputs = read_chat_inputs(
        ctx,
        default_model=_DEFAULT_MODEL,
        default_max_tokens=8192,
        default_endpoint=_DEFAULT_ENDPOINT,
    )
    # A re-run inside the tool loop never streams: the loop needs the whole reply (as upstream).
    streaming = inputs.streaming and inputs.resumed is None
    method = ":streamGenerateContent?alt=sse" if streaming else ":generateContent"
    payload = _payload(inputs)
    body = post(
        ctx,
        "Gemini",
        f"{inputs.endpoint}/{quote(inputs.model, safe='')}{method}",
        {"x-goog-api-key": inputs.api_key},
        payload,
        timeout_s=120,
        stream=streaming,
    )
    if streaming:
        reply = _streamed(body, inputs.model)
    else:
        reply = _whole(body, inputs.model, payload["contents"])
    return finish(reply, _USAGE_KEYS, inputs)
