"""The admin API described as an OpenAPI 3.1 document, and rendered as docs/admin-api.md.

The server answers ``GET /api/openapi.json`` with :func:`openapi_document` (no credentials needed:
it describes the API, it holds no data). Request bodies come from the strict pydantic models the
handlers parse (flomation.server.admin_bodies); answers are described by the schemas below, which
follow the views of flomation.server.views. A test keeps the document's operations equal to the
admin routes, and schemathesis drives the live server from it (no generated request may get a
5xx). ``python -m flomation.server.openapi`` rewrites docs/admin-api.md (``make reference``).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from flomation.server.admin_bodies import (
    CredentialPut,
    EnvironmentCreate,
    ExecuteRequest,
    FloCreate,
    PropertyPut,
    QueueCreate,
    ResumeRequest,
    RevisionCreate,
    RunnerPatch,
    SecretPut,
)
from flomation.version import distribution_version
from flomation.wire.models import COMPLETION_STATUSES, EXECUTION_STATUSES

__all__ = ["OPENAPI_PATH", "OPERATIONS", "Operation", "openapi_document", "openapi_markdown"]

OPENAPI_PATH = "/api/openapi.json"

_STRING = {"type": "string"}
_NULLABLE_STRING = {"type": ["string", "null"]}
_TIME = {"type": ["string", "null"], "format": "date-time"}
_ANY: dict[str, Any] = {}


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
    }


_SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": _object({"error": _STRING}),
    "Queue": _object(
        {
            "id": _STRING,
            "name": _STRING,
            "registration_code": _STRING,
            "organisation_id": _NULLABLE_STRING,
            "created_at": _TIME,
        }
    ),
    "Flo": _object(
        {
            "id": _STRING,
            "name": _STRING,
            "organisation_id": _STRING,
            "author_id": _STRING,
            "created_at": _TIME,
            "execution_count": {"type": "integer"},
            "last_run": _TIME,
            "environment_id": _NULLABLE_STRING,
            "environment_name": _NULLABLE_STRING,
            "queue_id": _NULLABLE_STRING,
            "system_flow": {"type": "boolean"},
        },
        required=["id", "name", "created_at", "execution_count", "queue_id"],
    ),
    "Revision": _object({"id": _STRING, "flo_id": _STRING, "created_at": _TIME}),
    "Created": _object({"id": _STRING}),
    "Execution": _object(
        {
            "id": _STRING,
            "flo_id": _STRING,
            "name": _STRING,
            "owner_id": _STRING,
            "organisation_id": _NULLABLE_STRING,
            "sequence": {"type": "integer"},
            "trigger_type": _NULLABLE_STRING,
            "entry_node_id": _NULLABLE_STRING,
            "data": _ANY,
            "execution_status": {"enum": list(EXECUTION_STATUSES)},
            "completion_status": {"enum": list(COMPLETION_STATUSES)},
            "completion_reason": _NULLABLE_STRING,
            "runner_id": _NULLABLE_STRING,
            "result": _ANY,
            "checkpoint": _ANY,
            "suspend_count": {"type": "integer"},
            "created_at": _TIME,
            "updated_at": _TIME,
            "allocated_at": _TIME,
            "started_at": _TIME,
            "completed_at": _TIME,
            "last_contact_at": _TIME,
            "log_bytes": {"type": "integer"},
            "log_truncated": {"type": "boolean"},
        }
    ),
    "Runner": _object(
        {
            "id": _STRING,
            "identifier": _STRING,
            "name": _STRING,
            "enrolled_at": _TIME,
            "last_contact_at": _TIME,
            "ip_address": _NULLABLE_STRING,
            "state": {"enum": ["active", "suspended", "terminated"]},
            "active": {"type": "boolean"},
            "version": _NULLABLE_STRING,
            "executor_version": _NULLABLE_STRING,
            "public_key": _NULLABLE_STRING,
            "verified": {"type": "boolean"},
            "queue_ids": {"type": "array", "items": _STRING},
        }
    ),
    "Environment": _object(
        {
            "id": _STRING,
            "name": _STRING,
            "owner_id": _NULLABLE_STRING,
            "organisation_id": _NULLABLE_STRING,
            "created_at": _TIME,
        }
    ),
    "Property": _object(
        {
            "id": _STRING,
            "environment_id": _STRING,
            "name": _STRING,
            "value": _STRING,
            "created_at": _TIME,
        }
    ),
    "Secret": _object(
        {
            "id": _STRING,
            "environment_id": _STRING,
            "name": _STRING,
            "provider": _NULLABLE_STRING,
            "expires_at": _STRING,
            "created_at": _TIME,
        },
        required=["id", "environment_id", "name", "provider", "created_at"],
    ),
    "Credential": _object({"name": _STRING, "metadata": _ANY}),
}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _list_of(name: str) -> dict[str, Any]:
    return {"type": "array", "items": _ref(name)}


@dataclass(frozen=True)
class Operation:
    """One admin endpoint: what it takes and what it answers."""

    method: str
    path: str
    summary: str
    success: int
    answer: dict[str, Any] | None
    body: type[BaseModel] | None = None
    body_optional: bool = False
    errors: dict[int, str] = field(default_factory=dict)
    query: tuple[tuple[str, dict[str, Any], str], ...] = ()
    answer_type: str = "application/json"


_NOT_FOUND = "no such id"
_INVALID = "invalid body: bad JSON, a missing or unknown field, a wrong type"

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "POST",
        "/api/v1/queue",
        "Create a queue with a fresh registration code",
        201,
        _ref("Queue"),
        QueueCreate,
        errors={400: _INVALID, 409: "a queue with that name exists"},
    ),
    Operation("GET", "/api/v1/queue", "List the queues, newest first", 200, _list_of("Queue")),
    Operation(
        "POST",
        "/api/v1/flo",
        "Create a flow; its data becomes revision 1",
        201,
        _ref("Flo"),
        FloCreate,
        errors={400: _INVALID + "; an unknown environment or queue"},
    ),
    Operation(
        "POST",
        "/api/v1/flo/{flo_id}/revision",
        "Add a revision; the newest is dispatched from now on",
        201,
        _ref("Revision"),
        RevisionCreate,
        errors={400: _INVALID, 404: _NOT_FOUND},
    ),
    Operation(
        "POST",
        "/api/v1/flo/{flo_id}/execute",
        "Execute a flow (trigger data and entry node optional); wakes waiting runners",
        201,
        _ref("Created"),
        ExecuteRequest,
        body_optional=True,
        errors={400: _INVALID, 404: _NOT_FOUND},
    ),
    Operation(
        "GET",
        "/api/v1/execution",
        "List executions, newest first",
        200,
        _list_of("Execution"),
        errors={400: "an unknown status or completion_status, or a bad limit"},
        query=(
            ("flo_id", _STRING, "only this flow's executions"),
            ("status", {"enum": list(EXECUTION_STATUSES)}, "execution_status to match"),
            ("completion_status", {"enum": list(COMPLETION_STATUSES)}, "completion to match"),
            ("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "at most (100)"),
        ),
    ),
    Operation(
        "GET",
        "/api/v1/execution/{execution_id}",
        "One execution",
        200,
        _ref("Execution"),
        errors={404: _NOT_FOUND},
    ),
    Operation(
        "POST",
        "/api/v1/execution/{execution_id}/cancel",
        "Cancel an execution in progress or suspended",
        200,
        _ref("Execution"),
        errors={404: _NOT_FOUND, 409: "the execution is not in progress"},
    ),
    Operation(
        "POST",
        "/api/v1/execution/{execution_id}/resume",
        "Put a suspended execution back in its queue, optionally with resume data",
        200,
        _ref("Execution"),
        ResumeRequest,
        body_optional=True,
        errors={400: _INVALID, 404: _NOT_FOUND, 409: "the execution is not suspended"},
    ),
    Operation(
        "GET",
        "/api/v1/execution/{execution_id}/stream",
        "Server-Sent Events: the stored log, then live lines, node events and status changes",
        200,
        {"type": "string"},
        errors={404: _NOT_FOUND},
        answer_type="text/event-stream",
    ),
    Operation(
        "GET",
        "/api/v1/runner",
        "List the runners (never their registration codes or manifests)",
        200,
        _list_of("Runner"),
    ),
    Operation(
        "PATCH",
        "/api/v1/runner/{runner_id}",
        "Pause (active false) or resume a runner",
        200,
        _ref("Runner"),
        RunnerPatch,
        errors={400: _INVALID, 404: _NOT_FOUND},
    ),
    Operation(
        "POST",
        "/api/v1/environment",
        "Create an environment",
        201,
        _ref("Environment"),
        EnvironmentCreate,
        errors={400: _INVALID, 409: "an environment with that name exists in the organisation"},
    ),
    Operation(
        "PUT",
        "/api/v1/environment/{environment_id}/property/{name}",
        "Create or replace a property",
        200,
        _ref("Property"),
        PropertyPut,
        errors={400: _INVALID, 404: _NOT_FOUND},
    ),
    Operation(
        "PUT",
        "/api/v1/environment/{environment_id}/secret/{name}",
        "Create or replace a secret (stored encrypted; the answer leaves the value out)",
        200,
        _ref("Secret"),
        SecretPut,
        errors={400: _INVALID, 404: _NOT_FOUND},
    ),
    Operation(
        "PUT",
        "/api/v1/environment/{environment_id}/credential/{name}",
        "Create or replace a credential (stored encrypted; the answer leaves the value out)",
        200,
        _ref("Credential"),
        CredentialPut,
        errors={400: _INVALID, 404: _NOT_FOUND},
    ),
)


def _parameters(operation: Operation) -> list[dict[str, Any]]:
    names = [part[1:-1] for part in operation.path.split("/") if part.startswith("{")]
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": _STRING} for name in names
    ]
    parameters += [
        {"name": name, "in": "query", "required": False, "schema": schema, "description": text}
        for name, schema, text in operation.query
    ]
    return parameters


def _response(description: str, schema: dict[str, Any], media_type: str) -> dict[str, Any]:
    return {"description": description, "content": {media_type: {"schema": schema}}}


def _operation(operation: Operation) -> dict[str, Any]:
    responses: dict[str, Any] = {
        str(operation.success): _response(
            "success", operation.answer or _ANY, operation.answer_type
        )
    }
    errors = {401: "no or wrong admin token", **operation.errors}
    if operation.body is not None:
        errors.setdefault(413, "request body too large")
    for status, text in sorted(errors.items()):
        responses[str(status)] = _response(text, _ref("Error"), "application/json")
    document: dict[str, Any] = {
        "summary": operation.summary,
        "operationId": f"{operation.method.lower()} {operation.path}",
        "responses": responses,
    }
    parameters = _parameters(operation)
    if parameters:
        document["parameters"] = parameters
    if operation.body is not None:
        schema = operation.body.model_json_schema(ref_template="#/components/schemas/{model}")
        document["requestBody"] = {
            "required": not operation.body_optional,
            "content": {"application/json": {"schema": schema}},
        }
    return document


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 description of the admin API (docs/protocol.md §10)."""
    paths: dict[str, dict[str, Any]] = {}
    for operation in OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method.lower()] = _operation(operation)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "flomation-server admin API",
            "version": distribution_version(),
            "description": "Queues, flows, executions, runners and environments of the "
            "reference control plane. Every operation needs the admin token as a bearer token.",
        },
        "servers": [{"url": "/"}],
        "security": [{"adminToken": []}],
        "paths": paths,
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}},
        },
    }


def _schema_text(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return f"`{schema['$ref'].rsplit('/', 1)[-1]}`"
    if schema.get("type") == "array" and "$ref" in schema.get("items", {}):
        return f"list of `{schema['items']['$ref'].rsplit('/', 1)[-1]}`"
    return f"`{schema.get('type', 'any')}`"


def _body_fields(model: type[BaseModel]) -> str:
    fields = []
    for name, info in model.model_fields.items():
        fields.append(f"`{name}`" + ("" if info.is_required() else "?"))
    return ", ".join(fields)


def openapi_markdown() -> str:
    """docs/admin-api.md: every operation of :func:`openapi_document` with its body and answers."""
    lines = [
        "# Admin API reference",
        "",
        "<!-- generated by flomation.server.openapi (make reference); do not edit -->",
        "",
        "`flomation-server` serves this API's OpenAPI 3.1 document at "
        f"`GET {OPENAPI_PATH}` (no credentials needed). Every operation below needs the admin "
        "token: `Authorization: Bearer <token>` (else 401). Errors are JSON "
        '`{"error": "<message>"}`. The behaviour behind each call is docs/protocol.md §10.',
        "",
        "| Method | Path | What it does | Body (`?` optional) | Success | Errors |",
        "|---|---|---|---|---|---|",
    ]
    for operation in OPERATIONS:
        body = _body_fields(operation.body) if operation.body is not None else ""
        if operation.body_optional and body:
            body += " (body optional)"
        query = ", ".join(f"`{name}`" for name, _, _ in operation.query)
        if query:
            body = f"query: {query}"
        answer = _schema_text(operation.answer or {})
        errors = ", ".join(str(status) for status in sorted({401, *operation.errors}))
        lines.append(
            f"| {operation.method} | `{operation.path}` | {operation.summary} | {body} | "
            f"{operation.success} {answer} | {errors} |"
        )
    lines += ["", "## Objects", ""]
    for name, schema in _SCHEMAS.items():
        required = set(schema.get("required", []))
        fields = ", ".join(
            f"`{field_name}`" + ("" if field_name in required else "?")
            for field_name in schema["properties"]
        )
        lines.append(f"- **{name}**: {fields}")
    return "\n".join(lines) + "\n"


def main() -> int:
    """Write docs/admin-api.md (run from the repository root)."""
    target = Path("docs") / "admin-api.md"
    if not target.parent.is_dir():
        print("run from the repository root (docs/ not found)", file=sys.stderr)
        return 2
    target.write_text(openapi_markdown(), encoding="utf-8")
    print(f"wrote {target} ({len(json.dumps(openapi_document()))} bytes of OpenAPI)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
