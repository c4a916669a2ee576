"""``ai/openai``: send a prompt to the OpenAI Chat Completions API (flomation-co/executor:
actions/ai/openai/action.go); see ``_chat`` for the shared behaviour and differences."""

from __future__ import annotations

from flomation.executor.actions.ai._chat import (
    COMMON_DIFFERENCES,
    common_inputs,
    endpoint_input,
    openai_outputs,
    read_chat_inputs,
)
from flomation.executor.actions.ai._openai_family import base_payload, bearer_completion
from flomation.executor.actions.base import ActionContext, ActionSpec, Connection, Outputs

__all__ = ["SPEC", "run"]

_DEFAULT_ENDPOINT = "https://api.openai.com/v1"

SPEC = ActionSpec(
    id="ai/openai",
    name="OpenAI Prompt",
    description="Send a prompt to the OpenAI Chat Completions API and return the response",
    icon="brain",
    inputs=(
        *common_inputs(
            key_placeholder="sk-...",
            max_tokens_placeholder="2048",
            models=(
                "gpt-4o",
                "gpt-4o-mini",
                "gpt-4.1",
                "gpt-4.1-mini",
                "gpt-4.1-nano",
                "o3",
                "o3-mini",
                "o4-mini",
            ),
        ),
        Connection("tool_definitions", "text", "Tool Definitions (JSON)"),
        Connection("streaming", "boolean", "Streaming"),
        endpoint_input(_DEFAULT_ENDPOINT),
    ),
    outputs=openai_outputs(),
    extra={"differences": list(COMMON_DIFFERENCES)},
)


def run(ctx: ActionContext) -> Outputs:
    """One chat completion; ``{response, model, *_tokens, should_respond, ...}``."""
    inputs = read_chat_inputs(
        ctx, default_model="gpt-4o", default_max_tokens=2048, default_endpoint=_DEFAULT_ENDPOINT
    )
    return bearer_completion(ctx, "OpenAI", inputs, base_payload(inputs))
