"""Admin answers whose views mypy cannot tie to their types have the keys of those types.

flomation.server.views returns the queue, execution, runner and environment answers as their
TypedDicts (flomation.server.admin_answers), so mypy checks those. The flow and environment item
views build their answers key by key, and the revision answer is built in the route: these tests
keep them and the types the admin client returns for them to the same keys.
"""

from __future__ import annotations

import aiohttp

from flomation.server.admin_answers import (
    CredentialAnswer,
    FloAnswer,
    PropertyAnswer,
    RevisionAnswer,
    SecretAnswer,
)
from flomation.server.admin_client import AdminClient
from flomation.server.embedded import EmbeddedServer

from .runner_client import FLOW


async def test_flo_and_revision_answers_have_their_types_keys(
    server: EmbeddedServer, admin: AdminClient, http: aiohttp.ClientSession
) -> None:
    """A flow answer has FloAnswer's required keys, plus its optional keys when the flow has an
    organisation and an author; a revision answer has RevisionAnswer's keys."""
    public = await admin.create_flo("public", FLOW)
    body = {"name": "owned", "data": FLOW, "organisation_id": "acme", "author_id": "ann"}
    headers = {"Authorization": f"Bearer {server.admin_token}"}
    async with http.post(server.url + "/api/v1/flo", json=body, headers=headers) as response:
        assert response.status == 201, await response.text()
        owned = await response.json()
    revision = await admin.add_revision(public["id"], FLOW)
    assert set(public) == FloAnswer.__required_keys__
    assert set(owned) == FloAnswer.__required_keys__ | FloAnswer.__optional_keys__
    assert set(revision) == RevisionAnswer.__required_keys__


async def test_environment_item_answers_have_their_types_keys(admin: AdminClient) -> None:
    """Property, secret (with and without expiry) and credential answers have the keys of
    PropertyAnswer, SecretAnswer and CredentialAnswer."""
    environment = await admin.create_environment("prod")
    prop = await admin.put_property(environment["id"], "region", "eu-west-1")
    secret = await admin.put_secret(environment["id"], "token", "s3cr3t")
    expiring = await admin.put_secret(
        environment["id"], "key", "s3cr3t", provider="vault", expires_at="2030-01-01T00:00:00Z"
    )
    credential = await admin.put_credential(environment["id"], "aws", "v", metadata={"k": "v"})
    assert set(prop) == PropertyAnswer.__required_keys__
    assert set(secret) == SecretAnswer.__required_keys__
    assert set(expiring) == SecretAnswer.__required_keys__ | SecretAnswer.__optional_keys__
    assert set(credential) == CredentialAnswer.__required_keys__
