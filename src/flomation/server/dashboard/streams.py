"""Live updates over Server-Sent Events: the executions list's changed rows, and one
execution's log and status (the admin API's stream, ``flomation.server.sse``, reused).

Rows are rendered by the same template as the page, so escaping happens in one place and the
browser only swaps server-made HTML in.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from flomation.server.dashboard import queries
from flomation.server.dashboard.pages import parse_filters
from flomation.server.dashboard.queries import ExecutionFilters
from flomation.server.dashboard.sessions import Session
from flomation.server.dashboard.web import Dashboard, line_number
from flomation.server.http_io import HttpError
from flomation.server.sse import Keepalive, execution_stream, sse_event

__all__ = ["Streams"]

_BATCH_ROWS = 500
# Rows are re-read this far back: a write stamped just before a read may commit just after it.
_OVERLAP_S = 2.0
_MIN_INTERVAL_S = 0.5
_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class Streams:
    """The SSE handlers of the dashboard."""

    def __init__(self, dashboard: Dashboard) -> None:
        self._d = dashboard

    async def executions(self, request: Request, session: Session) -> Response:
        """Changed rows of the executions list (``row`` events holding a ``<tr>``)."""
        now_s = self._d.services.clock()
        filters, _ = parse_filters(request, now_s)
        since_text = request.query_params.get("changed_since", "")
        try:
            since_s = float(since_text) if since_text else now_s
        except ValueError as exc:
            raise HttpError(400, f"changed_since must be a timestamp, got {since_text!r}") from exc
        return StreamingResponse(
            self._rows(filters, since_s, now_s),
            media_type="text/event-stream",
            headers=_HEADERS,
        )

    async def _rows(
        self, filters: ExecutionFilters, since_s: float, now_s: float
    ) -> AsyncIterator[str]:
        services = self._d.services
        store, settings = services.store, services.settings
        template = self._d.templates.get_template("execution_row.html")
        keepalive = Keepalive(settings.sse_keepalive_s)
        sent: dict[str, float | None] = {}
        read_from_s = since_s - _OVERLAP_S
        with services.events.subscribe_all() as changed:
            while not services.events.closing:
                changed.clear()
                rows = await store.read(
                    functools.partial(
                        queries.changed_executions,
                        filters=filters,
                        since_s=read_from_s,
                        limit=_BATCH_ROWS,
                    )
                )
                for row in rows:
                    if sent.get(row.id, -1.0) == row.updated_at:
                        continue
                    sent[row.id] = row.updated_at
                    yield sse_event(template.render(row=row, now_s=now_s), name="row")
                    keepalive.postpone()
                if len(rows) == _BATCH_ROWS:
                    # A burst: move on from the last row read, without the overlap.
                    read_from_s = rows[-1].updated_at or read_from_s
                    continue
                if rows:
                    newest = max(row.updated_at or 0.0 for row in rows)
                    read_from_s = max(read_from_s, newest - _OVERLAP_S)
                    sent = {k: v for k, v in sent.items() if (v or 0.0) >= read_from_s}
                await asyncio.sleep(_MIN_INTERVAL_S)
                if await keepalive.wait(changed, settings.sse_recheck_s):
                    yield ": keepalive\n\n"
                    keepalive.postpone()

    async def execution(self, request: Request, session: Session) -> Response:
        """One execution's log lines after ``after`` (or Last-Event-ID), status changes, end."""
        execution_id = request.path_params["execution_id"]
        if await self._d.services.store.get_execution(execution_id) is None:
            raise HttpError(404, "execution not found")
        last_event_id = request.headers.get("last-event-id", "").strip()
        after = line_number(last_event_id or request.query_params.get("after", "0"), "after")
        return StreamingResponse(
            execution_stream(self._d.services, execution_id, after),
            media_type="text/event-stream",
            headers=_HEADERS,
        )
