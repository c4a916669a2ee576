"""``common/wait``: suspend until a time (``resume_at``) or for a duration (§10.4, §4.12)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from flomation.executor.accessors import read_string
from flomation.executor.actions.base import (
    ActionContext,
    ActionSpec,
    Connection,
    HardError,
    Outputs,
)
from flomation.executor.checkpoint import parse_rfc3339

__all__ = ["SPEC", "parse_wait_duration", "run"]

_GO_UNITS_S = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,  # Go accepts both micro signs
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_GO_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_DAYS_WEEKS = re.compile(r"([0-9]+)([dw])")

SPEC = ActionSpec(
    id="common/wait",
    name="Wait",
    description="Suspend the flow until a time or for a duration",
    icon="hourglass",
    inputs=(
        Connection("duration", "string", "Duration", placeholder="1h30m, 2d, 1w"),
        Connection("resume_at", "string", "Resume At", placeholder="2026-06-15T14:00:00Z"),
    ),
    outputs=(
        Connection("tool_result", "string", "Result"),
        Connection("suspended", "boolean", "Suspended"),
        Connection("resume_at", "string", "Resume At"),
        Connection("duration", "string", "Duration"),
    ),
)


def parse_wait_duration(text: str) -> timedelta:
    """Go duration syntax (``300ms``, ``2h45m``) or ``<n>d`` / ``<n>w``; ValueError if not."""
    days_weeks = _DAYS_WEEKS.fullmatch(text)
    if days_weeks is not None:
        count = int(days_weeks.group(1))
        if count <= 0:
            raise ValueError(f'time: invalid duration "{text}"')
        return timedelta(days=count * (7 if days_weeks.group(2) == "w" else 1))
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return timedelta(0)
    position, total_s = 0, 0.0
    while position < len(body):
        part = _GO_DURATION_PART.match(body, position)
        if part is None or part.group(1) in ("", "."):
            raise ValueError(f'time: invalid duration "{text}"')
        total_s += float(part.group(1)) * _GO_UNITS_S[part.group(2)]
        position = part.end()
    if not body:
        raise ValueError(f'time: invalid duration "{text}"')
    return timedelta(seconds=-total_s if text.startswith("-") else total_s)


def _seconds_rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _failure(message: str, tool_result: str) -> HardError:
    outputs = {"tool_result": tool_result, "suspended": False, "resume_at": "", "duration": ""}
    return HardError(message, outputs)


def run(ctx: ActionContext) -> Outputs:
    """Suspend with reason ``wait``; when resumed, pass through with ``Resumed``."""
    duration = (read_string(ctx.inputs, "duration") or "").strip()
    resume_text = (read_string(ctx.inputs, "resume_at") or "").strip()
    if ctx.resumed:
        stored = (ctx.resumed_suspend_info or {}).get("resume_at")
        return {
            "tool_result": "Resumed",
            "suspended": False,
            "resume_at": stored if isinstance(stored, str) else "",
            "duration": duration,
        }
    if resume_text:
        try:
            resume_at = parse_rfc3339(resume_text)
        except ValueError as error:
            raise _failure(
                f"invalid resume_at: {error}", f"Invalid resume_at format: {error}"
            ) from None
    elif duration:
        try:
            resume_at = datetime.now(UTC) + parse_wait_duration(duration)
        except (ValueError, OverflowError) as error:
            raise _failure(f"invalid duration: {error}", f"Invalid duration: {error}") from None
    else:
        raise _failure(
            "either duration or resume_at is required", "Either duration or resume_at is required"
        )
    shown = _seconds_rfc3339(resume_at)
    outputs = {
        "tool_result": f"Waiting until {shown}",
        "suspended": True,
        "resume_at": shown,
        "duration": duration,
    }
    ctx.suspend("wait", outputs, resume_at=resume_at)
    raise AssertionError("ActionContext.suspend returned")  # suspend never returns
