"""The AI tool loop (docs/flows.md §4.13) end to end: the engine, an ai/* node and a local server
speaking each provider's documented wire format.

The server first answers with a tool call; when asked again it checks that the tool's result came
back in the provider's format (OpenAI-style ``tool`` messages, Anthropic ``tool_result`` blocks,
Gemini ``functionResponse`` parts, Ollama ``tool`` messages named by ``tool_name``) and only then
answers with text, else it answers 400 and the node fails. Upstream pinned:
flomation-co/executor: flow.go executeNodeChildren (the ToolRequestsKey branch,
MaxToolRoundsDefault = 25) and actions/ai/{openai,groq,anthropic,gemini,ollama}/action.go.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from executor.engine_harness import Run, edge, flow_document, node, run_engine, value
from fixtures.http_peer import HttpPeer, Recorded, Reply, http_peer
from flomation.executor.tool_loop import (
    MAX_TOOL_ROUNDS,
    ai_targets,
    inject_tool_input,
    match_tool,
    tool_output,
)

KEY = "sk-tool-loop-KEY-0987654321"
_JSON = {"Content-Type": "application/json"}


def _json(document: Any, status: int = 200) -> Reply:
    return status, _JSON, json.dumps(document).encode()


@dataclass(frozen=True)
class Wire:
    """How one provider asks for a tool and how it expects the result back."""

    ask: Callable[[str, dict[str, Any]], dict[str, Any]]
    """(tool name, arguments) -> the reply asking for that tool."""
    answer: Callable[[str], dict[str, Any]]
    """text -> the final reply."""
    result_of: Callable[[dict[str, Any]], tuple[str, bool] | None]
    """The request body -> (content, is_error) of the tool result it carries, or None."""


def _openai_ask(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }
    return {
        "model": "m-1",
        "choices": [
            {"message": {"content": None, "tool_calls": [call]}, "finish_reason": "tool_calls"}
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


def _openai_answer(text: str) -> dict[str, Any]:
    return {
        "model": "m-1",
        "choices": [{"message": {"content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 4, "total_tokens": 11},
    }


def _openai_result(body: dict[str, Any]) -> tuple[str, bool] | None:
    messages = body["messages"]
    last, before = messages[-1], messages[-2]
    if last.get("role") != "tool":
        return None
    # The assistant turn that asked must precede the result, unchanged.
    assert before["role"] == "assistant" and before["tool_calls"][0]["id"] == "call_1"
    assert last["tool_call_id"] == "call_1"
    return str(last["content"]), False


def _anthropic_ask(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": "claude-x",
        "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": name, "input": arguments},
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 3, "output_tokens": 2},
    }


def _anthropic_answer(text: str) -> dict[str, Any]:
    return {
        "model": "claude-x",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 7, "output_tokens": 4},
    }


def _anthropic_result(body: dict[str, Any]) -> tuple[str, bool] | None:
    last, before = body["messages"][-1], body["messages"][-2]
    if last["role"] != "user" or not isinstance(last["content"], list):
        return None
    assert before["role"] == "assistant"
    assert [block["type"] for block in before["content"]] == ["text", "tool_use"]
    (block,) = last["content"]
    assert block["type"] == "tool_result" and block["tool_use_id"] == "toolu_1"
    return str(block["content"]), bool(block.get("is_error"))


def _gemini_ask(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    call = {"functionCall": {"name": name, "args": arguments}}
    return {
        "candidates": [{"content": {"role": "model", "parts": [call]}}],
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5},
    }


def _gemini_answer(text: str) -> dict[str, Any]:
    return {
        "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}}],
        "usageMetadata": {"promptTokenCount": 7, "candidatesTokenCount": 4, "totalTokenCount": 11},
        "modelVersion": "gemini-test",
    }


def _gemini_result(body: dict[str, Any]) -> tuple[str, bool] | None:
    last, before = body["contents"][-1], body["contents"][-2]
    parts = last.get("parts") or []
    if not parts or "functionResponse" not in parts[0]:
        return None
    assert before["role"] == "model" and "functionCall" in before["parts"][0]
    response = parts[0]["functionResponse"]
    assert last["role"] == "user"
    return str(response["response"]["content"]), bool(response["response"].get("error"))


def _ollama_ask(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    call = {"function": {"name": name, "arguments": arguments}}
    return {
        "model": "llama-test",
        "message": {"role": "assistant", "content": "", "tool_calls": [call]},
        "done": True,
        "prompt_eval_count": 3,
        "eval_count": 2,
    }


def _ollama_answer(text: str) -> dict[str, Any]:
    return {
        "model": "llama-test",
        "message": {"role": "assistant", "content": text},
        "done": True,
        "prompt_eval_count": 7,
        "eval_count": 4,
    }


def _ollama_result(body: dict[str, Any]) -> tuple[str, bool] | None:
    last, before = body["messages"][-1], body["messages"][-2]
    if last.get("role") != "tool":
        return None
    # Ollama pairs a result with its call by name; the call's synthesised id stays in the state.
    assert before["role"] == "assistant" and before["tool_calls"][0]["id"] == "call_1_0"
    assert last["tool_name"] == before["tool_calls"][0]["function"]["name"]
    assert "tool_call_id" not in last
    return str(last["content"]), False


OPENAI = Wire(_openai_ask, _openai_answer, _openai_result)
WIRES = {
    "ai/openai": OPENAI,
    "ai/groq": OPENAI,
    "ai/openrouter": OPENAI,
    "ai/azure_openai": OPENAI,
    "ai/anthropic": Wire(_anthropic_ask, _anthropic_answer, _anthropic_result),
    "ai/gemini": Wire(_gemini_ask, _gemini_answer, _gemini_result),
    "ai/ollama": Wire(_ollama_ask, _ollama_answer, _ollama_result),
}


@dataclass
class Model:
    """A scripted model: asks for ``tool`` first, then answers with the result it got back."""

    wire: Wire
    tool: str = "string_upper_case"
    arguments: dict[str, Any] = field(default_factory=lambda: {"value": "london"})
    always_ask: bool = False
    results: list[tuple[str, bool]] = field(default_factory=list)
    asked: bool = False

    def __call__(self, request: Recorded) -> Reply:
        if not self.asked:
            self.asked = True
            return _json(self.wire.ask(self.tool, self.arguments))
        result = self.wire.result_of(request.json())
        if result is None:
            return _json({"error": {"message": "tool result missing from the request"}}, 400)
        self.results.append(result)
        if self.always_ask:
            return _json(self.wire.ask(self.tool, self.arguments))
        return _json(self.wire.answer(f"It is {result[0]}."))


@pytest.fixture
def serve() -> Iterator[Callable[[Model], HttpPeer]]:
    """Start a local model server for one scripted model."""
    with contextlib.ExitStack() as peers:
        yield lambda model: peers.enter_context(http_peer(model))


def _flow(action: str, url: str, *, tool: str = "string/upper_case") -> str:
    inputs = [
        value("api_key", KEY, "secret"),
        value("prompt", "What is london in capitals?", "text"),
        value("endpoint", url),
        value("model", "test-model"),
        value("deployment", "dep"),
        value(
            "tool_definitions",
            json.dumps([{"type": "function", "function": {"name": "string_upper_case"}}]),
            "text",
        ),
    ]
    return flow_document(
        [
            node("t", "trigger/manual", 1),
            node("ai", action, inputs=inputs),
            node("tool", tool, inputs=[value("value", "")]),
            node("after", "string/lower_case", inputs=[value("value", "${ai.response}")]),
        ],
        [edge("t", "ai"), edge("ai", "tool", "tools"), edge("ai", "after")],
    )


def _outputs(run: Run, node_id: str) -> dict[str, Any]:
    record = run.result.records[node_id]
    assert record.status == "success", record.error
    return dict(record.outputs or {})


@pytest.mark.parametrize("action", sorted(WIRES))
def test_tool_loop_round_trip(
    tmp_path: Path, serve: Callable[[Model], HttpPeer], action: str
) -> None:
    """The model's tool call runs the tools-handle node; its result goes back in the provider's
    format and the final answer flows on to the node on the default handle."""
    model = Model(WIRES[action])
    peer = serve(model)
    run = run_engine(tmp_path, _flow(action, peer.url))
    assert len(peer.requests) == 2
    assert model.results == [("LONDON", False)]
    final = _outputs(run, "ai")
    assert final["response"] == "It is LONDON." and final["tool_calls_count"] == 1
    assert "__tool_requests" not in final
    assert _outputs(run, "after")["result"] == "it is london."
    assert run.count("ai", "success") == 2 and run.count("tool", "success") == 1
    assert run.engine.variables["tool.input.value"] == "london"
    assert KEY not in json.dumps(run.events, default=str)


def test_unknown_tool_and_tool_failure_are_results(
    tmp_path: Path, serve: Callable[[Model], HttpPeer]
) -> None:
    """A tool name no node matches, or a tool node that fails, goes back as an error result."""
    model = Model(WIRES["ai/anthropic"], tool="nope")
    peer = serve(model)
    run = run_engine(tmp_path, _flow("ai/anthropic", peer.url))
    assert model.results == [("Unknown tool: nope. Available tools: string/upper_case", True)]
    assert _outputs(run, "ai")["response"].startswith("It is Unknown tool: nope.")
    assert len(peer.requests) == 2

    failing = Model(WIRES["ai/anthropic"], tool="file_read", arguments={"file_path": "gone.txt"})
    peer = serve(failing)
    (tmp_path / "second").mkdir()
    run = run_engine(tmp_path / "second", _flow("ai/anthropic", peer.url, tool="file/read"))
    ((content, is_error),) = failing.results
    assert is_error and content.startswith("Tool execution error: failed to read file: ")
    assert run.result.records["tool"].status == "failed"
    assert _outputs(run, "ai")["response"].startswith("It is Tool execution error")


def test_max_rounds_bound(tmp_path: Path, serve: Callable[[Model], HttpPeer]) -> None:
    """A model that never stops asking is re-invoked 25 times at most (upstream's bound)."""
    model = Model(WIRES["ai/openai"], always_ask=True)
    peer = serve(model)
    run = run_engine(tmp_path, _flow("ai/openai", peer.url))
    assert len(peer.requests) == 1 + MAX_TOOL_ROUNDS
    final = _outputs(run, "ai")
    assert final["stop_reason"] == "tool_calls" and "__tool_requests" in final
    assert run.count("tool", "success") == MAX_TOOL_ROUNDS


def test_tool_matching_and_inputs() -> None:
    """Tool names match labels (tools/ prefix and sanitised forms); configured values stay."""
    tools = [("a", "web/request", ""), ("b", "tools/email_send", ""), ("c", "x", "named")]
    assert match_tool("web_request", tools) == 0
    assert match_tool("email_send", tools) == 1
    assert match_tool("tools/email_send", tools) == 1
    assert match_tool("named", tools) == 2
    assert match_tool("other", tools) is None
    snapshot = [
        {"name": "url", "type": "string", "value": "${var.base}"},
        {"name": "body", "type": "string", "value": ""},
    ]
    assert inject_tool_input(snapshot, {"url": "x", "body": {"k": 1}, "extra": 2}) == [
        {"name": "url", "type": "string", "value": "${var.base}"},
        {"name": "body", "type": "string", "value": {"k": 1}},
        {"name": "extra", "type": "string", "value": 2},
    ]
    assert snapshot[1]["value"] == ""


def test_tool_output_and_routing() -> None:
    """The tool result is the first usable output key; should_respond routes the AI node."""
    assert tool_output({"tool_result": "", "result": "r"}) == ("r", False)
    assert tool_output({"result": {"a": 1}}) == ('{"a":1}', False)
    assert tool_output({"other": 1}) == ('{"other":1}', False)
    assert tool_output({}) == ("Tool produced no output", True)
    edges = [("", "d"), ("tools", "t"), ("output", "o"), ("no_response", "n")]
    assert ai_targets(edges, {"should_respond": False}, looped=False) == ["n"]
    assert ai_targets(edges, {"should_respond": True}, looped=False) == ["o"]
    assert ai_targets(edges[:2], {"should_respond": True}, looped=False) == ["d"]
    assert ai_targets(edges, {"should_respond": True}, looped=True) == ["d", "o", "n"]
    assert ai_targets(edges, {"result": 1}, looped=False) is None
