"""The admin answers, their TypedDicts and the OpenAPI document name the same keys.

flomation.server.views returns the queue, execution, runner and environment answers as their
TypedDicts (flomation.server.admin_answers), so mypy checks those. The flow and environment item
views build their answers key by key, and the revision answer is built in the route: these tests
keep them and the types the admin client returns for them to the same keys. The OpenAPI
document's answer schemas (flomation.server.openapi) are written by hand: a test keeps them to
keys the types declare.
"""

from __future__ import annotations

import aiohttp

from flomation.server.admin_answers import (
    CredentialAnswer,
    EnvironmentAnswer,
    ExecutionAnswer,
    FloAnswer,
    PropertyAnswer,
    QueueAnswer,
    RevisionAnswer,
    RunnerAnswer,
    SecretAnswer,
)
from flomation.server.admin_client import AdminClient
from flomation.server.embedded import EmbeddedServer
from flomation.server.openapi import openapi_document

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


def test_openapi_answer_schemas_name_only_keys_of_their_types() -> None:
    """Each answer schema of the OpenAPI document lists keys its TypedDict declares and requires
    only keys the TypedDict requires (the Flo schema leaves out the fields that are constants)."""
    schemas = openapi_document()["components"]["schemas"]
    types = {
        "Queue": (QueueAnswer.__required_keys__, QueueAnswer.__optional_keys__),
        "Flo": (FloAnswer.__required_keys__, FloAnswer.__optional_keys__),
        "Revision": (RevisionAnswer.__required_keys__, RevisionAnswer.__optional_keys__),
        "Execution": (ExecutionAnswer.__required_keys__, ExecutionAnswer.__optional_keys__),
        "Runner": (RunnerAnswer.__required_keys__, RunnerAnswer.__optional_keys__),
        "Environment": (EnvironmentAnswer.__required_keys__, EnvironmentAnswer.__optional_keys__),
        "Property": (PropertyAnswer.__required_keys__, PropertyAnswer.__optional_keys__),
        "Secret": (SecretAnswer.__required_keys__, SecretAnswer.__optional_keys__),
        "Credential": (CredentialAnswer.__required_keys__, CredentialAnswer.__optional_keys__),
    }
    for name, (required, optional) in types.items():
        schema = schemas[name]
        assert set(schema["properties"]) <= required | optional, name
        assert set(schema["required"]) <= required, name
