"""Fixtures the runner's tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from fixtures.fake_control_plane import FakeControlPlane


@pytest.fixture
async def fake() -> AsyncIterator[FakeControlPlane]:
    """A fake control plane on 127.0.0.1 holding empty long-polls for 0.3 s."""
    async with FakeControlPlane(hold_s=0.3) as server:
        yield server
