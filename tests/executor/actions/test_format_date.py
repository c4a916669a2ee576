"""Tests of ``common/format_date`` (docs/flows.md §10.4 and §10.8)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from flomation.executor.actions.common import format_date

MakeCtx = Callable[..., Any]

_FIELDS = ("year", "month", "day", "hour", "minute", "second", "day_of_week", "unix_timestamp")


def _run(make_ctx: MakeCtx, **inputs: str) -> dict[str, Any]:
    return format_date.run(make_ctx(*((name, "string", value) for name, value in inputs.items())))


def _failure(message: str) -> dict[str, Any]:
    return {
        "tool_result": "Error: " + message,
        "result": "",
        "year": 0,
        "month": 0,
        "day": 0,
        "hour": 0,
        "minute": 0,
        "second": 0,
        "day_of_week": "",
        "unix_timestamp": 0,
        "success": False,
        "error": message,
    }


def test_iso_input_converted_to_a_zone(make_ctx: MakeCtx) -> None:
    """A UTC instant converted to Europe/London (BST) gives the local fields and RFC 2822."""
    outputs = _run(
        make_ctx,
        datetime="2026-06-15T14:00:00Z",
        input_format="iso8601",
        output_format="rfc2822",
        timezone="Europe/London",
    )
    assert outputs == {
        "tool_result": "Mon, 15 Jun 2026 15:00:00 +0100",
        "result": "Mon, 15 Jun 2026 15:00:00 +0100",
        "year": 2026,
        "month": 6,
        "day": 15,
        "hour": 15,
        "minute": 0,
        "second": 0,
        "day_of_week": "Monday",
        "unix_timestamp": int(datetime(2026, 6, 15, 14, tzinfo=UTC).timestamp()),
        "success": True,
        "error": "",
    }


@pytest.mark.parametrize(
    ("output_format", "expected"),
    [
        ("", "2026-06-15T14:05:09Z"),
        ("iso8601", "2026-06-15T14:05:09Z"),
        ("date", "2026-06-15"),
        ("time", "14:05:09"),
        ("friendly", "15 Jun 2026, 14:05"),
        ("dmy", "15/06/2026"),
        ("mdy", "06/15/2026"),
        ("unix", "1781532309"),
        ("nonsense", "2026-06-15T14:05:09Z"),
        ("custom", "2026-06-15T14:05:09Z"),
    ],
)
def test_output_formats(make_ctx: MakeCtx, output_format: str, expected: str) -> None:
    """Each named output layout; unknown names and custom without a layout give RFC 3339."""
    outputs = _run(make_ctx, datetime="2026-06-15 14:05:09", output_format=output_format)
    assert outputs["result"] == outputs["tool_result"] == expected


def test_custom_layouts_in_and_out(make_ctx: MakeCtx) -> None:
    """Custom Go layouts parse the input and format the output, with zone abbreviations."""
    outputs = _run(
        make_ctx,
        datetime="15.06.26 2:05PM",
        input_format="custom",
        custom_input_format="02.01.06 3:04PM",
        output_format="custom",
        custom_output_format="Monday, 02 January 2006 15:04 MST",
        timezone="America/New_York",
    )
    assert outputs["result"] == "Monday, 15 June 2026 10:05 EDT"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-06-15T14:00:00+02:00", "2026-06-15T12:00:00Z"),
        ("  2026-06-15T14:00:00  ", "2026-06-15T14:00:00Z"),
        ("2026-06-15", "2026-06-15T00:00:00Z"),
        ("Mon, 15 Jun 2026 14:00:00 -0300", "2026-06-15T17:00:00Z"),
        ("Mon, 15 Jun 2026 14:00:00 UTC", "2026-06-15T14:00:00Z"),
        ("15/06/2026 08:30:00", "2026-06-15T08:30:00Z"),
        ("01/02/2026", "2026-02-01T00:00:00Z"),
        ("06/15/2026", "2026-06-15T00:00:00Z"),
    ],
)
def test_auto_detected_inputs(make_ctx: MakeCtx, value: str, expected: str) -> None:
    """Without an input format the spec's layouts are tried in order on the trimmed text."""
    assert _run(make_ctx, datetime=value)["result"] == expected


def test_unix_input(make_ctx: MakeCtx) -> None:
    """``unix`` reads integer seconds (leading blanks and trailing text as Go's Sscanf)."""
    outputs = _run(make_ctx, datetime=" 1700000000.9", input_format="unix")
    assert outputs["result"] == "2023-11-14T22:13:20Z"
    assert outputs["unix_timestamp"] == 1700000000
    assert _run(make_ctx, datetime="-1", input_format="unix")["unix_timestamp"] == -1


def test_integer_typed_unix_value(make_ctx: MakeCtx) -> None:
    """A JSON number in the datetime input is read through the String accessor."""
    ctx = make_ctx(("datetime", "string", 0), ("input_format", "string", "unix"))
    assert format_date.run(ctx)["result"] == "1970-01-01T00:00:00Z"


def test_empty_datetime_is_now_in_the_zone(make_ctx: MakeCtx) -> None:
    """An empty datetime formats the current time in the requested zone."""
    before = int(datetime.now(UTC).timestamp())
    outputs = _run(
        make_ctx, timezone="Asia/Tokyo", output_format="custom", custom_output_format="MST"
    )
    after = int(datetime.now(UTC).timestamp())
    assert outputs["result"] == "JST"
    assert before <= outputs["unix_timestamp"] <= after
    assert outputs["success"] is True


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../../etc/passwd", "/etc/localtime", "Europe/"])
def test_invalid_timezone_is_a_soft_failure(make_ctx: MakeCtx, zone: str) -> None:
    """An unknown or malformed zone name fails softly with ``invalid timezone: <tz>``."""
    assert _run(make_ctx, datetime="2026-06-15", timezone=zone) == _failure(
        f"invalid timezone: {zone}"
    )


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (
            {"datetime": "next tuesday"},
            "failed to parse datetime: unable to parse date: next tuesday",
        ),
        (
            {"datetime": "abc", "input_format": "unix"},
            "failed to parse datetime: invalid unix timestamp: abc",
        ),
        (
            {"datetime": "99999999999999999", "input_format": "unix"},
            "failed to parse datetime: invalid unix timestamp: 99999999999999999",
        ),
        (
            {"datetime": "2026-06-15", "input_format": "iso8601"},
            'failed to parse datetime: parsing time "2026-06-15" as "2006-01-02T15:04:05Z07:00":'
            ' cannot parse "" as "T"',
        ),
        (
            {"datetime": " 2026-06-15", "input_format": "date"},
            'failed to parse datetime: parsing time " 2026-06-15" as "2006-01-02":'
            ' cannot parse " 2026-06-15" as "2006"',
        ),
        (
            {"datetime": "10:30", "input_format": "custom", "custom_input_format": "15:04"},
            'failed to parse datetime: parsing time "10:30": year out of range',
        ),
    ],
)
def test_parse_failures_are_soft(make_ctx: MakeCtx, inputs: dict[str, str], message: str) -> None:
    """Unparseable input fails softly with ``failed to parse datetime: …`` and zeroed fields."""
    assert _run(make_ctx, **inputs) == _failure(message)


def test_fields_follow_the_converted_zone(make_ctx: MakeCtx) -> None:
    """Calendar fields are those of the target zone, across a date line."""
    outputs = _run(make_ctx, datetime="2026-12-31T23:30:00Z", timezone="Pacific/Auckland")
    assert [outputs[name] for name in _FIELDS] == [2027, 1, 1, 12, 30, 0, "Friday", 1798759800]
    assert outputs["result"] == "2027-01-01T12:30:00+13:00"


@pytest.mark.parametrize(
    ("tz", "expected"),
    [("Asia/Tokyo", "21:00 JST"), ("", "12:00 UTC"), ("Nowhere/Else", "12:00 UTC")],
)
def test_local_timezone_is_the_executors_zone(
    make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch, tz: str, expected: str
) -> None:
    """``Local`` is the executor's own zone from TZ (empty or unknown: UTC), as Go's time.Local.

    Upstream: flomation-co/executor actions/common/format_date/action.go passes the name to
    time.LoadLocation, which accepts ``Local``.
    """
    monkeypatch.setenv("TZ", tz)
    outputs = _run(
        make_ctx,
        datetime="2026-06-15T12:00:00Z",
        timezone="Local",
        output_format="custom",
        custom_output_format="15:04 MST",
    )
    assert outputs["result"] == expected
