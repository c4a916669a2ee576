"""``ai/groq``: send a prompt to Groq's OpenAI-compatible API (flomation-co/executor:
actions/ai/groq/action.go); see ``_chat`` for the shared behaviour and differences."""

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

_DEFAULT_ENDPOINT = "https://api.groq.com/openai/v1"
_DEFAULT_MODEL = "llama-3.3-70b-versatile"

SPEC = ActionSpec(
    id="ai/groq",
    name="Groq Prompt",
    description="Send a prompt to the Groq Chat Completions API and return the response",
    icon="brain+bolt",
    author="Dave McElin",
    inputs=(
        *common_inputs(
            key_placeholder="gsk_...",
            max_tokens_placeholder="2048",
            models=(
                _DEFAULT_MODEL,
                "llama-3.1-8b-instant",
                "openai/gpt-oss-120b",
                "openai/gpt-oss-20b",
                "qwen/qwen3-32b",
                "groq/compound",
            ),
        ),
        Connection("tool_definitions", "text", "Tool Definitions (JSON)"),
        endpoint_input(_DEFAULT_ENDPOINT),
    ),
    outputs=openai_outputs(),
    extra={"differences": list(COMMON_DIFFERENCES)},
)


def run(ctx: ActionContext) -> Outputs:
    """One chat completion; ``{response, model, *_tokens, should_respond, ...}``."""
    inputs = read_chat_inputs(
        ctx,
        default_model=_DEFAULT_MODEL,
        default_max_tokens=2048,
        default_endpoint=_DEFAULT_ENDPOINT,
    )
    inputs.streaming = False  # upstream's Groq action never streams
    return bearer_completion(ctx, "Groq", inputs, base_payload(inputs))
