"""Secrets the executor fetches are masked in everything it reports (docs/security.md §2.1).

The runner cannot mask these: it never sees them. A real executor process resolves
``${secret.db}`` from an environment API on 127.0.0.1, a bash node prints it (plainly and in
base64) and a later node copies it into a flow output.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from executor.engine_harness import edge, flow_document, node, run_cli, value
from fixtures.http_peer import Recorded, Reply, http_peer

SECRET = "db-pass-Zq81!x"
EXECUTION_ID = "exec-1"


def _environment_api(request: Recorded) -> Reply:
    """Environment ``prod`` (docs/protocol.md §4.7) holding secret ``db``; 404 for anything else."""
    base = f"/api/v1/execution/{EXECUTION_ID}/environment"
    path = request.path.split("?", 1)[0]
    answers = {f"{base}/prod": {"id": "env-1"}, f"{base}/env-1/secret/db": {"value": SECRET}}
    body = json.dumps(answers.get(path, {"error": "not found"})).encode()
    return 200 if path in answers else 404, {}, body


@pytest.fixture
def api_url() -> Iterator[str]:
    with http_peer(_environment_api) as peer:
        yield f"http://127.0.0.1:{peer.port}"


def test_fetched_secret_is_masked_in_events_logs_and_state(tmp_path: Path, api_url: str) -> None:
    """A fetched secret printed by a script, base64-encoded or copied on, never appears in the
    executor's stdout, stderr or state.json."""
    script = 'echo "pw=${secret.db}"; printf %s "${secret.db}" | base64; echo done'
    document = flow_document(
        [
            node("t", "trigger/manual", 1),
            node("s", "script/bash", inputs=[value("script", script, "text")]),
            node("o", "output/set", 3, [value("name", "copy"), value("value", "${s.stdout}")]),
        ],
        [edge("t", "s"), edge("s", "o")],
    )
    (tmp_path / "execution.flow").write_text(document, encoding="utf-8")
    completed = run_cli(
        [
            *("--output", "json", "--path", "execution.flow", "--id", EXECUTION_ID),
            *("--api", api_url, "--environment", "prod", "--token", "t"),
        ],
        tmp_path,
    )
    assert completed.returncode == 0, completed.stderr
    state_text = (tmp_path / "state.json").read_text(encoding="utf-8")
    state = json.loads(state_text)
    assert state["status"] == 0, state
    assert "done" in state["node_results"]["s"]["outputs"]["stdout"]
    encoded = base64.b64encode(SECRET.encode()).decode()
    for text in (completed.stdout, completed.stderr, state_text):
        assert SECRET not in text
        assert encoded not in text
    assert "pw=********" in state["outputs"]["copy"]
