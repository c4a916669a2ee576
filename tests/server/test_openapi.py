"""The admin API's OpenAPI 3.1 document: served, complete, rendered, and fuzzed by schemathesis.

schemathesis generates requests from the served document and sends them to a real
``flomation-server`` process over HTTP; no generated request may get a 5xx answer or crash the
server (docs/protocol.md §8.4: a failing handler answers 500, which this test reports).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from starlette.routing import Route

from flomation.server.openapi import OPENAPI_PATH, openapi_document, openapi_markdown
from flomation.server.routes_admin import AdminEndpoints

if TYPE_CHECKING:
    # schemathesis names the case type of an OpenAPI schema only for type checkers.
    from schemathesis.specs.openapi.schemas import OpenApiCase

_REPOSITORY = Path(__file__).resolve().parents[2]
_TOKEN = "openapi-test-token"
_SERVER = Path(sys.executable).parent / "flomation-server"


def _admin_routes() -> set[tuple[str, str]]:
    """(METHOD, path) of every admin route the app serves."""
    # routes() only binds handlers and reads no service, so a bare instance can list them.
    routes = AdminEndpoints.__new__(AdminEndpoints).routes()
    return {
        (method, route.path)
        for route in routes
        if isinstance(route, Route)
        for method in (route.methods or set()) - {"HEAD"}
    }


def test_document_covers_exactly_the_admin_routes() -> None:
    """Every admin route is documented, and nothing else is."""
    document = openapi_document()
    documented = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert documented == _admin_routes()
    assert document["openapi"] == "3.1.0"


def test_admin_api_reference_is_generated_from_the_document() -> None:
    """docs/admin-api.md equals the rendering of the document (make reference rewrites it)."""
    assert (_REPOSITORY / "docs" / "admin-api.md").read_text() == openapi_markdown()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real flomation-server process on 127.0.0.1, port 0; its base URL."""
    directory = tmp_path_factory.mktemp("openapi-server")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FLOMATION_SERVER_")}
    environ["FLOMATION_SERVER_ADMIN_TOKEN"] = _TOKEN
    process = subprocess.Popen(
        [str(_SERVER), "--listen", "127.0.0.1:0",
         "--database", f"sqlite:///{directory / 'server.db'}", "--poll-hold", "1"],
        env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stderr is not None
    url = ""
    deadline = time.monotonic() + 60
    while not url:
        assert time.monotonic() < deadline, "the server did not start"
        line = process.stderr.readline()
        assert line, f"the server exited with {process.wait()}"
        if "server listening" in line:
            url = json.loads(line)["url"]
    try:
        yield url
        assert process.poll() is None, "the server died during the run"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        process.stderr.close()


def test_document_is_served_without_credentials(live_server: str) -> None:
    """GET /api/openapi.json answers the same document, no token needed."""
    with urllib.request.urlopen(live_server + OPENAPI_PATH, timeout=30) as response:
        assert response.status == 200
        assert json.loads(response.read()) == json.loads(json.dumps(openapi_document()))


schema = schemathesis.openapi.from_dict(openapi_document())


@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_generated_request_gets_a_server_error(case: OpenApiCase, live_server: str) -> None:
    """Any request schemathesis derives from the document is answered below 500."""
    case.call_and_validate(
        base_url=live_server,
        headers={"Authorization": f"Bearer {_TOKEN}"},
        checks=[not_a_server_error],
        timeout=30,
    )
