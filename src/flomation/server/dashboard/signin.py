"""Sign-in with the admin token or a one-time link, and sign-out.

The session cookie is HttpOnly and SameSite=Strict, and Secure when the request came over TLS
(to this server, or to a trusted proxy that says so in ``X-Forwarded-Proto``).
The sign-in form itself carries a token matched against a short-lived cookie, so another site
cannot sign a browser in to a session of its choosing (login CSRF).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from flomation.server.auth import served_over_tls, tokens_equal
from flomation.server.dashboard.sessions import Session
from flomation.server.dashboard.web import SECURITY_HEADERS, SESSION_COOKIE, Dashboard, read_form

__all__ = ["SignInPages"]

_SIGNIN_COOKIE = "flomation_signin"
# The sign-in form is read from anybody: its nonce, token and return path fit many times over,
# and nothing more is read before the token is checked (docs/protocol.md §8.4).
_MAX_SIGNIN_FORM_BYTES = 16 * 1024


def _safe_next(target: str | None) -> str:
    """A local path to return to after sign-in; anything else (``//host``, URLs) is ``/``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


class SignInPages:
    """Handlers of ``/signin``, ``/signin/link`` and ``/signout``."""

    def __init__(self, dashboard: Dashboard) -> None:
        self._d = dashboard

    def _secure(self, request: Request) -> bool:
        return served_over_tls(request, self._d.services.settings.trusted_proxies)

    async def _signed_in(self, request: Request, target: str) -> Response:
        session = await self._d.sessions.create(self._d.services.clock())
        response = RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)
        response.set_cookie(
            SESSION_COOKIE,
            session.id,
            httponly=True,
            samesite="strict",
            secure=self._secure(request),
            path="/",
        )
        response.delete_cookie(_SIGNIN_COOKIE, path="/signin")
        return response

    def _form(self, request: Request, message: str | None, status: int = 200) -> Response:
        nonce = secrets.token_urlsafe(24)
        response = self._d.render(
            request,
            "signin.html",
            {
                "nonce": nonce,
                "next": _safe_next(request.query_params.get("next")),
                "message": message,
            },
            status=status,
        )
        response.set_cookie(
            _SIGNIN_COOKIE,
            nonce,
            max_age=3600,
            httponly=True,
            samesite="strict",
            secure=self._secure(request),
            path="/signin",
        )
        return response

    async def show(self, request: Request) -> Response:
        """The sign-in form (or straight on when already signed in)."""
        if await self._d.session_of(request) is not None:
            target = _safe_next(request.query_params.get("next"))
            return RedirectResponse(target, status_code=303)
        return self._form(request, None)

    async def submit(self, request: Request) -> Response:
        """Check the admin token; a session on success, the form again with why otherwise."""
        fields = await read_form(request, _MAX_SIGNIN_FORM_BYTES)
        nonce = request.cookies.get(_SIGNIN_COOKIE, "")
        if not nonce or not tokens_equal(fields.get("nonce", ""), nonce):
            return self._form(request, "The sign-in form expired: please try again.", 403)
        if not tokens_equal(fields.get("token", "").strip(), self._d.services.admin_token):
            return self._form(request, "That is not the admin token.", 401)
        return await self._signed_in(request, _safe_next(fields.get("next")))

    async def link(self, request: Request) -> Response:
        """A one-time sign-in link (``flomation-runner dev`` prints one)."""
        code = request.query_params.get("code", "")
        if not await self._d.links.redeem(code, self._d.services.clock()):
            return self._form(
                request, "That sign-in link has expired or was already used.", status=401
            )
        return await self._signed_in(request, "/")

    async def sign_out(
        self, request: Request, session: Session, fields: Mapping[str, str]
    ) -> Response:
        """End the session and forget the cookie."""
        await self._d.sessions.end(session.id)
        response = RedirectResponse("/signin", status_code=303, headers=SECURITY_HEADERS)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response
