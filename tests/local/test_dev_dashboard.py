"""``flomation-runner dev`` prints a dashboard sign-in link that works when opened."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp


async def test_dev_prints_a_dashboard_link_that_signs_in_once(tmp_path: Path) -> None:
    """The printed link opens the overview signed in; opened a second time it is refused."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOMATION_")}
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "flomation-runner"),
        "dev",
        "--listen",
        "127.0.0.1:0",
        "--slots",
        "1",
        "--home",
        str(tmp_path / "dev"),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    try:
        link = ""
        async with asyncio.timeout(60):
            while not link:
                line = (await process.stdout.readline()).decode()
                assert line, "dev exited before printing the dashboard link"
                if line.startswith("dashboard:"):
                    link = line.split(maxsplit=1)[1].strip()
        assert "/signin/link?code=" in link
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as browser:
            async with browser.get(link) as opened:
                assert opened.status == 200
                assert opened.url.path == "/"
                assert "<h1>Overview</h1>" in await opened.text()
            jar.clear()
            async with browser.get(link) as again:
                assert again.status == 401
    finally:
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(60):
            await process.wait()
