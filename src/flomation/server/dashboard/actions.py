"""The dashboard's actions (POST, each behind ``Dashboard.form`` and its CSRF check)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from flomation.server.dashboard.pages import Pages
from flomation.server.dashboard.sessions import Session
from flomation.server.dashboard.validation import trigger_data_problem
from flomation.server.dashboard.web import SECURITY_HEADERS, Dashboard
from flomation.server.operations import (
    cancel_execution,
    execute_flow,
    put_environment_item,
    resume_execution,
)
from flomation.server.store import CancelOutcome, ConflictError, ResumeOutcome, StoreNotFoundError

__all__ = ["Actions"]

_MAX_NAME_CHARS = 200


def _see(path: str) -> Response:
    return RedirectResponse(path, status_code=303, headers=SECURITY_HEADERS)


class Actions:
    """Cancel, resume and run again; run a flow; create environments and set their items."""

    def __init__(self, dashboard: Dashboard, pages: Pages) -> None:
        self._d = dashboard
        self._pages = pages

    def _refused(self, request: Request, session: Session, message: str, status: int) -> Response:
        return self._d.render(
            request, "error.html", {"message": message}, session=session, status=status
        )

    async def cancel(self, request: Request, session: Session, form: Mapping[str, str]) -> Response:
        """Cancel an execution in progress or suspended."""
        execution_id = request.path_params["execution_id"]
        outcome, _ = await cancel_execution(self._d.services, execution_id)
        if outcome is CancelOutcome.NOT_FOUND:
            return self._refused(request, session, "No such execution.", 404)
        if outcome is CancelOutcome.NOT_IN_PROGRESS:
            return self._refused(request, session, "That execution has already finished.", 409)
        return _see(f"/executions/{execution_id}")

    async def resume(self, request: Request, session: Session, form: Mapping[str, str]) -> Response:
        """Resume a suspended execution, with the JSON of the form as its resume data."""
        execution_id = request.path_params["execution_id"]
        text = form.get("resume_data", "")
        resume_data = None
        if text.strip():
            try:
                resume_data = json.loads(text)
            except ValueError as exc:
                return self._refused(request, session, f"Resume data is not JSON: {exc}", 400)
        outcome, _ = await resume_execution(
            self._d.services, execution_id, resume_data, bool(text.strip())
        )
        if outcome is ResumeOutcome.NOT_FOUND:
            return self._refused(request, session, "No such execution.", 404)
        if outcome is ResumeOutcome.NOT_SUSPENDED:
            return self._refused(request, session, "That execution is not suspended.", 409)
        return _see(f"/executions/{execution_id}")

    async def run_again(
        self, request: Request, session: Session, form: Mapping[str, str]
    ) -> Response:
        """A new execution of the same flow with the same trigger data and entry node."""
        execution = await self._d.services.store.get_execution(request.path_params["execution_id"])
        if execution is None:
            return self._refused(request, session, "No such execution.", 404)
        data = execution.data if isinstance(execution.data, dict) else {}
        new_id = await execute_flow(
            self._d.services, execution.flo_id, data, execution.entry_node_id
        )
        if new_id is None:
            return self._refused(request, session, "The flow no longer exists.", 404)
        return _see(f"/executions/{new_id}")

    async def run_flow(
        self, request: Request, session: Session, form: Mapping[str, str]
    ) -> Response:
        """Run a flow with the trigger data of the JSON editor; the page again if unusable."""
        text = form.get("data", "")
        data, problem = trigger_data_problem(text)
        if problem is not None or not isinstance(data, dict):
            return await self._pages.flow_page(
                request, session, trigger_text=text, error=problem or "unusable trigger data"
            )
        new_id = await execute_flow(self._d.services, request.path_params["flo_id"], data, None)
        if new_id is None:
            return self._refused(request, session, "No such flow.", 404)
        return _see(f"/executions/{new_id}")

    async def create_environment(
        self, request: Request, session: Session, form: Mapping[str, str]
    ) -> Response:
        """A new environment by name."""
        name = form.get("name", "").strip()
        if not 1 <= len(name) <= _MAX_NAME_CHARS:
            return self._refused(request, session, "An environment needs a name.", 400)
        services = self._d.services
        try:
            await services.store.create_environment(
                name, services.settings.admin_principal_id, None, services.clock()
            )
        except ConflictError as exc:
            return self._refused(request, session, str(exc), 409)
        return _see("/environments")

    async def put_item(
        self, request: Request, session: Session, form: Mapping[str, str]
    ) -> Response:
        """Set a property (value shown later) or a secret (value never shown again)."""
        kind = form.get("kind", "")
        name = form.get("name", "").strip()
        value = form.get("value", "")
        if kind not in ("property", "secret"):
            return self._refused(request, session, "Choose property or secret.", 400)
        if not 1 <= len(name) <= _MAX_NAME_CHARS:
            return self._refused(request, session, "A property or secret needs a name.", 400)
        try:
            await put_environment_item(
                self._d.services,
                request.path_params["environment_id"],
                kind,
                name,
                value=value if kind == "property" else None,
                secret_value=value if kind == "secret" else None,
            )
        except StoreNotFoundError as exc:
            return self._refused(request, session, str(exc), 404)
        return _see("/environments")
