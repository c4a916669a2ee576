"""Environment look-ups made by the executor (protocol.md 4.7) backed by the admin API (10.5)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import aiohttp

from flomation.server.admin_client import AdminClient
from flomation.server.embedded import EmbeddedServer
from flomation.wire.signing import sign_v1

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

    database = tmp_path / "state" / "server.db"
    with sqlite3.connect(database) as conn:
        dump = "\n".join(conn.iterdump())
    assert "s3cr3t-value" not in dump and "ghp_token_value" not in dump
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
