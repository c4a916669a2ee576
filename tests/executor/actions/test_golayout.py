"""Tests of the Go time-layout formatter and parser (docs/flows.md §10.8)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flomation.executor.golayout import (
    RFC1123,
    RFC1123Z,
    RFC3339,
    LayoutParseError,
    format_time,
    parse_time,
)

_MST = timezone(timedelta(hours=-7), "MST")
_REFERENCE = datetime(2006, 1, 2, 15, 4, 5, tzinfo=_MST)
_LATE = datetime(2026, 11, 27, 9, 8, 7, 120000, tzinfo=timezone(timedelta(hours=5, minutes=30)))


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        ("2006 06 January Jan 01 1", "2026 26 November Nov 11 11"),
        ("Monday Mon 02 _2 2 __2 002", "Friday Fri 27 27 27 331 331"),
        ("15 03 3 04 4 05 5 PM pm", "09 09 9 08 8 07 7 AM am"),
        ("Z07:00 -07:00 -0700 Z0700 -07 Z07", "+05:30 +05:30 +0530 +0530 +05 +05"),
        ("-070000 -07:00:00 Z070000", "+053000 +05:30:00 +053000"),
        ("MST", "+0530"),
        (".000 .999 ,000000 .9 .0", ".120 .12 ,120000 .1 .1"),
        ("Janet Monthly Mondays", "Janet Monthly Fridays"),
        # ".000" followed by a digit is no fraction, so its "01" is the month (as in Go).
        ("_2006 .0001 a0b", "_2026 .0011 a0b"),
        ("05.000123", "07.0011279"),
    ],
)
def test_format_tokens(layout: str, expected: str) -> None:
    """Every supported token formats as Go does; look-alike text stays literal."""
    assert format_time(_LATE, layout) == expected


def test_reference_time_formats_back_to_the_layouts() -> None:
    """Formatting Go's reference time with the standard layouts reproduces them."""
    assert format_time(_REFERENCE, RFC1123) == RFC1123
    assert format_time(_REFERENCE, RFC1123Z) == RFC1123Z
    assert format_time(_REFERENCE, "2006-01-02T15:04:05-07:00") == "2006-01-02T15:04:05-07:00"
    assert format_time(_REFERENCE, "3:04PM .999") == "3:04PM "


def test_utc_formats_with_z_and_utc_name() -> None:
    """UTC prints ``Z`` for the Z tokens and ``UTC`` for MST; -0700 stays numeric."""
    moment = datetime(2026, 6, 15, 14, 0, tzinfo=UTC)
    assert format_time(moment, RFC3339) == "2026-06-15T14:00:00Z"
    assert format_time(moment, "MST -0700") == "UTC +0000"


def test_named_zone_prints_its_abbreviation() -> None:
    """A zone with a name prints it for MST (as Go prints tz abbreviations)."""
    moment = datetime(2026, 6, 15, 14, 0, tzinfo=timezone(timedelta(hours=1), "BST"))
    assert format_time(moment, "15:04 MST") == "14:00 BST"


def test_parse_rfc3339_with_offset_and_fraction() -> None:
    """RFC 3339 parses with its offset; a fraction not in the layout is still accepted."""
    parsed = parse_time(RFC3339, "2026-06-15T14:00:00.5+02:00")
    assert parsed == datetime(2026, 6, 15, 12, 0, 0, 500000, tzinfo=UTC)
    assert parsed.utcoffset() == timedelta(hours=2)
    assert parse_time(RFC3339, "2026-06-15T14:00:00Z").tzinfo is UTC


def test_parse_without_zone_is_utc() -> None:
    """A layout with no zone yields UTC."""
    assert parse_time("2006-01-02 15:04", "2026-01-31 23:59") == datetime(
        2026, 1, 31, 23, 59, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("layout", "value", "expected"),
    [
        ("Jan _2 2006", "feb  3 2026", datetime(2026, 2, 3, tzinfo=UTC)),
        ("January 2, 2006", "MARCH 10,   2026", datetime(2026, 3, 10, tzinfo=UTC)),
        ("Monday 02/01/06", "sunday 05/07/69", datetime(1969, 7, 5, tzinfo=UTC)),
        ("02/01/06", "05/07/68", datetime(2068, 7, 5, tzinfo=UTC)),
        ("2006-01-02 3:04PM", "2026-01-01 12:30AM", datetime(2026, 1, 1, 0, 30, tzinfo=UTC)),
        ("2006-01-02 3:04pm", "2026-01-01 1:05pm", datetime(2026, 1, 1, 13, 5, tzinfo=UTC)),
        ("2006-002", "2024-060", datetime(2024, 2, 29, tzinfo=UTC)),
        ("2006 __2", "2023  60", datetime(2023, 3, 1, tzinfo=UTC)),
        (
            "2006-01-02 15:04:05.000",
            "2026-01-01 10:00:00.123",
            datetime(2026, 1, 1, 10, 0, 0, 123000, tzinfo=UTC),
        ),
        ("2006-01-02 15:04:05.999", "2026-01-01 10:00:00", datetime(2026, 1, 1, 10, tzinfo=UTC)),
        (
            "2006-01-02 15:04:05,999999999",
            "2026-01-01 10:00:00,123456789",
            datetime(2026, 1, 1, 10, 0, 0, 123456, tzinfo=UTC),
        ),
    ],
)
def test_parse_examples(layout: str, value: str, expected: datetime) -> None:
    """Names are case-insensitive, spaces are flexible, 2-digit years pivot at 69, etc."""
    assert parse_time(layout, value) == expected


def test_parse_zone_abbreviations() -> None:
    """UTC is UTC; unknown abbreviations get offset 0 and keep their name; GMT+h is honoured."""
    parsed = parse_time(RFC1123, "Mon, 15 Jun 2026 14:00:00 PST")
    assert parsed.utcoffset() == timedelta(0)
    assert parsed.tzname() == "PST"
    parsed = parse_time("15:04 2006 MST", "14:00 2026 GMT+3")
    assert parsed.utcoffset() == timedelta(hours=3)
    assert parse_time(RFC1123, "Mon, 15 Jun 2026 14:00:00 UTC").tzinfo is UTC


@pytest.mark.parametrize(
    ("layout", "value", "message"),
    [
        (
            RFC3339,
            "x",
            'parsing time "x" as "2006-01-02T15:04:05Z07:00": cannot parse "x" as "2006"',
        ),
        (
            RFC3339,
            "2026-06-15 14:00:00Z",
            'parsing time "2026-06-15 14:00:00Z" as "2006-01-02T15:04:05Z07:00":'
            ' cannot parse " 14:00:00Z" as "T"',
        ),
        ("2006-01-02", "2026-13-01", 'parsing time "2026-13-01": month out of range'),
        ("2006-01-02", "2026-02-29", 'parsing time "2026-02-29": day out of range'),
        ("2006-01-02", "2026-01-01 extra", 'parsing time "2026-01-01 extra": extra text: " extra"'),
        ("15:04", "24:00", 'parsing time "24:00": hour out of range'),
        ("15:04", "10:60", 'parsing time "10:60": minute out of range'),
        ("2006", "é", 'parsing time "\\xc3\\xa9" as "2006": cannot parse "\\xc3\\xa9" as "2006"'),
        (
            "2006 -07:00",
            "2026 +25:00",
            'parsing time "2026 +25:00": time zone offset hour out of range',
        ),
        ("15:04", "10:30", 'parsing time "10:30": year out of range'),
        ("2006-002", "2023-366", 'parsing time "2023-366": day-of-year out of range'),
        (
            "2006-01-002",
            "2024-03-060",
            'parsing time "2024-03-060": day-of-year does not match month',
        ),
        (
            "01/02/2006",
            "1/02/2006",
            'parsing time "1/02/2006" as "01/02/2006": cannot parse "1/02/2006" as "01"',
        ),
    ],
)
def test_parse_errors_carry_go_messages(layout: str, value: str, message: str) -> None:
    """Parse failures raise LayoutParseError with Go's exact message text."""
    with pytest.raises(LayoutParseError) as caught:
        parse_time(layout, value)
    assert str(caught.value) == message


_OFFSETS = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
_MOMENTS = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=_OFFSETS
)


@given(_MOMENTS)
def test_rfc3339_round_trip(moment: datetime) -> None:
    """Formatting as RFC 3339 (with micro fraction) and parsing back gives the same instant."""
    layout = "2006-01-02T15:04:05.999999Z07:00"
    text = format_time(moment, layout)
    parsed = parse_time(layout, text)
    assert parsed == moment
    assert parsed.utcoffset() == moment.utcoffset()
    assert format_time(parsed, layout) == text


@given(_MOMENTS)
def test_rfc3339_matches_python_isoformat(moment: datetime) -> None:
    """RFC 3339 output equals Python's isoformat to the second (``Z`` for a zero offset)."""
    expected = moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")
    assert format_time(moment, RFC3339) == expected


@given(_MOMENTS)
def test_rfc1123z_round_trip(moment: datetime) -> None:
    """RFC 1123Z (the action's ``rfc2822``) round-trips to the second."""
    text = format_time(moment, RFC1123Z)
    assert parse_time(RFC1123Z, text) == moment.replace(microsecond=0)
