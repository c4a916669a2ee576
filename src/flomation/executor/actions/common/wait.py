"""``common/wait``: suspend until a time (``resume_at``) or for a duration.

See docs/flows.md §10.4, §4.12.
"""

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
_SCANF_INT = re.compile(r"[ \t\r\n]*([+-]?[0-9]+)")

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
    extra={
        "differences": [
            "an invalid resume_at names the problem in this executor's words, "
            "not Go's time.Parse text",
        ]
    },
)


def _go_duration(text: str) -> timedelta:
    """Go's ``time.ParseDuration`` (``300ms``, ``-1.5h``, ``2h45m``); ValueError if invalid."""
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


def _scanned_count(text: str) -> int | None:
    """Go's ``fmt.Sscanf(text, "%d", &n)``: leading spaces, sign, digits; the rest is ignored."""
    scanned = _SCANF_INT.match(text)
    return None if scanned is None else int(scanned.group(1))


def parse_wait_duration(text: str) -> timedelta:
    """The wait's duration: Go duration syntax first, then ``<n>d`` / ``<n>w`` (n > 0).

    Mirrors flomation-co/executor: actions/common/wait/action.go (parseDuration): the text is
    trimmed, a ``d``/``w`` suffix is stripped and the count read like ``fmt.Sscanf("%d")``, which
    ignores whatever follows the digits (``1.5d`` is one day). ValueError carries upstream's text.
    """
    trimmed = text.strip()
    if not trimmed:
        raise ValueError("empty duration")
    try:
        return _go_duration(trimmed)
    except ValueError:
        pass
    for suffix, days in (("d", 1), ("w", 7)):
        if trimmed.endswith(suffix):
            trimmed = trimmed[: -len(suffix)]
            count = _scanned_count(trimmed)
            if count is not None and count > 0:
                return timedelta(days=count * days)
    raise ValueError(f"unsupported duration format: {trimmed} (use s, m, h, d, or w)")


def _seconds_rfc3339(moment: datetime) -> str:
    """Go's ``Format(time.RFC3339)``: whole seconds, in the moment's own offset (``Z`` for 0)."""
    offset = moment.utcoffset()
    if offset is None or not offset:
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f"{sign}{hours:02d}:{minutes:02d}"


def _failure(message: str, tool_result: str) -> HardError:
    outputs = {"tool_result": tool_result, "suspended": False, "resume_at": "", "duration": ""}
    return HardError(message, outputs)


def run(ctx: ActionContext) -> Outputs:
    """Suspend with reason ``wait``; when resumed, pass through with ``Resumed after wait``.

    As flomation-co/executor: actions/common/wait/action.go: on resume every other output is
    empty; ``resume_at`` is parsed as given (untrimmed); ``duration`` is echoed as given.
    """
    if ctx.resumed:
        return {
            "tool_result": "Resumed after wait",
            "suspended": False,
            "resume_at": "",
            "duration": "",
        }
    duration = read_string(ctx.inputs, "duration") or ""
    resume_text = read_string(ctx.inputs, "resume_at") or ""
    if resume_text:
        try:
            if resume_text != resume_text.strip():  # Go's time.Parse takes no spaces
                raise ValueError(f"not an RFC 3339 time: {resume_text!r}")
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
