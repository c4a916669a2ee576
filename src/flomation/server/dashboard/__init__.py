"""The web dashboard served by ``flomation-server`` at ``/`` (docs/dashboard.md).

Server-rendered Jinja2 pages, the project's own small script for live updates (EventSource),
no build step. Everything but the sign-in pages and the static files needs a session.
"""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from flomation.server.dashboard.actions import Actions
from flomation.server.dashboard.pages import Pages
from flomation.server.dashboard.sessions import sign_in_url
from flomation.server.dashboard.signin import SignInPages
from flomation.server.dashboard.streams import Streams
from flomation.server.dashboard.web import Dashboard
from flomation.server.services import Services

__all__ = ["dashboard_routes", "sign_in_url"]


def dashboard_routes(services: Services) -> list[BaseRoute]:
    """The dashboard's routes for one app."""
    dashboard = Dashboard.create(services)
    signin, pages, streams = SignInPages(dashboard), Pages(dashboard), Streams(dashboard)
    actions = Actions(dashboard, pages)
    page, form = dashboard.page, dashboard.form
    execution = "/executions/{execution_id}"
    return [
        Route("/", page(pages.overview), methods=["GET"]),
        Route("/signin", signin.show, methods=["GET"]),
        Route("/signin", signin.submit, methods=["POST"]),
        Route("/signin/link", signin.link, methods=["GET"]),
        Route("/signout", form(signin.sign_out), methods=["POST"]),
        Route("/executions", page(pages.executions), methods=["GET"]),
        Route("/executions/events", page(streams.executions), methods=["GET"]),
        Route(execution, page(pages.execution), methods=["GET"]),
        Route(execution + "/summary", page(pages.execution_summary), methods=["GET"]),
        Route(execution + "/log", page(pages.log_before), methods=["GET"]),
        Route(execution + "/log/search", page(pages.log_search), methods=["GET"]),
        Route(execution + "/events", page(streams.execution), methods=["GET"]),
        Route(execution + "/cancel", form(actions.cancel), methods=["POST"]),
        Route(execution + "/resume", form(actions.resume), methods=["POST"]),
        Route(execution + "/rerun", form(actions.run_again), methods=["POST"]),
        Route("/flows", page(pages.flows), methods=["GET"]),
        Route("/flows/{flo_id}", page(pages.flow), methods=["GET"]),
        Route("/flows/{flo_id}/run", form(actions.run_flow), methods=["POST"]),
        Route("/environments", page(pages.environments), methods=["GET"]),
        Route("/environments", form(actions.create_environment), methods=["POST"]),
        Route("/environments/{environment_id}/items", form(actions.put_item), methods=["POST"]),
        Mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static"),
    ]
