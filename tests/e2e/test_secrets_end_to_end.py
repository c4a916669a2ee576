"""Acceptance of issue 13's masking: a secret from the environment and one from an environment
variable never reach the server's database, the runner's outbox or the logs in plaintext.

Real processes and files throughout: the embedded flomation-server on SQLite over loopback HTTP,
the runner's agent with its outbox file (the variable passed to the executor through
secret_env_passthrough), the real flomation-executor running a bash node that prints the secrets
plainly and base64-encoded (bash nodes run with a minimal environment, as upstream's do, so the
variable prints empty there; the runner's own masking of it is pinned by
tests/runner/test_execution.py).
"""

from __future__ import annotations

import asyncio
import base64
import os
import sys
from pathlib import Path
from urllib.parse import quote

from fixtures.agents import fast_agent
from fixtures.e2e_server import e2e_server_settings
from flomation.runner.config import RunnerConfig
from flomation.server.admin_client import AdminClient
from flomation.server.embedded import running_server
from flomation.wire.jsontext import JsonObject

ENVIRONMENT_SECRET = "env-secret-Q7w!p2"
VARIABLE_SECRET = "var-secret-Hk3$m9"


def _forms(secret: str) -> list[str]:
    return [secret, base64.b64encode(secret.encode()).decode(), quote(secret, safe="")]


def _bytes_under(directory: Path) -> bytes:
    return b"".join(path.read_bytes() for path in directory.rglob("*") if path.is_file())


async def test_secrets_never_stored_or_logged_in_plaintext(tmp_path: Path) -> None:
    """Both secrets, in every printed form, are absent from the server's database files, the
    runner's state directory (outbox) and the result and logs the admin API returns."""
    script = (
        'echo "env=${secret.db} var=$MY_API_TOKEN"\n'
        'printf %s "${secret.db}" | base64\n'
        'printf %s "$MY_API_TOKEN" | base64\n'
        "echo done\n"
    )
    flow: JsonObject = {
        "nodes": [
            {
                "id": "t",
                "type": "trigger/manual",
                "data": {"id": "t", "label": "t", "config": {"type": 1, "inputs": []}},
            },
            {
                "id": "s",
                "type": "script/bash",
                "data": {
                    "id": "s",
                    "label": "s",
                    "config": {
                        "type": 2,
                        "inputs": [{"name": "script", "type": "text", "value": script}],
                    },
                },
            },
        ],
        "edges": [{"id": "t-s", "source": "t", "target": "s"}],
    }
    async with (
        running_server(e2e_server_settings(tmp_path, poll_hold_s=0.5)) as server,
        AdminClient(server.url, server.admin_token) as admin,
    ):
        queue = await admin.create_queue("secrets")
        environment = await admin.create_environment("prod")
        await admin.put_secret(environment["id"], "db", ENVIRONMENT_SECRET)
        flo = await admin.create_flo(
            "leaky", flow, queue_id=queue["id"], environment_id=environment["id"]
        )
        for name in ("state", "exec"):
            (tmp_path / name).mkdir()
        config = RunnerConfig(
            url=server.url,
            registration_code=queue["registration_code"],
            certificate=tmp_path / "state" / "runner.pem",
            state_directory=tmp_path / "state",
            execution_directory=tmp_path / "exec",
            executable=(sys.executable, "-m", "flomation_executor"),
            min_free_disk_bytes=0,
            max_executions=1,
            secret_env_passthrough=("MY_API_TOKEN",),
        )
        agent = fast_agent(config, environ={**os.environ, "MY_API_TOKEN": VARIABLE_SECRET})
        execution_id = await admin.execute(flo["id"])
        assert await asyncio.wait_for(agent.run(), 60) == 0
        execution = await admin.get_execution(execution_id)
        assert execution["completion_status"] == "success", execution["result"]
        seen = [str(execution)]
        async for event in admin.stream(execution_id):
            seen.append(event.data)
    assert "done" in execution["result"]["node_results"]["s"]["outputs"]["stdout"]
    assert "env=********" in execution["result"]["node_results"]["s"]["outputs"]["stdout"]
    stored = _bytes_under(tmp_path / "server") + _bytes_under(tmp_path / "state")
    for secret in (ENVIRONMENT_SECRET, VARIABLE_SECRET):
        for form in _forms(secret):
            assert form.encode() not in stored, form
            assert all(form not in text for text in seen), form
