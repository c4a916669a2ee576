"""``ai/openrouter``: send a prompt to any model through OpenRouter (flomation-co/executor:
actions/ai/openrouter/action.go): the OpenAI wire format plus the sampling controls OpenRouter
forwards (``top_p``, ``frequency_penalty``, ``presence_penalty``, JSON ``response_format``),
its attribution headers, and the ``provider`` and ``cost`` it reports. See ``_chat`` for the
shared behaviour and differences."""

from __future__ import annotations

from flomation.executor.accessors import read_string
from flomation.executor.actions.ai._chat import (
    COMMON_DIFFERENCES,
    common_inputs,
    endpoint_input,
    finish,
    openai_outputs,
    parse_json,
    post,
    read_chat_inputs,
)
from flomation.executor.actions.ai._openai_family import (
    USAGE_KEYS,
    base_payload,
    parse_whole,
    sampling,
)
from flomation.executor.actions.base import ActionContext, ActionSpec, Connection, Outputs

__all__ = ["SPEC", "run"]

_DEFAULT_ENDPOINT = "https://openrouter.ai/api/v1"
_DEFAULT_MODEL = "openai/gpt-5.4-mini"
_ATTRIBUTION = {"HTTP-Referer": "https://www.flomation.co", "X-Title": "Flomation"}

SPEC = ActionSpec(
    id="ai/openrouter",
    name="OpenRouter Prompt",
    description=(
        "Send a prompt to any AI model through the OpenRouter unified API and return the response"
    ),
    icon="brain+route",
    author="Dave McElin",
    inputs=(
        *common_inputs(key_placeholder="sk-or-...", max_tokens_placeholder="2048"),
        Connection("top_p", "string", "Top P", placeholder="1.0"),
        Connection("frequency_penalty", "string", "Frequency Penalty", placeholder="0.0"),
        Connection("presence_penalty", "string", "Presence Penalty", placeholder="0.0"),
        Connection(
            "response_format",
            "string",
            "Response Format",
            options=({"name": "Text", "value": "text"}, {"name": "JSON", "value": "json"}),
        ),
        Connection("tool_definitions", "text", "Tool Definitions (JSON)"),
        endpoint_input(_DEFAULT_ENDPOINT),
    ),
    outputs=(
        *openai_outputs(),
        Connection("provider", "string", "Provider"),
        Connection("cost", "string", "Cost"),
    ),
    extra={"differences": list(COMMON_DIFFERENCES)},
)


def run(ctx: ActionContext) -> Outputs:
    """One chat completion through OpenRouter."""
    inputs = read_chat_inputs(
        ctx,
        default_model=_DEFAULT_MODEL,
        default_max_tokens=2048,
        default_endpoint=_DEFAULT_ENDPOINT,
    )
    payload = base_payload(inputs)
    sampling(ctx, payload)
    chosen_format = (read_string(ctx.inputs, "response_format") or "").strip().lower()
    if chosen_format in ("json", "json_object"):
        payload["response_format"] = {"type": "json_object"}
    if inputs.tools:
        payload["tools"] = inputs.tools
    headers = {"Authorization": "Bearer " + inputs.api_key, **_ATTRIBUTION}
    body = post(
        ctx, "OpenRouter", f"{inputs.endpoint}/chat/completions", headers, payload, timeout_s=360
    )
    reply = parse_whole("OpenRouter", body, inputs.model, payload["messages"])
    document = parse_json("OpenRouter", body)
    usage = document.get("usage") if isinstance(document, dict) else None
    cost = usage.get("cost") if isinstance(usage, dict) else None
    extra = {
        "provider": str(document.get("provider") or ""),
        "cost": "" if cost is None else str(cost),
    }
    return finish(reply, USAGE_KEYS, inputs, extra)
