"""A small typed async client of the admin API (docs/protocol.md §10), built on aiohttp.

Usage::

    async with AdminClient(server.url, server.admin_token) as admin:
        queue = await admin.create_queue("default")          # queue["registration_code"]
        flo = await admin.create_flo("hello", {"nodes": [], "edges": []})
        execution_id = await admin.execute(flo["id"], data={"x": 1})
        async for event in admin.stream(execution_id):     # SseEvent(event, data, id)
            ...
        print(await admin.get_execution(execution_id))

Answers are the TypedDicts of :mod:`flomation.server.admin_answers`, the types the server's views
build. Every method raises :class:`AdminApiError` (status and the server's error message) on a
non-2xx answer. Call :meth:`close` (or use ``async with``) to release the HTTP session.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

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
from flomation.wire.jsontext import JsonObject, JsonValue

__all__ = ["AdminApiError", "AdminClient", "SseEvent"]


class AdminApiError(Exception):
    """A non-2xx answer of the admin API."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


@dataclass(frozen=True)
class SseEvent:
    """One Server-Sent Event: ``event`` is ``"message"`` for plain log lines."""

    event: str
    data: str
    id: str | None


class AdminClient:
    """Admin API calls with ``Authorization: Bearer <admin_token>``."""

    def __init__(self, url: str, admin_token: str) -> None:
        self._base = url.rstrip("/") + "/api/v1"
        self._headers = {"Authorization": f"Bearer {admin_token}"}
        self._session = aiohttp.ClientSession(headers=self._headers)

    async def __aenter__(self) -> AdminClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session."""
        await self._session.close()

    async def _call(
        self, method: str, path: str, body: JsonValue = None, **params: str | int | None
    ) -> Any:
        # Any: the parsed answer, which each method names by its admin_answers type (the type
        # the server's view is checked against), not validated again here.
        query = {key: str(value) for key, value in params.items() if value is not None}
        async with self._session.request(
            method, self._base + path, json=body, params=query or None
        ) as response:
            text = await response.text()
            if response.status >= 300:
                try:
                    message = str(json.loads(text)["error"])
                except (ValueError, KeyError, TypeError):
                    message = text
                raise AdminApiError(response.status, message)
            return json.loads(text) if text else None

    # ------------------------------------------------------------------ queues

    async def create_queue(self, name: str, organisation_id: str | None = None) -> QueueAnswer:
        """A new queue with its registration code."""
        body: JsonObject = {"name": name}
        if organisation_id is not None:
            body["organisation_id"] = organisation_id
        result: QueueAnswer = await self._call("POST", "/queue", body)
        return result

    async def queues(self) -> list[QueueAnswer]:
        """All queues, newest first."""
        result: list[QueueAnswer] = await self._call("GET", "/queue")
        return result

    # ------------------------------------------------------------------- flows

    async def create_flo(
        self,
        name: str,
        data: JsonObject,
        queue_id: str | None = None,
        environment_id: str | None = None,
        organisation_id: str | None = None,
    ) -> FloAnswer:
        """A new flow with revision 1 built from ``data`` (``{"nodes": [...], "edges": [...]}``)."""
        body: JsonObject = {"name": name, "data": data}
        for key, value in (
            ("queue_id", queue_id),
            ("environment_id", environment_id),
            ("organisation_id", organisation_id),
        ):
            if value is not None:
                body[key] = value
        result: FloAnswer = await self._call("POST", "/flo", body)
        return result

    async def add_revision(self, flo_id: str, data: JsonObject) -> RevisionAnswer:
        """A new revision, dispatched from now on."""
        result: RevisionAnswer = await self._call("POST", f"/flo/{flo_id}/revision", {"data": data})
        return result

    async def execute(
        self,
        flo_id: str,
        data: JsonObject | None = None,
        entry_node_id: str | None = None,
    ) -> str:
        """Create an execution (trigger ``data``, optional entry node); returns its id."""
        body: JsonObject = {}
        if data is not None:
            body["data"] = data
        if entry_node_id is not None:
            body["entry_node_id"] = entry_node_id
        result = await self._call("POST", f"/flo/{flo_id}/execute", body)
        return str(result["id"])

    # -------------------------------------------------------------- executions

    async def get_execution(self, execution_id: str) -> ExecutionAnswer:
        """The execution object of protocol 10.3 (statuses, result, log size...)."""
        result: ExecutionAnswer = await self._call("GET", f"/execution/{execution_id}")
        return result

    async def list_executions(
        self,
        *,
        flo_id: str | None = None,
        status: str | None = None,
        completion_status: str | None = None,
        limit: int | None = None,
    ) -> list[ExecutionAnswer]:
        """Executions matching the filters, newest first."""
        result: list[ExecutionAnswer] = await self._call(
            "GET",
            "/execution",
            flo_id=flo_id,
            status=status,
            completion_status=completion_status,
            limit=limit,
        )
        return result

    async def cancel(self, execution_id: str) -> ExecutionAnswer:
        """Cancel; AdminApiError 409 when it already finished."""
        result: ExecutionAnswer = await self._call("POST", f"/execution/{execution_id}/cancel")
        return result

    async def resume(self, execution_id: str, resume_data: JsonValue = None) -> ExecutionAnswer:
        """Resume a suspended execution; ``resume_data`` (if not None) goes into the checkpoint."""
        body: JsonValue = None if resume_data is None else {"resume_data": resume_data}
        result: ExecutionAnswer = await self._call(
            "POST", f"/execution/{execution_id}/resume", body
        )
        return result

    async def stream(
        self, execution_id: str, last_event_id: int | None = None
    ) -> AsyncIterator[SseEvent]:
        """The execution's SSE stream: replayed log, live lines, ``status``, then ``complete``.

        Comments (keep-alives) are skipped. The iterator ends when the server closes the stream.
        """
        headers = {} if last_event_id is None else {"Last-Event-ID": str(last_event_id)}
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        async with self._session.get(
            f"{self._base}/execution/{execution_id}/stream", headers=headers, timeout=timeout
        ) as response:
            if response.status != 200:
                raise AdminApiError(response.status, await response.text())
            event, event_id = "message", None
            data: list[str] = []
            async for raw in response.content:
                line = raw.decode("utf-8").rstrip("\r\n")
                if not line:
                    if data:
                        yield SseEvent(event, "\n".join(data), event_id)
                    event, data, event_id = "message", [], None
                elif line.startswith(":"):
                    continue
                else:
                    name, _, value = line.partition(":")
                    value = value.removeprefix(" ")
                    if name == "event":
                        event = value
                    elif name == "data":
                        data.append(value)
                    elif name == "id":
                        event_id = value

    # ----------------------------------------------------------------- runners

    async def runners(self) -> list[RunnerAnswer]:
        """All runners (never their registration codes or manifests)."""
        result: list[RunnerAnswer] = await self._call("GET", "/runner")
        return result

    async def set_runner_active(self, runner_id: str, active: bool) -> RunnerAnswer:
        """Pause (False) or resume (True) a runner by its UUID."""
        result: RunnerAnswer = await self._call("PATCH", f"/runner/{runner_id}", {"active": active})
        return result

    # ------------------------------------------------------------ environments

    async def create_environment(
        self, name: str, organisation_id: str | None = None
    ) -> EnvironmentAnswer:
        """A new environment."""
        body: JsonObject = {"name": name}
        if organisation_id is not None:
            body["organisation_id"] = organisation_id
        result: EnvironmentAnswer = await self._call("POST", "/environment", body)
        return result

    async def put_property(self, environment_id: str, name: str, value: str) -> PropertyAnswer:
        """Create or replace a property."""
        result: PropertyAnswer = await self._call(
            "PUT", f"/environment/{environment_id}/property/{name}", {"value": value}
        )
        return result

    async def put_secret(
        self,
        environment_id: str,
        name: str,
        value: str,
        provider: str | None = None,
        expires_at: str | None = None,
    ) -> SecretAnswer:
        """Create or replace a secret (encrypted at rest); the answer omits the value."""
        body: JsonObject = {"value": value}
        if provider is not None:
            body["provider"] = provider
        if expires_at is not None:
            body["expires_at"] = expires_at
        result: SecretAnswer = await self._call(
            "PUT", f"/environment/{environment_id}/secret/{name}", body
        )
        return result

    async def put_credential(
        self,
        environment_id: str,
        name: str,
        value: str,
        metadata: JsonObject | None = None,
    ) -> CredentialAnswer:
        """Create or replace a credential (encrypted at rest); the answer omits the value."""
        body: JsonObject = {"value": value}
        if metadata is not None:
            body["metadata"] = metadata
        result: CredentialAnswer = await self._call(
            "PUT", f"/environment/{environment_id}/credential/{name}", body
        )
        return result
