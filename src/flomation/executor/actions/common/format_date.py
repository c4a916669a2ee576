"""`common/format_date`: parse, convert and format a date and time (docs/flows.md §10.4, §10.8)."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta, tzinfo

from flomation.executor.accessors import read_string
from flomation.executor.actions.base import ActionContext, ActionSpec, Connection, Outputs
from flomation.executor.golayout import (
    DAY_NAMES,
    RFC1123,
    RFC1123Z,
    RFC3339,
    LayoutParseError,
    format_time,
    parse_time,
)

__all__ = ["SPEC", "run"]

_INPUT_LAYOUTS = {"iso8601": RFC3339, "rfc2822": RFC1123Z, "date": "2006-01-02"}
_OUTPUT_LAYOUTS = {
    **_INPUT_LAYOUTS,
    "time": "15:04:05",
    "friendly": "02 Jan 2006, 15:04",
    "dmy": "02/01/2006",
    "mdy": "01/02/2006",
}
_AUTO_LAYOUTS = (
    RFC3339,
    "2006-01-02T15:04:05",
    "2006-01-02 15:04:05",
    "2006-01-02",
    RFC1123Z,
    RFC1123,
    "02/01/2006 15:04:05",
    "02/01/2006",
    "01/02/2006",
)
# Go's fmt.Sscanf("%d"): leading blanks, an optional sign, then digits (the rest is ignored).
_UNIX_SECONDS = re.compile(r"[ \t]*([+-]?[0-9]+)")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _option(name: str, value: str) -> dict[str, str]:
    return {"name": name, "value": value}


SPEC = ActionSpec(
    id="common/format_date",
    name="Format Date",
    description="Format a date/time value or the current time into a string",
    icon="calendar",
    inputs=(
        Connection("datetime", "string", "Date/Time", placeholder="Leave empty for current time"),
        Connection(
            "input_format",
            "string",
            "Input Format",
            options=(
                _option("Auto-detect", ""),
                _option("ISO 8601 (2006-01-02T15:04:05Z07:00)", "iso8601"),
                _option("RFC 2822 (Mon, 02 Jan 2006 15:04:05 -0700)", "rfc2822"),
                _option("Unix Timestamp (seconds)", "unix"),
                _option("Date Only (2006-01-02)", "date"),
                _option("Custom", "custom"),
            ),
        ),
        Connection(
            "custom_input_format",
            "string",
            "Custom Input Format (Go layout)",
            placeholder="2006-01-02 15:04:05",
        ),
        Connection(
            "output_format",
            "string",
            "Output Format",
            options=(
                _option("ISO 8601 (2006-01-02T15:04:05Z07:00)", "iso8601"),
                _option("RFC 2822 (Mon, 02 Jan 2006 15:04:05 -0700)", "rfc2822"),
                _option("Date Only (2006-01-02)", "date"),
                _option("Time Only (15:04:05)", "time"),
                _option("Friendly (02 Jan 2006, 15:04)", "friendly"),
                _option("Day/Month/Year (02/01/2006)", "dmy"),
                _option("Month/Day/Year (01/02/2006)", "mdy"),
                _option("Unix Timestamp", "unix"),
                _option("Custom", "custom"),
            ),
            default="iso8601",
        ),
        Connection(
            "custom_output_format",
            "string",
            "Custom Output Format (Go layout)",
            placeholder="Monday, 02 January 2006",
        ),
        Connection(
            "timezone",
            "string",
            "Timezone",
            placeholder="UTC (e.g. Europe/London, America/New_York)",
            default="UTC",
        ),
    ),
    extra={
        "differences": [
            "dates outside the years 1 to 9999 fail to parse (`failed to parse datetime: ...`); "
            "Go's time holds any year"
        ]
    },
    outputs=(
        Connection("tool_result", "string", "Result"),
        Connection("result", "string", "Formatted Date"),
        Connection("year", "integer", "Year"),
        Connection("month", "integer", "Month"),
        Connection("day", "integer", "Day"),
        Connection("hour", "integer", "Hour"),
        Connection("minute", "integer", "Minute"),
        Connection("second", "integer", "Second"),
        Connection("day_of_week", "string", "Day of Week"),
        Connection("unix_timestamp", "integer", "Unix Timestamp"),
        Connection("success", "boolean", "Success"),
        Connection("error", "string", "Error"),
    ),
)


class _DateError(Exception):
    """The action fails softly with this message."""


def _text(ctx: ActionContext, name: str) -> str:
    return read_string(ctx.inputs, name) or ""


def _local_zone() -> tzinfo:
    """Go's time.Local: ``TZ`` when set (empty or unknown is UTC), else /etc/localtime, else UTC."""
    from zoneinfo import ZoneInfo

    name = os.environ.get("TZ")
    try:
        if name is None:
            with open("/etc/localtime", "rb") as source:
                return ZoneInfo.from_file(source, key="Local")
        return ZoneInfo(name.removeprefix(":")) if name else UTC
    except (ValueError, KeyError, OSError):
        return UTC


def _zone(name: str) -> tzinfo:
    if name in ("", "UTC"):
        return UTC
    if name == "Local":
        return _local_zone()
    # Imported here: zoneinfo is only needed by flows that name a zone.
    from zoneinfo import ZoneInfo

    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # unknown key, malformed key, unreadable file
        raise _DateError(f"invalid timezone: {name}") from None


def _unix_seconds(moment: datetime) -> int:
    """Seconds since the epoch, rounded down like Go's Time.Unix()."""
    return (moment - _EPOCH) // timedelta(seconds=1)


def _parse(value: str, input_format: str, custom_layout: str) -> datetime:
    """The datetime a text denotes, read the way ``input_format`` says."""
    if input_format == "unix":
        match = _UNIX_SECONDS.match(value)
        if match is not None:
            try:
                return _EPOCH + timedelta(seconds=int(match.group(1)))
            except OverflowError:
                pass  # beyond the years 1..9999 that datetime can hold
        raise ValueError(f"invalid unix timestamp: {value}")
    if input_format == "custom" and custom_layout:
        return parse_time(custom_layout, value)
    if input_format in _INPUT_LAYOUTS:
        return parse_time(_INPUT_LAYOUTS[input_format], value)
    for layout in _AUTO_LAYOUTS:
        try:
            return parse_time(layout, value.strip())
        except LayoutParseError:
            continue
    raise ValueError(f"unable to parse date: {value}")


def _format(moment: datetime, output_format: str, custom_layout: str) -> str:
    if output_format == "unix":
        return str(_unix_seconds(moment))
    if output_format == "custom" and custom_layout:
        return format_time(moment, custom_layout)
    return format_time(moment, _OUTPUT_LAYOUTS.get(output_format, RFC3339))


def _failure(message: str) -> Outputs:
    outputs: Outputs = {"tool_result": "Error: " + message, "result": ""}
    outputs.update(dict.fromkeys(("year", "month", "day", "hour", "minute", "second"), 0))
    outputs.update({"day_of_week": "", "unix_timestamp": 0, "success": False, "error": message})
    return outputs


def run(ctx: ActionContext) -> Outputs:
    """The formatted text and the calendar fields in the requested zone; errors fail softly."""
    try:
        zone = _zone(_text(ctx, "timezone"))
        value = _text(ctx, "datetime")
        if value:
            try:
                moment = _parse(
                    value, _text(ctx, "input_format"), _text(ctx, "custom_input_format")
                ).astimezone(zone)
            except (ValueError, OverflowError) as problem:
                raise _DateError(f"failed to parse datetime: {problem}") from None
        else:
            moment = datetime.now(zone)
    except _DateError as problem:
        return _failure(str(problem))
    result = _format(moment, _text(ctx, "output_format"), _text(ctx, "custom_output_format"))
    return {
        "tool_result": result,
        "result": result,
        "year": moment.year,
        "month": moment.month,
        "day": moment.day,
        "hour": moment.hour,
        "minute": moment.minute,
        "second": moment.second,
        "day_of_week": DAY_NAMES[moment.weekday()],
        "unix_timestamp": _unix_seconds(moment),
        "success": True,
        "error": "",
    }
