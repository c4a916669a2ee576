"""Go ``time`` layouts: format and parse datetimes exactly as Go's ``Format`` and ``Parse`` do.

A layout is text written for the reference time ``Mon Jan 2 15:04:05 MST 2006`` (docs/flows.md
§10.8). Tokens are recognised with Go's rules (``Jan`` only when not followed by a lower-case
letter, ``.000`` only when not followed by a digit, ``_2006`` is a literal ``_`` then the year,
…); all other text is literal. Parse errors carry Go's messages, e.g.
``parsing time "x" as "2006": cannot parse "x" as "2006"``.

Limits of the Python types: years must lie in 1..9999 (Go defaults a layout without a year to
year 0, which is rejected here as ``year out of range``), fractions keep microseconds, and zone
offsets must be under 24 hours.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo

__all__ = [
    "DAY_NAMES",
    "RFC1123",
    "RFC1123Z",
    "RFC3339",
    "LayoutParseError",
    "format_time",
    "parse_time",
]

RFC3339 = "2006-01-02T15:04:05Z07:00"
RFC1123Z = "Mon, 02 Jan 2006 15:04:05 -0700"
RFC1123 = "Mon, 02 Jan 2006 15:04:05 MST"

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
"""English day names indexed by ``datetime.weekday()`` (Monday = 0)."""

_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_SHORT_MONTH_NAMES = tuple(name[:3] for name in _MONTH_NAMES)
# Go looks week days up Sunday first; the order matters only for which prefix matches first.
_GO_DAY_NAMES = ("Sunday", *DAY_NAMES[:6])
_GO_SHORT_DAY_NAMES = tuple(name[:3] for name in _GO_DAY_NAMES)
_DAYS_BEFORE_MONTH = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365)
# Zone tokens after their leading "-" or "Z", longest first as Go tries them.
_ZONE_SHAPES = ("070000", "07:00:00", "0700", "07:00", "07")
_Chunk = tuple[bool, str]  # (is a token, text)


class LayoutParseError(ValueError):
    """A value does not match a layout; the message is Go's ``time.ParseError`` text."""


def _is_digit(text: str, index: int) -> bool:
    return index < len(text) and "0" <= text[index] <= "9"


def _token_at(layout: str, i: int) -> int:
    """The end of the layout token starting at ``i``, or ``i`` when no token starts there."""
    c = layout[i]
    if c == "J" and layout.startswith("Jan", i):
        if layout.startswith("January", i):
            return i + 7
        if not (i + 3 < len(layout) and "a" <= layout[i + 3] <= "z"):
            return i + 3
    elif c == "M":
        if layout.startswith("Mon", i):
            if layout.startswith("Monday", i):
                return i + 6
            if not (i + 3 < len(layout) and "a" <= layout[i + 3] <= "z"):
                return i + 3
        if layout.startswith("MST", i):
            return i + 3
    elif c == "0":
        if i + 1 < len(layout) and "1" <= layout[i + 1] <= "6":
            return i + 2
        if layout.startswith("002", i):
            return i + 3
    elif c == "1":
        return i + 2 if layout.startswith("15", i) else i + 1
    elif c == "2":
        return i + 4 if layout.startswith("2006", i) else i + 1
    elif c == "_":
        # "_2006" is a literal underscore followed by the year.
        if layout.startswith("_2", i) and not layout.startswith("_2006", i):
            return i + 2
        if layout.startswith("__2", i):
            return i + 3
    elif c in "345":
        return i + 1
    elif c in "Pp" and layout.startswith(("PM", "pm"), i):
        return i + 2
    elif c in "-Z":
        for shape in _ZONE_SHAPES:
            if layout.startswith(shape, i + 1):
                return i + 1 + len(shape)
    elif c in ".," and i + 1 < len(layout) and layout[i + 1] in "09":
        end = i + 1
        while end < len(layout) and layout[end] == layout[i + 1]:
            end += 1
        # A run of 0s or 9s is a fraction only when no other digit follows it.
        if not _is_digit(layout, end):
            return end
    return i


def _chunks(layout: str) -> list[_Chunk]:
    """The layout split into literal text and tokens, in order."""
    chunks: list[_Chunk] = []
    literal_start = 0
    i = 0
    while i < len(layout):
        end = _token_at(layout, i)
        if end == i:
            i += 1
            continue
        if literal_start < i:
            chunks.append((False, layout[literal_start:i]))
        chunks.append((True, layout[i:end]))
        literal_start = i = end
    if literal_start < len(layout):
        chunks.append((False, layout[literal_start:]))
    return chunks


def _is_fraction(token: str) -> bool:
    return token[0] in ".,"


# --- formatting ---------------------------------------------------------------------------------


def _zone_name(moment: datetime) -> str:
    """The zone abbreviation Go would print for ``MST``; "" for an unnamed fixed offset."""
    zone = moment.tzinfo
    if zone is None or zone is UTC:
        return "UTC"
    name = moment.tzname() or ""
    if isinstance(zone, timezone) and name == timezone(zone.utcoffset(None)).tzname(None):
        return ""  # Python's synthetic "UTC+02:00" name: Go has no name for such a zone
    return name


def _format_offset(token: str, offset_s: int) -> str:
    if token[0] == "Z" and offset_s == 0:
        return "Z"
    sign = "-" if offset_s < 0 else "+"
    offset_s = abs(offset_s)
    hours, minutes, seconds = offset_s // 3600, offset_s // 60 % 60, offset_s % 60
    shape = token[1:]
    colon = ":" if ":" in shape else ""
    text = f"{sign}{hours:02d}"
    if shape != "07":
        text += f"{colon}{minutes:02d}"
    if len(shape) > 5:  # the shapes with seconds
        text += f"{colon}{seconds:02d}"
    return text


def _format_fraction(token: str, nanosecond: int) -> str:
    digits = min(len(token) - 1, 9)
    trim = token[1] == "9"
    if trim and nanosecond == 0:
        return ""
    text = f"{nanosecond:09d}"[:digits]
    if trim:
        text = text.rstrip("0")
        return token[0] + text if text else ""
    return token[0] + text


def _format_token(moment: datetime, token: str) -> str:
    hour12 = moment.hour % 12 or 12
    simple: dict[str, str] = {
        "2006": f"{moment.year:04d}",
        "06": f"{moment.year % 100:02d}",
        "January": _MONTH_NAMES[moment.month - 1],
        "Jan": _SHORT_MONTH_NAMES[moment.month - 1],
        "01": f"{moment.month:02d}",
        "1": str(moment.month),
        "Monday": DAY_NAMES[moment.weekday()],
        "Mon": DAY_NAMES[moment.weekday()][:3],
        "02": f"{moment.day:02d}",
        "_2": f"{moment.day:2d}",
        "2": str(moment.day),
        "__2": f"{moment.timetuple().tm_yday:3d}",
        "002": f"{moment.timetuple().tm_yday:03d}",
        "15": f"{moment.hour:02d}",
        "03": f"{hour12:02d}",
        "3": str(hour12),
        "04": f"{moment.minute:02d}",
        "4": str(moment.minute),
        "05": f"{moment.second:02d}",
        "5": str(moment.second),
        "PM": "PM" if moment.hour >= 12 else "AM",
        "pm": "pm" if moment.hour >= 12 else "am",
    }
    if token in simple:
        return simple[token]
    offset = moment.utcoffset()
    offset_s = 0 if offset is None else int(offset.total_seconds())
    if token == "MST":
        name = _zone_name(moment)
        if name:
            return name
        return _format_offset("-0700", offset_s)
    if _is_fraction(token):
        return _format_fraction(token, moment.microsecond * 1000)
    return _format_offset(token, offset_s)


def format_time(moment: datetime, layout: str) -> str:
    """``moment.Format(layout)``; a naive datetime is taken as UTC."""
    return "".join(
        _format_token(moment, text) if is_token else text for is_token, text in _chunks(layout)
    )


# --- parsing ------------------------------------------------------------------------------------


def _go_quote(text: str) -> str:
    """Go ``time``'s quote(): double quotes, ``\\xNN`` for control and non-ASCII bytes."""
    parts = ['"']
    for char in text:
        if char < " " or char > "\x7f":
            parts.extend(f"\\x{byte:02x}" for byte in char.encode("utf-8", "surrogatepass"))
        else:
            parts.append("\\" + char if char in '"\\' else char)
    parts.append('"')
    return "".join(parts)


class _Bad(Exception):
    """The value does not match the current layout element."""


def _atoi(text: str) -> int:
    """Go ``time.atoi``: optional sign, then only ASCII digits (possibly none)."""
    digits = text[1:] if text[:1] in ("-", "+") else text
    if not all("0" <= c <= "9" for c in digits):
        raise _Bad
    number = int(digits) if digits else 0
    return -number if text[:1] == "-" else number


def _getnum(value: str, fixed: bool) -> tuple[int, str]:
    """One or two leading digits (exactly two when ``fixed``)."""
    if not _is_digit(value, 0):
        raise _Bad
    if not _is_digit(value, 1):
        if fixed:
            raise _Bad
        return int(value[0]), value[1:]
    return int(value[:2]), value[2:]


def _getnum3(value: str, fixed: bool) -> tuple[int, str]:
    """One to three leading digits (exactly three when ``fixed``)."""
    count = 0
    while count < 3 and _is_digit(value, count):
        count += 1
    if count == 0 or (fixed and count != 3):
        raise _Bad
    return int(value[:count]), value[count:]


def _lookup(names: tuple[str, ...], value: str) -> tuple[int, str]:
    """Index of the first name that prefixes ``value`` (ASCII case-insensitive)."""
    for index, name in enumerate(names):
        head = value[: len(name)]
        if len(head) == len(name) and all(
            a == b or (a.isascii() and a.lower() == b.lower())
            for a, b in zip(head, name, strict=True)
        ):
            return index, value[len(name) :]
    raise _Bad


def _skip(value: str, literal: str) -> tuple[str, bool]:
    """Go's skip(): match layout literal text; a space matches any run of spaces."""
    while literal:
        if literal[0] == " ":
            if value and value[0] != " ":
                return value, False
            literal = literal.lstrip(" ")
            value = value.lstrip(" ")
            continue
        if not value or value[0] != literal[0]:
            return value, False
        literal, value = literal[1:], value[1:]
    return value, True


def _parse_nanoseconds(value: str, nbytes: int) -> int:
    if value[0] not in ".,":
        raise _Bad
    nbytes = min(nbytes, 10)
    nanoseconds = _atoi(value[1:nbytes])
    if nanoseconds < 0:
        raise _RangeError("fractional second")
    scale: int = 10 ** (10 - nbytes)
    return nanoseconds * scale


class _RangeError(Exception):
    """A parsed field is out of its range; the argument names the field."""


def _zone_abbreviation_length(value: str) -> int:
    """Go's parseTimeZone(): length of a zone abbreviation at the start of ``value``, 0 if none."""
    if len(value) < 3:
        return 0
    if value[:4] in ("ChST", "MeST"):
        return 4
    if value.startswith("GMT"):
        return 3 + _signed_offset_length(value[3:])
    if value[0] in "+-":
        return _signed_offset_length(value)
    upper = 0
    while upper < min(len(value), 6) and "A" <= value[upper] <= "Z":
        upper += 1
    if upper == 3:
        return 3
    if upper == 4 and (value[3] == "T" or value[:4] == "WITA"):
        return 4
    if upper == 5 and value[4] == "T":
        return 5
    return 0


def _signed_offset_length(value: str) -> int:
    """Go's parseSignedOffset(): ``+h``/``-hh`` up to 12, else 0."""
    if not value or value[0] not in "+-":
        return 0
    end = 1
    while _is_digit(value, end):
        end += 1
    if end == 1 or int(value[1:end]) > 12:
        return 0
    return end


def _parse_offset(token: str, value: str) -> tuple[int, str]:
    """A numeric zone offset in seconds east of UTC, and the rest of the value."""
    shape = token[1:]
    if ":" in shape:
        if len(value) < len(shape) + 1 or value[3] != ":":
            raise _Bad
        if len(shape) == 8 and value[6] != ":":
            raise _Bad
        hour, minute = value[1:3], value[4:6]
        second = value[7:9] if len(shape) == 8 else "00"
    else:
        if len(value) < len(shape) + 1:
            raise _Bad
        hour = value[1:3]
        minute = value[3:5] if len(shape) >= 4 else "00"
        second = value[5:7] if len(shape) == 6 else "00"
    sign, rest = value[0], value[len(shape) + 1 :]
    hours = _getnum(hour, True)[0]
    minutes = _getnum(minute, True)[0]
    seconds = _getnum(second, True)[0]
    # Go compares with ">" because people do write offsets of 24 hours or 60 minutes.
    if hours > 24:
        raise _RangeError("time zone offset hour")
    if minutes > 60:
        raise _RangeError("time zone offset minute")
    if seconds > 60:
        raise _RangeError("time zone offset second")
    if sign not in "+-":
        raise _Bad
    offset_s = (hours * 60 + minutes) * 60 + seconds
    return (-offset_s if sign == "-" else offset_s), rest


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _days_in(month: int, year: int) -> int:
    if month == 2 and _is_leap(year):
        return 29
    return _DAYS_BEFORE_MONTH[month] - _DAYS_BEFORE_MONTH[month - 1]


class _Fields:
    """The date and time fields gathered while parsing (Go's defaults)."""

    def __init__(self) -> None:
        self.year = 0
        self.month = -1
        self.day = -1
        self.yday = -1
        self.hour = self.minute = self.second = self.nanosecond = 0
        self.pm: bool | None = None
        self.utc = False
        self.offset_s: int | None = None
        self.zone_name = ""


def _parse_token(token: str, value: str, fields: _Fields, next_token: str | None) -> str:
    """Consume the value text of one token into ``fields``; return the rest of the value."""
    if token == "2006":
        if len(value) < 4 or not _is_digit(value, 0):
            raise _Bad
        fields.year = _atoi(value[:4])
        return value[4:]
    if token == "06":
        if len(value) < 2:
            raise _Bad
        year = _atoi(value[:2])
        fields.year = year + (1900 if year >= 69 else 2000)
        return value[2:]
    if token in ("January", "Jan"):
        index, value = _lookup(_MONTH_NAMES if token == "January" else _SHORT_MONTH_NAMES, value)
        fields.month = index + 1
        return value
    if token in ("01", "1"):
        fields.month, value = _getnum(value, token == "01")
        if not 1 <= fields.month <= 12:
            raise _RangeError("month")
        return value
    if token in ("Monday", "Mon"):
        return _lookup(_GO_DAY_NAMES if token == "Monday" else _GO_SHORT_DAY_NAMES, value)[1]
    if token in ("02", "_2", "2"):
        if token == "_2" and value[:1] == " ":
            value = value[1:]
        # Any one- or two-digit day is accepted here; the date is validated at the end.
        fields.day, value = _getnum(value, token == "02")
        return value
    if token in ("__2", "002"):
        if token == "__2":
            value = value[1:] if value[:1] == " " else value
            value = value[1:] if value[:1] == " " else value
        fields.yday, value = _getnum3(value, token == "002")
        return value
    if token == "15":
        fields.hour, value = _getnum(value, False)
        if fields.hour >= 24:
            raise _RangeError("hour")
        return value
    if token in ("03", "3"):
        fields.hour, value = _getnum(value, token == "03")
        if fields.hour > 12:
            raise _RangeError("hour")
        return value
    if token in ("04", "4"):
        fields.minute, value = _getnum(value, token == "04")
        if fields.minute >= 60:
            raise _RangeError("minute")
        return value
    if token in ("05", "5"):
        fields.second, value = _getnum(value, token == "05")
        if fields.second >= 60:
            raise _RangeError("second")
        # A fraction in the value but none in the layout is accepted after the seconds.
        has_fraction = len(value) >= 2 and value[0] in ".," and _is_digit(value, 1)
        if has_fraction and not (next_token is not None and _is_fraction(next_token)):
            end = 2
            while _is_digit(value, end):
                end += 1
            fields.nanosecond = _parse_nanoseconds(value, end)
            value = value[end:]
        return value
    if token in ("PM", "pm"):
        marker = value[:2]
        if len(value) < 2 or marker not in ((token, "AM") if token == "PM" else (token, "am")):
            raise _Bad
        fields.pm = marker == token
        return value[2:]
    if token == "MST":
        if value.startswith("UTC"):
            fields.utc = True
            return value[3:]
        length = _zone_abbreviation_length(value)
        if length == 0:
            raise _Bad
        fields.zone_name = value[:length]
        return value[length:]
    if _is_fraction(token):
        if token[1] == "0":
            width = len(token)
            if len(value) < width:
                raise _Bad
            fields.nanosecond = _parse_nanoseconds(value, width)
            return value[width:]
        if len(value) < 2 or value[0] not in ".," or not _is_digit(value, 1):
            return value  # an optional fraction that is absent
        end = 1
        while _is_digit(value, end):
            end += 1
        fields.nanosecond = _parse_nanoseconds(value, end)
        return value[end:]
    if token[0] == "Z" and value[:1] == "Z":
        fields.utc = True
        return value[1:]
    fields.offset_s, value = _parse_offset(token, value)
    return value


def _resolve_year_day(fields: _Fields) -> str | None:
    """Turn a parsed day of the year into month and day; an error message on mismatch."""
    yday = fields.yday
    month = day = 0
    if _is_leap(fields.year):
        if yday == 31 + 29:
            month, day = 2, 29
        elif yday > 31 + 29:
            yday -= 1
    if yday < 1 or yday > 365:
        return ": day-of-year out of range"
    if month == 0:
        month = yday // 31 + 1
        if _DAYS_BEFORE_MONTH[month] < yday:
            month += 1
        day = yday - _DAYS_BEFORE_MONTH[month - 1]
    if fields.month >= 0 and fields.month != month:
        return ": day-of-year does not match month"
    if fields.day >= 0 and fields.day != day:
        return ": day-of-year does not match day"
    fields.month, fields.day = month, day
    return None


def _zone(fields: _Fields) -> tzinfo:
    if fields.utc:
        return UTC
    if fields.offset_s is not None:
        # The executor's local zone is UTC, so a zero offset is UTC (as Go's Local would be).
        if fields.offset_s == 0:
            return UTC
        return timezone(timedelta(seconds=fields.offset_s))
    if fields.zone_name:
        # An abbreviation Go cannot look up gets offset 0, except GMT+h.
        offset_s = 0
        if len(fields.zone_name) > 3 and fields.zone_name.startswith("GMT"):
            offset_s = int(fields.zone_name[3:]) * 3600
        return timezone(timedelta(seconds=offset_s), fields.zone_name)
    return UTC


def parse_time(layout: str, value: str) -> datetime:
    """``time.Parse(layout, value)``: an aware datetime (UTC when the value names no zone)."""
    quoted_head = f"parsing time {_go_quote(value)}"
    chunks = _chunks(layout)
    fields = _Fields()
    rest = value
    for index, (is_token, text) in enumerate(chunks):
        if not is_token:
            rest, matched = _skip(rest, text)
            if not matched:
                raise LayoutParseError(
                    f"{quoted_head} as {_go_quote(layout)}: cannot parse {_go_quote(rest)}"
                    f" as {_go_quote(text)}"
                )
            continue
        next_token = next((t for is_t, t in chunks[index + 1 :] if is_t), None)
        try:
            rest = _parse_token(text, rest, fields, next_token)
        except _RangeError as error:
            raise LayoutParseError(f"{quoted_head}: {error.args[0]} out of range") from None
        except _Bad:
            raise LayoutParseError(
                f"{quoted_head} as {_go_quote(layout)}: cannot parse {_go_quote(rest)}"
                f" as {_go_quote(text)}"
            ) from None
    if rest:
        raise LayoutParseError(f"{quoted_head}: extra text: {_go_quote(rest)}")
    if fields.pm is True and fields.hour < 12:
        fields.hour += 12
    elif fields.pm is False and fields.hour == 12:
        fields.hour = 0
    if fields.yday >= 0:
        problem = _resolve_year_day(fields)
        if problem:
            raise LayoutParseError(quoted_head + problem)
    else:
        fields.month = 1 if fields.month < 0 else fields.month
        fields.day = 1 if fields.day < 0 else fields.day
    if fields.day < 1 or fields.day > _days_in(fields.month, fields.year):
        raise LayoutParseError(f"{quoted_head}: day out of range")
    if not 1 <= fields.year <= 9999:
        raise LayoutParseError(f"{quoted_head}: year out of range")
    try:
        zone = _zone(fields)
    except ValueError:  # Python zones must be under 24 hours; Go allows 24:60:60
        raise LayoutParseError(f"{quoted_head}: time zone offset hour out of range") from None
    return datetime(
        fields.year,
        fields.month,
        fields.day,
        fields.hour,
        fields.minute,
        fields.second,
        fields.nanosecond // 1000,
        tzinfo=zone,
    )
