"""``ai/azure_openai``: send a prompt to an Azure OpenAI deployment (flomation-co/executor:
actions/ai/azure_openai/action.go): the OpenAI wire format with the key in the ``api-key``
header, the deployment in the URL path (no model in the body), an ``api-version`` query
parameter (default 2024-10-21), ``endpoint`` or ``resource_name`` for the base URL, optional
sampling controls and JSON / JSON-schema response formats. See ``_chat`` for the shared
behaviour and differences."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from flomation.executor.accessors import read_string
from flomation.executor.actions.ai._chat import (
    COMMON_DIFFERENCES,
    common_inputs,
    finish,
    openai_outputs,
    read_chat_inputs,
)
from flomation.executor.actions.ai._openai_family import USAGE_KEYS, chat, messages, sampling
from flomation.executor.actions.base import (
    ActionContext,
    ActionSpec,
    Connection,
    HardError,
    Outputs,
)

__all__ = ["SPEC", "run"]

_DEFAULT_API_VERSION = "2024-10-21"
_COMMON = common_inputs(
    key_placeholder="Key 1 or Key 2 from the Azure OpenAI resource", max_tokens_placeholder="2048"
)

SPEC = ActionSpec(
    id="ai/azure_openai",
    name="Azure OpenAI Prompt",
    description="Send a prompt to an Azure OpenAI deployment and return the response",
    icon="brain+cloud",
    author="Dave McElin",
    inputs=(
        _COMMON[0],
        Connection("resource_name", "string", "Resource Name"),
        Connection("endpoint", "string", "Custom Endpoint"),
        Connection("deployment", "string", "Deployment", required=True),
        Connection("api_version", "string", "API Version", placeholder=_DEFAULT_API_VERSION),
        *_COMMON[2:6],
        Connection("top_p", "string", "Top P", placeholder="1.0"),
        Connection("frequency_penalty", "string", "Frequency Penalty"),
        Connection("presence_penalty", "string", "Presence Penalty"),
        Connection(
            "response_format",
            "string",
            "Response Format",
            options=(
                {"name": "Text", "value": "text"},
                {"name": "JSON", "value": "json_object"},
                {"name": "JSON Schema", "value": "json_schema"},
            ),
        ),
        Connection(
            "json_schema",
            "text",
            "JSON Schema",
            visible_when={"field": "response_format", "values": ["json_schema"]},
        ),
        _COMMON[6],
        Connection("tool_definitions", "text", "Tool Definitions (JSON)"),
    ),
    outputs=openai_outputs(),
    extra={"differences": list(COMMON_DIFFERENCES[1:])},
)


def _base_url(ctx: ActionContext) -> str:
    endpoint = (read_string(ctx.inputs, "endpoint") or "").strip().rstrip("/")
    if endpoint:
        return endpoint
    resource = (read_string(ctx.inputs, "resource_name") or "").strip()
    if resource:
        return f"https://{resource}.openai.azure.com"
    raise HardError("either endpoint or resource_name is required")


def _response_format(ctx: ActionContext, payload: dict[str, Any]) -> None:
    chosen = (read_string(ctx.inputs, "response_format") or "").strip().lower()
    if chosen == "json":
        chosen = "json_object"
    if chosen == "json_object":
        payload["response_format"] = {"type": "json_object"}
    elif chosen == "json_schema":
        raw = (read_string(ctx.inputs, "json_schema") or "").strip()
        if not raw:
            raise HardError("json_schema is required when Response Format is JSON Schema")
        try:
            schema = json.loads(raw)
        except ValueError as error:
            raise HardError(f"json_schema is not valid JSON: {error}") from None
        payload["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "response", "strict": True, "schema": schema},
        }
    elif chosen not in ("", "text"):
        ctx.log("warning", "[azure_openai] invalid response_format; falling back to text")


def run(ctx: ActionContext) -> Outputs:
    """One chat completion against the deployment."""
    inputs = read_chat_inputs(ctx, default_model="", default_max_tokens=2048, default_endpoint="")
    inputs.streaming = False
    deployment = (read_string(ctx.inputs, "deployment") or "").strip()
    if not deployment:
        raise HardError("deployment is required — the Azure deployment name, not a model id")
    base = _base_url(ctx)
    version = (read_string(ctx.inputs, "api_version") or "").strip() or _DEFAULT_API_VERSION
    url = (
        f"{base}/openai/deployments/{quote(deployment, safe='')}/chat/completions"
        f"?api-version={quote(version, safe='')}"
    )
    payload: dict[str, Any] = {
        "messages": messages(inputs),
        "max_tokens": inputs.max_tokens,
        "temperature": inputs.temperature,
    }
    sampling(ctx, payload)
    _response_format(ctx, payload)
    reply = chat(
        ctx, "Azure OpenAI", url, {"api-key": inputs.api_key}, inputs, payload, timeout_s=360
    )
    return finish(reply, USAGE_KEYS, inputs)
