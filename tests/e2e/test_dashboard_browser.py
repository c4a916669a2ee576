"""The dashboard in a real browser: Debian's Chromium driven by Playwright, against the real
server on 127.0.0.1 with a real runner process running the real executor (``local_stack``).

Each test saves a screenshot under ``$FLOMATION_SCREENSHOT_DIR`` (default: the test's tmp dir);
``docs/screenshots/`` holds copies of some of them.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from flomation.local.stack import LocalStack, local_stack

pytestmark = pytest.mark.asyncio(loop_scope="module")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CHROMIUM = "/usr/bin/chromium"
_TIMEOUT_MS = 30_000
_XSS_NAME = "<script>window.__xss = 1</script>"
_XSS_ATTRIBUTE = '"><img src=x onerror="window.__xss = 2">'


def _node(node_id: str, action: str, inputs: dict[str, str | int]) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": action,
        "position": {"x": 0, "y": 0},
        "data": {
            "id": node_id,
            "label": action,
            "config": {
                "id": action,
                "name": None,
                "type": 1 if action.startswith("trigger/") else 2,
                "plugin": "",
                "inputs": [
                    {
                        "name": name,
                        "type": "integer" if isinstance(value, int) else "string",
                        "value": value,
                    }
                    for name, value in inputs.items()
                ],
                "outputs": [],
            },
        },
    }


def _edge(source: str, target: str, handle: str | None = None) -> dict[str, Any]:
    edge = {"id": f"e-{source}-{target}", "source": source, "target": target}
    if handle is not None:
        edge["sourceHandle"] = handle
    return edge


def _ticking_flow(seconds: int) -> dict[str, Any]:
    """A chain of one-second sleeps: the executor logs a line as each starts, then it finishes."""
    ticks = [f"tick-{n}" for n in range(1, seconds + 1)]
    nodes = [_node("start", "trigger/manual", {})]
    nodes += [_node(tick, "common/sleep", {"duration": 1, "unit": "seconds"}) for tick in ticks]
    nodes.append(_node("done", "output/set", {"name": "ticks", "value": str(seconds)}))
    chain = ["start", *ticks, "done"]
    return {
        "nodes": nodes,
        "edges": [_edge(source, target) for source, target in itertools.pairwise(chain)],
    }


@dataclass
class Dashboard:
    """The running stack, a signed-in browser context, and where screenshots go."""

    stack: LocalStack
    browser: Browser
    context: BrowserContext
    shots: Path

    async def page(self) -> Page:
        page = await self.context.new_page()
        page.set_default_timeout(_TIMEOUT_MS)
        return page

    async def shot(self, page: Page, name: str) -> Path:
        path = self.shots / f"{name}.png"
        await page.screenshot(path=str(path), full_page=True)
        return path

    async def flow(self, name: str, document: dict[str, Any]) -> str:
        flo = await self.stack.admin.create_flo(name, document, queue_id=self.stack.queue_id)
        return flo["id"]


async def _sign_in(page: Page, url: str, token: str) -> None:
    await page.goto(f"{url}/signin")
    await page.get_by_label("Admin token").fill(token)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def dashboard(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Dashboard]:
    """One stack (server, runner with 3 slots, executor) and Chromium for the whole module."""
    if shutil.which("chromium") is None:
        pytest.fail(
            "Debian's chromium is missing: ./scripts/bootstrap installs it (apt-get install "
            "chromium) when run as root on Debian"
        )
    home = tmp_path_factory.mktemp("dashboard")
    shots = Path(os.environ.get("FLOMATION_SCREENSHOT_DIR") or home / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - before anything runs
    async with (
        local_stack(home, once=False, slots=3) as stack,
        async_playwright() as playwright,
    ):
        browser = await playwright.chromium.launch(executable_path=CHROMIUM)
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        page = await context.new_page()
        await _sign_in(page, stack.url, stack.admin_token)
        await page.close()
        try:
            yield Dashboard(stack, browser, context, shots)
        finally:
            await context.close()
            await browser.close()


async def test_sign_in_shows_the_overview_with_the_runner(dashboard: Dashboard) -> None:
    """A fresh browser signs in with the admin token and sees the runner online on the overview."""
    context = await dashboard.browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = await context.new_page()
        await page.goto(f"{dashboard.stack.url}/")
        await expect(page).to_have_url(f"{dashboard.stack.url}/signin?next=%2F")
        await _sign_in(page, dashboard.stack.url, dashboard.stack.admin_token)
        runners = page.locator("#runners")
        for _ in range(120):  # the runner registers a few seconds after start
            if await runners.count() and "online" in await runners.inner_text():
                break
            await page.wait_for_timeout(500)
            await page.reload()
        await expect(runners).to_contain_text("online")
        await expect(runners).to_contain_text("healthy")
        await dashboard.shot(page, "overview")
    finally:
        await context.close()


async def test_a_new_run_appears_and_finishes_live(dashboard: Dashboard) -> None:
    """An execution started elsewhere shows up in the open list and turns to success unaided."""
    flow = json.loads((EXAMPLES / "hello.flow.json").read_text())
    flo_id = await dashboard.flow("hello live", flow)
    page = await dashboard.page()
    await page.goto(f"{dashboard.stack.url}/executions")
    await expect(page.locator("#live-state")).to_contain_text("Live")
    execution_id = await dashboard.stack.admin.execute(flo_id, {"name": "Ada"})
    row = page.locator(f'tr[data-id="{execution_id}"]')
    await expect(row).to_contain_text("hello live")
    await expect(row.locator(".badge")).to_have_text("success")
    await dashboard.shot(page, "executions")
    await page.close()


async def test_the_log_is_followed_while_it_prints(dashboard: Dashboard) -> None:
    """The execution page streams log lines as the executor writes them, then shows success."""
    flo_id = await dashboard.flow("ticker", _ticking_flow(6))
    execution_id = await dashboard.stack.admin.execute(flo_id, {})
    page = await dashboard.page()
    await page.goto(f"{dashboard.stack.url}/executions/{execution_id}")
    log = page.locator("#log")
    await expect(log).to_contain_text("tick", timeout=_TIMEOUT_MS)
    first = await log.locator(".line").count()
    await expect(page.locator("#status")).to_have_text("running")
    # More lines arrive while the page stays open and the run is still going.
    await expect(log.locator(".line")).not_to_have_count(first)
    assert (await dashboard.stack.admin.get_execution(execution_id))["completion_status"] in (
        "pending",
        "success",
    )
    await page.get_by_role("button", name="Following").click()
    await expect(page.get_by_role("button", name="Paused")).to_be_visible()
    await page.get_by_label("Search").fill("tick-2")
    await expect(page.locator("#log-count")).to_contain_text("match")
    await page.get_by_role("button", name="Search whole log").click()
    await expect(page.locator("#log-found-count")).to_contain_text("matching lines in the whole")
    await expect(page.locator("#log-found-lines")).to_contain_text('"id":"tick-2"')
    await expect(page.locator("#status")).to_have_text("success", timeout=_TIMEOUT_MS)
    await expect(page.locator("#nodes")).to_contain_text("common/sleep")
    await dashboard.shot(page, "execution")
    await page.close()


async def test_a_running_execution_is_cancelled_from_its_page(dashboard: Dashboard) -> None:
    """The Cancel button stops a running execution; the page and the API say cancel."""
    flo_id = await dashboard.flow("sleeper", _ticking_flow(120))
    execution_id = await dashboard.stack.admin.execute(flo_id, {})
    page = await dashboard.page()
    await page.goto(f"{dashboard.stack.url}/executions/{execution_id}")
    await expect(page.locator("#status")).to_have_text("running", timeout=_TIMEOUT_MS)
    await page.get_by_role("button", name="Cancel").click()
    await expect(page.locator("#status")).to_have_text("cancel")
    execution = await dashboard.stack.admin.get_execution(execution_id)
    assert execution["completion_status"] == "cancel"
    assert execution["completion_reason"] == "cancelled by operator"
    await dashboard.shot(page, "cancelled")
    await page.close()


async def test_a_suspended_execution_is_resumed_with_json(dashboard: Dashboard) -> None:
    """pause-resume suspends; Resume with JSON data puts it back and it finishes."""
    flow = json.loads((EXAMPLES / "pause-resume.flow.json").read_text())
    flo_id = await dashboard.flow("approval", flow)
    execution_id = await dashboard.stack.admin.execute(flo_id, {"approver": "ops"})
    page = await dashboard.page()
    await page.goto(f"{dashboard.stack.url}/executions/{execution_id}")
    await expect(page.locator("#status")).to_have_text("suspended", timeout=_TIMEOUT_MS)
    editor = page.get_by_label("Resume data (JSON, optional)")
    await editor.fill('{"approved": tru')
    await expect(page.locator(".resume .json-problem")).to_contain_text("Not valid JSON")
    await editor.fill('{"approved": true}')
    await expect(page.locator(".resume .json-problem")).to_have_text("")
    await dashboard.shot(page, "suspended")
    await page.get_by_role("button", name="Resume").click()
    await expect(page.locator("#status")).to_have_text("success", timeout=_TIMEOUT_MS)
    execution = await dashboard.stack.admin.get_execution(execution_id)
    assert execution["checkpoint"]["resume_data"] == {"approved": True}
    assert execution["result"]["outputs"]["stage"] == "approved-by-ops"
    await page.close()


async def test_a_flow_runs_with_trigger_data_from_the_editor(dashboard: Dashboard) -> None:
    """The flow page shows its JSON and problems, refuses bad data, and runs with good data."""
    flow = json.loads((EXAMPLES / "hello.flow.json").read_text())
    flo_id = await dashboard.flow("hello editor", flow)
    page = await dashboard.page()
    await page.goto(f"{dashboard.stack.url}/flows")
    await page.get_by_role("link", name="hello editor").click()
    await expect(page.locator("#problems")).to_have_text("No problems found.")
    await expect(page.locator("#flow-json")).to_contain_text("string/concatenate")
    editor = page.get_by_label("Trigger data (a JSON object)")
    await editor.fill("[1, 2]")
    await expect(page.locator(".json-problem")).to_have_text("Trigger data must be a JSON object.")
    await page.get_by_role("button", name="Run hello editor").click()
    await expect(page.locator("#run-error")).to_contain_text("must be a JSON object")
    await page.get_by_label("Trigger data (a JSON object)").fill('{"name": "Grace"}')
    await dashboard.shot(page, "flow")
    await page.get_by_role("button", name="Run hello editor").click()
    await page.wait_for_url(f"{dashboard.stack.url}/executions/**")
    await expect(page.locator("#status")).to_have_text("success", timeout=_TIMEOUT_MS)
    await expect(page.locator("#outputs")).to_contain_text("HELLO, GRACE!")
    assert flo_id in await page.locator("#summary").inner_html()
    await page.close()


async def test_script_and_attribute_payloads_render_as_text(dashboard: Dashboard) -> None:
    """A flow name, trigger data, outputs and log holding HTML show as text and run nothing."""
    flow = json.loads((EXAMPLES / "hello.flow.json").read_text())
    flow["nodes"][1]["data"]["label"] = _XSS_ATTRIBUTE  # logged by the executor as it runs
    flo_id = await dashboard.flow(_XSS_NAME, flow)
    execution_id = await dashboard.stack.admin.execute(flo_id, {"name": _XSS_ATTRIBUTE})
    page = await dashboard.page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await page.goto(f"{dashboard.stack.url}/executions/{execution_id}")
    await expect(page.locator("#status")).to_have_text("success", timeout=_TIMEOUT_MS)
    await page.reload()
    await expect(page.locator("h1")).to_contain_text(_XSS_NAME)
    await expect(page.locator("#outputs")).to_contain_text(json.dumps(f"Hello, {_XSS_ATTRIBUTE}!"))
    await expect(page.locator("#log")).to_contain_text("onerror=")
    await expect(page.locator("#nodes")).to_contain_text(_XSS_ATTRIBUTE)
    await page.locator("#nodes summary").nth(1).click()
    for path in ("/executions", "/flows", f"/flows/{flo_id}", f"/executions/{execution_id}"):
        await page.goto(f"{dashboard.stack.url}{path}")
        await expect(page.locator("main", has_text=_XSS_NAME)).to_be_visible()
        assert await page.evaluate("window.__xss") is None, path
        assert await page.locator("img[src=x]").count() == 0, path
    assert dialogs == []
    await dashboard.shot(page, "escaped")
    await page.close()


async def test_state_changes_without_the_csrf_token_are_refused(dashboard: Dashboard) -> None:
    """A signed-in browser's POST without the form's CSRF token is answered 403 and does nothing."""
    flo_id = await dashboard.flow("csrf target", _ticking_flow(30))
    execution_id = await dashboard.stack.admin.execute(flo_id, {})
    page = await dashboard.page()
    answer = await page.request.post(
        f"{dashboard.stack.url}/executions/{execution_id}/cancel",
        form={"csrf": "forged"},
        max_redirects=0,
    )
    assert answer.status == 403
    assert "CSRF" in await answer.text()
    execution = await dashboard.stack.admin.get_execution(execution_id)
    assert execution["completion_status"] == "pending"
    await dashboard.stack.admin.cancel(execution_id)
    await page.close()


async def test_pages_fit_a_phone_and_the_dark_scheme(dashboard: Dashboard) -> None:
    """At phone width in the dark scheme the pages render without sideways scrolling."""
    context = await dashboard.browser.new_context(
        viewport={"width": 390, "height": 844}, color_scheme="dark", is_mobile=True
    )
    try:
        page = await context.new_page()
        page.set_default_timeout(_TIMEOUT_MS)
        await _sign_in(page, dashboard.stack.url, dashboard.stack.admin_token)
        background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(15, 19, 24)"
        for path in ("/", "/executions", "/flows"):
            await page.goto(f"{dashboard.stack.url}{path}")
            overflow = await page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, path
        await page.goto(f"{dashboard.stack.url}/executions")
        await dashboard.shot(page, "phone-dark")
        await page.keyboard.press("Tab")
        focused = await page.evaluate("document.activeElement.textContent")
        assert focused == "Skip to content"
    finally:
        await context.close()
