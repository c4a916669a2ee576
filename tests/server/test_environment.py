"""Environment look-ups made by the executor (docs/protocol.md §4.7) backed by the admin API.

The admin side is docs/protocol.md §10.5.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from flomation.executor.environment import EnvironmentClient
from flomation.server.admin_client import AdminClient
from flomation.server.embedded import EmbeddedServer
from flomation.wire.signing import SIGNATURE_V2_HEADER, private_key_pem_pkcs1, sign_v1, sign_v2

from .databases import dump_database
from .runner_client import FLOW, SigningRunner, claim_new


async def _token_get(runner: SigningRunner, execution_id: str, suffix: str) -> Any:
    """A GET signed the executor's way: v1 signature of the execution id in ``?token=``."""
    token = sign_v1(runner.key, execution_id.encode())
    path = f"/api/v1/execution/{execution_id}/environment{suffix}?token={token}"
    return await runner.send("GET", path, v1=False)


async def test_executor_reads_properties_secrets_and_credentials(
    server: EmbeddedServer, runner: SigningRunner, admin: AdminClient, tmp_path: Path
) -> None:
    """With ``?token=`` the environment, a property, a decrypted secret and a credential resolve."""
    environment = await admin.create_environment("prod")
    await admin.put_property(environment["id"], "region", "eu-west-1")
    secret = await admin.put_secret(environment["id"], "db_password", "s3cr3t-value", provider="db")
    assert "value" not in secret and secret["provider"] == "db"
    credential = await admin.put_credential(
        environment["id"], "github", "ghp_token_value", metadata={"user": "bot"}
    )
    assert credential == {"name": "github", "metadata": {"user": "bot"}}
    flo = await admin.create_flo("f", FLOW, environment_id=environment["id"])
    execution_id = await claim_new(runner, admin, flo["id"])

    by_id = await _token_get(runner, execution_id, f"/{environment['id']}")
    by_name = await _token_get(runner, execution_id, "/prod")
    assert by_id.status == by_name.status == 200
    assert by_id.json == by_name.json == environment
    prop = await _token_get(runner, execution_id, "/prod/property/region")
    assert prop.json["value"] == "eu-west-1" and prop.json["name"] == "region"
    found = await _token_get(runner, execution_id, "/prod/secret/db_password")
    assert found.status == 200 and found.json["value"] == "s3cr3t-value"
    assert found.json["provider"] == "db"
    cred = await _token_get(runner, execution_id, "/prod/credential/github")
    assert cred.json == {"value": "ghp_token_value", "metadata": {"user": "bot"}}
    missing = await _token_get(runner, execution_id, "/prod/property/nope")
    assert missing.status == 404

    dump = dump_database(server.settings.database)
    assert "db_password" in dump
    assert "s3cr3t-value" not in dump and "ghp_token_value" not in dump
    if server.services.store.backend == "sqlite":
        assert (tmp_path / "state" / "secret-key").stat().st_mode & 0o777 == 0o600


async def test_other_environment_or_none_is_403(
    server: EmbeddedServer,
    http: aiohttp.ClientSession,
    runner: SigningRunner,
    admin: AdminClient,
) -> None:
    """An environment other than the flow's, or a flow without one, gives 403; unknown is 404."""
    prod = await admin.create_environment("prod")
    await admin.create_environment("staging")
    flo = await admin.create_flo("f", FLOW, environment_id=prod["id"])
    execution_id = await claim_new(runner, admin, flo["id"])
    assert (await _token_get(runner, execution_id, "/staging")).status == 403
    assert (await _token_get(runner, execution_id, "/nowhere")).status == 404
    bare = await admin.create_flo("bare", FLOW)
    bare_execution = await claim_new(runner, admin, bare["id"])
    assert (await _token_get(runner, bare_execution, "/prod")).status == 403
    unsigned = await runner.send(
        "GET", f"/api/v1/execution/{execution_id}/environment/prod", v1=False
    )
    assert unsigned.status == 403


async def test_duplicate_environment_name_is_409(admin: AdminClient) -> None:
    """Environment names are unique within an organisation."""
    await admin.create_environment("prod")
    await admin.create_environment("prod", organisation_id="acme")
    try:
        await admin.create_environment("prod")
    except Exception as exc:
        assert getattr(exc, "status", None) == 409
    else:
        raise AssertionError("a duplicate environment must be refused")


def _executor_lookup(url: str, execution_id: str, key_path: Path, name: str) -> Any:
    """The project executor's own client (--key: ``?token=`` plus a v2 header) reading a secret."""
    warnings: list[dict[str, Any]] = []

    def log(level: str, message: str, **fields: Any) -> None:
        warnings.append({"level": level, "message": message, **fields})

    client = EnvironmentClient(
        url, execution_id, "prod", str(key_path), None, None, None, "http://127.0.0.1:9", log
    )
    return client.resolve("secret", name), warnings


async def test_lookups_are_refused_once_the_execution_is_terminal(
    server: EmbeddedServer, runner: SigningRunner, admin: AdminClient, tmp_path: Path
) -> None:
    """Every signature form reads secrets while the execution runs and gets 403 once it ended."""
    environment = await admin.create_environment("prod")
    await admin.put_secret(environment["id"], "db_password", "s3cr3t-value")
    flo = await admin.create_flo("f", FLOW, environment_id=environment["id"])
    key_path = tmp_path / "runner.pem"
    key_path.write_bytes(private_key_pem_pkcs1(runner.key))
    path = "/prod/secret/db_password"

    async def every_form(execution_id: str) -> list[int]:
        full = f"/api/v1/execution/{execution_id}/environment{path}"
        v2 = sign_v2(runner.key, "GET", full, b"")
        answers = [
            await _token_get(runner, execution_id, path),  # the upstream executor's form
            await runner.get(execution_id, f"/environment{path}"),  # v1 header
            await runner.get(execution_id, f"/environment{path}", v1=False, v2=True),
            await runner.send("GET", full, v1=False, headers={SIGNATURE_V2_HEADER: v2}),
        ]
        return [answer.status for answer in answers]

    finished = await claim_new(runner, admin, flo["id"])
    cancelled = await claim_new(runner, admin, flo["id"])
    assert await every_form(finished) == [200, 200, 200, 200]
    value, _ = await asyncio.to_thread(
        _executor_lookup, server.url, finished, key_path, "db_password"
    )
    assert value == "s3cr3t-value"
    # The executor's other credential, a bearer token (--token), is no credential here at all.
    bearer = {"Authorization": f"Bearer {server.admin_token}"}
    full = f"/api/v1/execution/{finished}/environment{path}"
    assert (await runner.send("GET", full, v1=False, headers=bearer)).status == 403

    assert (await runner.result(finished)).status == 200
    await admin.cancel(cancelled)
    for execution_id in (finished, cancelled):
        assert await every_form(execution_id) == [403, 403, 403, 403]
        refused = await _token_get(runner, execution_id, path)
        assert "only readable while it runs" in refused.json["error"]
        value, warnings = await asyncio.to_thread(
            _executor_lookup, server.url, execution_id, key_path, "db_password"
        )
        assert value is None
        assert "HTTP 403" in warnings[-1]["error"]
    # The runner still learns the outcome of a finished execution.
    assert (await runner.status(cancelled)).json["completion_status"] == "cancel"
