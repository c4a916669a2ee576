"""What every dashboard handler shares: templates, security headers, the session guard, forms.

Templates autoescape everything (an output, log line or flow name holding HTML is shown as
text); the Content-Security-Policy allows only the dashboard's own script and style files, so
even an escaping mistake could not run an inline script.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from flomation.server.auth import tokens_equal
from flomation.server.dashboard.sessions import Session, SessionStore, SignInLinks
from flomation.server.http_io import HttpError, read_body
from flomation.server.services import Services

__all__ = [
    "MAX_FORM_BYTES",
    "SECURITY_HEADERS",
    "SESSION_COOKIE",
    "Dashboard",
    "FormHandler",
    "PageHandler",
    "format_duration",
    "format_time",
    "line_number",
    "pretty_json",
]

SESSION_COOKIE = "flomation_session"
MAX_FORM_BYTES = 1024 * 1024
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

PageHandler = Callable[[Request, Session], Awaitable[Response]]
FormHandler = Callable[[Request, Session, Mapping[str, str]], Awaitable[Response]]


_LINE_NUMBER = re.compile(r"[0-9]{1,18}")


def line_number(text: str, name: str) -> int:
    """A log line number from the URL (ASCII digits, below 2**63); HttpError 400 otherwise."""
    if not _LINE_NUMBER.fullmatch(text):
        raise HttpError(400, f"{name} must be a line number")
    return int(text)


def format_time(timestamp_s: float | None) -> str:
    """UTC time to the second, e.g. ``2026-12-06 21:03:45Z``; ``-`` when unknown."""
    if timestamp_s is None:
        return "-"
    return datetime.fromtimestamp(timestamp_s, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def format_duration(seconds: float | None) -> str:
    """A short duration: ``850 ms``, ``12.3 s``, ``4 min 05 s``, ``2 h 03 min``."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


def pretty_json(value: Any) -> str:
    """Indented JSON text (escaped by the template like any other text)."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


def _templates() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        when=format_time, duration=format_duration, pretty_json=pretty_json, urlquote=quote
    )
    return environment


@dataclass
class Dashboard:
    """One app's dashboard state: services, sessions, sign-in links and templates."""

    services: Services
    sessions: SessionStore
    links: SignInLinks
    templates: jinja2.Environment

    @classmethod
    def create(cls, services: Services) -> Dashboard:
        """The dashboard of an app (its sessions are in the database)."""
        links = SignInLinks(services.admin_token, services.store)
        return cls(services, SessionStore(services.store), links, _templates())

    def render(
        self,
        request: Request,
        template: str,
        context: Mapping[str, Any],
        *,
        session: Session | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        """A page with the security headers; ``session`` gives the CSRF token and nav."""
        body = self.templates.get_template(template).render(
            {**context, "session": session, "path": request.url.path}
        )
        return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)

    async def session_of(self, request: Request) -> Session | None:
        """The signed-in session of the request's cookie, if any."""
        session_id = request.cookies.get(SESSION_COOKIE, "")
        if not session_id:
            return None
        return await self.sessions.get(session_id, self.services.clock())

    def page(self, handler: PageHandler) -> Callable[[Request], Awaitable[Response]]:
        """A GET handler for signed-in users; others are sent to the sign-in page."""

        async def guarded(request: Request) -> Response:
            session = await self.session_of(request)
            if session is None:
                if request.headers.get("accept", "").startswith("text/event-stream"):
                    raise HttpError(401, "sign in first")
                target = request.url.path
                if request.url.query:
                    target += "?" + request.url.query
                return RedirectResponse(f"/signin?next={quote(target, safe='')}", status_code=303)
            try:
                return await handler(request, session)
            except HttpError as exc:
                return self.render(
                    request,
                    "error.html",
                    {"message": exc.message},
                    session=session,
                    status=exc.status,
                )

        return guarded

    def form(self, handler: FormHandler) -> Callable[[Request], Awaitable[Response]]:
        """A POST handler for signed-in users whose form carries the session's CSRF token."""

        async def guarded(request: Request) -> Response:
            session = await self.session_of(request)
            if session is None:
                return self.render(request, "error.html", {"message": "Sign in first."}, status=401)
            fields = await read_form(request)
            if not tokens_equal(fields.get("csrf", ""), session.csrf):
                return self.render(
                    request,
                    "error.html",
                    {"message": "The form's CSRF token is missing or wrong: reload and retry."},
                    session=session,
                    status=403,
                )
            return await handler(request, session, fields)

        return guarded


async def read_form(request: Request, max_bytes: int = MAX_FORM_BYTES) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (at most ``max_bytes``) as a dict."""
    body = await read_body(request, max_bytes)
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=100)
    except ValueError as exc:  # UnicodeDecodeError too
        raise HttpError(400, f"unreadable form: {exc}") from exc
    return dict(pairs)
