"""The dashboard's pages (GET): overview, executions, one execution, flows, environments."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from flomation.server.dashboard import queries
from flomation.server.dashboard.queries import Cursor, ExecutionFilters
from flomation.server.dashboard.sessions import Session
from flomation.server.dashboard.validation import flow_json, flow_problems
from flomation.server.dashboard.web import SECURITY_HEADERS, Dashboard, line_number
from flomation.server.http_io import HttpError, json_response
from flomation.server.records import ExecutionRecord, RunnerRecord

__all__ = [
    "LOG_PAGE_LINES",
    "PAGE_ROWS",
    "SINCE_CHOICES",
    "NodeEntry",
    "Pages",
    "node_entries",
    "parse_filters",
]

PAGE_ROWS = 50
LOG_PAGE_LINES = 500
_NODE_WINDOW_LINES = 20_000
_MAX_SEARCH_CHARS = 200
_NODE_PREFIX = "__NODE__:"
# Time filter choices: the value in the URL and how far back it reaches.
SINCE_CHOICES = {"15m": 900.0, "1h": 3600.0, "24h": 86_400.0, "7d": 604_800.0}


@dataclass(frozen=True)
class RunnerView:
    """A runner on the overview."""

    record: RunnerRecord
    online: bool
    busy: int
    total: int | None
    health: str


@dataclass(frozen=True)
class NodeEntry:
    """One node of an execution's timeline, with inputs and outputs as the executor stored."""

    id: str
    action: str
    label: str
    status: str
    duration_ms: int | None
    inputs: Any
    outputs: Any
    error: str


def node_entries(result: Any, node_lines: list[str]) -> list[NodeEntry]:
    """The timeline in the order nodes first ran (their events), each with its last state:
    the result's ``node_results`` when stored, else the node's latest event."""
    raw: dict[str, dict[str, Any]] = {}
    for line in node_lines:
        try:
            event = json.loads(line[len(_NODE_PREFIX) :])
        except ValueError:
            continue
        if isinstance(event, dict) and isinstance(event.get("id"), str):
            raw.setdefault(event["id"], {}).update(event)
    stored = result.get("node_results") if isinstance(result, dict) else None
    if isinstance(stored, dict):
        for node_id, entry in stored.items():
            if isinstance(entry, dict):
                raw[str(node_id)] = entry

    def text(entry: dict[str, Any], key: str) -> str:
        value = entry.get(key)
        return value if isinstance(value, str) else ""

    entries = []
    for node_id, entry in raw.items():
        duration = entry.get("duration_ms")
        entries.append(
            NodeEntry(
                id=node_id,
                action=text(entry, "action"),
                label=text(entry, "label"),
                status=text(entry, "status"),
                duration_ms=int(duration) if isinstance(duration, int | float) else None,
                inputs=entry.get("inputs"),
                outputs=entry.get("outputs"),
                error=text(entry, "error"),
            )
        )
    return entries


def parse_filters(request: Request, now_s: float) -> tuple[ExecutionFilters, dict[str, str]]:
    """The list's filters from the query string, and the chosen values (for the form)."""
    query = request.query_params
    chosen = {
        key: query.get(key, "").strip() for key in ("status", "flow", "queue", "runner", "since")
    }
    status = chosen["status"] or None
    if status is not None and status not in queries.STATUS_CHOICES:
        raise HttpError(400, f"unknown status {status!r}")
    since = chosen["since"] or None
    if since is not None and since not in SINCE_CHOICES:
        raise HttpError(400, f"unknown time range {since!r}")
    return (
        ExecutionFilters(
            status=status,
            flo_id=chosen["flow"] or None,
            queue_id=chosen["queue"] or None,
            runner_id=chosen["runner"] or None,
            since_s=None if since is None else now_s - SINCE_CHOICES[since],
        ),
        chosen,
    )


def _health(runner: RunnerRecord, online: bool, busy: int) -> str:
    if not runner.active:
        return "paused"
    if online:
        return "healthy"
    return "lost" if busy else "offline"


class Pages:
    """GET handlers of the dashboard (each behind ``Dashboard.page``)."""

    def __init__(self, dashboard: Dashboard) -> None:
        self._d = dashboard

    async def overview(self, request: Request, session: Session) -> Response:
        """Runners, queues, throughput and failures."""
        services = self._d.services
        now_s = services.clock()
        runners = await services.store.list_runners()
        busy = await services.store.read(queries.in_progress_by_runner)
        load = await services.store.read(queries.queue_load)
        figures = await services.store.read(lambda conn: queries.activity(conn, now_s))
        idle = services.dispatcher.idle_polls_by_runner()
        lost_after_s = services.settings.runner_lost_after_s
        views = []
        for runner in runners:
            online = (
                runner.last_contact_at is not None
                and now_s - runner.last_contact_at <= lost_after_s
            )
            held = busy.get(runner.id, 0)
            views.append(
                RunnerView(
                    record=runner,
                    online=online,
                    busy=held,
                    total=held + idle[runner.id] if online else None,
                    health=_health(runner, online, held),
                )
            )
        return self._d.render(
            request,
            "overview.html",
            {"runners": views, "queues": load, "activity": figures, "now_s": now_s},
            session=session,
        )

    async def executions(self, request: Request, session: Session) -> Response:
        """The executions list: filters, one keyset page, and a live stream of changes."""
        now_s = self._d.services.clock()
        filters, chosen = parse_filters(request, now_s)
        after_text = request.query_params.get("after", "")
        after = Cursor.parse(after_text) if after_text else None
        if after_text and after is None:
            raise HttpError(400, f"malformed page cursor {after_text!r}")
        store = self._d.services.store
        rows, next_cursor = await store.read(
            lambda conn: queries.execution_page(conn, filters, after, PAGE_ROWS)
        )
        options = await store.read(queries.filter_options)
        filter_query = urlencode({k: v for k, v in chosen.items() if v})
        return self._d.render(
            request,
            "executions.html",
            {
                "rows": rows,
                "next_cursor": None if next_cursor is None else next_cursor.text(),
                "first_page": after is None,
                "chosen": chosen,
                "options": options,
                "statuses": queries.STATUS_CHOICES,
                "since_choices": list(SINCE_CHOICES),
                "filter_query": filter_query,
                "now_s": now_s,
            },
            session=session,
        )

    async def _execution(self, execution_id: str) -> ExecutionRecord:
        execution = await self._d.services.store.get_execution(execution_id)
        if execution is None:
            raise HttpError(404, "execution not found")
        return execution

    async def _execution_context(self, execution: ExecutionRecord) -> dict[str, Any]:
        store = self._d.services.store
        flow = await store.read(lambda conn: queries.flow_detail(conn, execution.flo_id))
        runner_name = None
        if execution.runner_id is not None:
            runners = await store.list_runners()
            runner_name = next((r.name for r in runners if r.id == execution.runner_id), None)
        result = execution.result if isinstance(execution.result, dict) else {}
        lines = await store.read(
            lambda conn: queries.node_lines(conn, execution.id, _NODE_WINDOW_LINES)
        )
        status = queries.display_status(execution.execution_status, execution.completion_status)
        outputs = result.get("outputs")
        return {
            "execution": execution,
            "status": status,
            "flow": flow,
            "runner_name": runner_name,
            "nodes": node_entries(execution.result, lines),
            "outputs": outputs,
            "can_cancel": status in ("queued", "allocated", "running", "suspended"),
            "can_resume": status == "suspended",
            "live": status in ("queued", "allocated", "running"),
        }

    async def execution(self, request: Request, session: Session) -> Response:
        """One execution: timings, node timeline, actions and the log's tail."""
        execution = await self._execution(request.path_params["execution_id"])
        context = await self._execution_context(execution)
        tail = await self._d.services.store.read(
            lambda conn: queries.log_tail(conn, execution.id, LOG_PAGE_LINES)
        )
        context.update(
            log=[(seq, line) for seq, line in tail if not line.startswith("__")],
            first_seq=tail[0][0] if tail else None,
            last_seq=tail[-1][0] if tail else 0,
            log_page_lines=LOG_PAGE_LINES,
        )
        return self._d.render(request, "execution.html", context, session=session)

    async def execution_summary(self, request: Request, session: Session) -> Response:
        """The parts of the execution page that change (status, timings, nodes, actions)."""
        execution = await self._execution(request.path_params["execution_id"])
        context = await self._execution_context(execution)
        return self._d.render(request, "execution_summary.html", context, session=session)

    async def log_before(self, request: Request, session: Session) -> Response:
        """Earlier log lines on demand: ``{"lines": [[seq, text]...], "first_seq": n}``."""
        before = line_number(request.query_params.get("before", ""), "before")
        execution = await self._execution(request.path_params["execution_id"])
        lines = await self._d.services.store.read(
            lambda conn: queries.log_before(conn, execution.id, before, LOG_PAGE_LINES)
        )
        response = json_response(
            {
                "lines": [[seq, line] for seq, line in lines if not line.startswith("__")],
                "first_seq": lines[0][0] if lines else None,
            }
        )
        response.headers.update(SECURITY_HEADERS)
        return response

    async def log_search(self, request: Request, session: Session) -> Response:
        """Lines of the whole log holding ``q`` (the latest 500 matches), not just those loaded:
        ``{"lines": [[seq, text]...], "more": bool}``."""
        needle = request.query_params.get("q", "")
        if not 1 <= len(needle) <= _MAX_SEARCH_CHARS:
            raise HttpError(400, f"q must be 1 to {_MAX_SEARCH_CHARS} characters")
        execution = await self._execution(request.path_params["execution_id"])
        found = await self._d.services.store.read(
            lambda conn: queries.log_search(conn, execution.id, needle, LOG_PAGE_LINES + 1)
        )
        response = json_response(
            {
                "lines": [
                    [seq, line]
                    for seq, line in found[-LOG_PAGE_LINES:]
                    if not line.startswith("__")  # node and status events: the timeline's
                ],
                "more": len(found) > LOG_PAGE_LINES,
            }
        )
        response.headers.update(SECURITY_HEADERS)
        return response

    async def flows(self, request: Request, session: Session) -> Response:
        """Every flow with its queue, environment, revision and last run."""
        rows = await self._d.services.store.read(lambda conn: queries.flows(conn, 1000))
        return self._d.render(request, "flows.html", {"flows": rows}, session=session)

    async def flow(self, request: Request, session: Session) -> Response:
        """One flow: its JSON, the problems found in it, and a form to run it."""
        return await self.flow_page(request, session, trigger_text="{}", error=None)

    async def flow_page(
        self, request: Request, session: Session, *, trigger_text: str, error: str | None
    ) -> Response:
        """The flow page, also shown again by a run that was refused (with ``error``)."""
        flo_id = request.path_params["flo_id"]
        store = self._d.services.store
        flow = await store.read(lambda conn: queries.flow_detail(conn, flo_id))
        if flow is None:
            raise HttpError(404, "flow not found")
        document = await store.read(lambda conn: queries.latest_revision(conn, flo_id))
        return self._d.render(
            request,
            "flow.html",
            {
                "flow": flow,
                "document_text": flow_json(document),
                "problems": flow_problems(document),
                "trigger_text": trigger_text,
                "error": error,
            },
            session=session,
            status=400 if error else 200,
        )

    async def environments(self, request: Request, session: Session) -> Response:
        """Environments with their properties; secrets by name only."""
        rows = await self._d.services.store.read(queries.environments)
        return self._d.render(request, "environments.html", {"environments": rows}, session=session)
