"""JSON and text rendering exactly as the Go executor produces them (docs/flows.md §5.4).

*Go-JSON* is compact, sorts object keys, escapes ``<``, ``>``, ``&``, U+2028 and U+2029, prints
integral floats without ``.0`` and uses exponent form only outside ``[1e-6, 1e21)``.
*Go-text* is Go's ``%v``: ``<nil>``, ``map[k:v]``, ``[a b]``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

__all__ = [
    "RawJSON",
    "go_float",
    "go_json",
    "go_json_fields",
    "go_json_string",
    "go_quote",
    "go_text",
    "go_type_name",
]

_encode_string = json.encoder.encode_basestring
_SURROGATE = re.compile("[\ud800-\udfff]")
_EXPONENT = re.compile(r"e([+-])0*(\d)")
_HTML_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)
_GO_SHORT_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    '"': '\\"',
    "\\": "\\\\",
}


class RawJSON:
    """Already-encoded Go-JSON embedded as is (nested objects with a fixed field order)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def go_json_string(text: str) -> str:
    """A quoted JSON string literal with Go's escaping."""
    if text.isascii():
        # Hot path (every key and value of every event): substring tests are much cheaper
        # than str.translate, and most texts contain none of the HTML characters.
        encoded: str = _encode_string(text)
        if "<" in encoded or ">" in encoded or "&" in encoded:
            return encoded.translate(_HTML_ESCAPES)
        return encoded
    encoded = _encode_string(_SURROGATE.sub("\ufffd", text))
    return encoded.translate(_HTML_ESCAPES)


def go_float(value: float) -> str:
    """Go ``encoding/json`` rendering of a float64 (shortest round-trip digits)."""
    if not math.isfinite(value):
        return "null"
    if value == 0:
        return "0"
    text = repr(value)
    if 1e-6 <= abs(value) < 1e21:
        plain = format(Decimal(text), "f")
        if "." in plain:
            plain = plain.rstrip("0").rstrip(".")
        return plain
    return _EXPONENT.sub(r"e\1\2", text)


def go_json(value: Any, *, sort_keys: bool = True) -> str:
    """Go-JSON of a JSON-like value (dict, list, tuple, str, int, float, bool, None)."""
    parts: list[str] = []
    _encode(value, parts, sort_keys)
    return "".join(parts)


def go_json_fields(fields: Iterable[tuple[str, Any]]) -> str:
    """Go-JSON of an object whose top-level fields keep the given order (events, state.json)."""
    parts: list[str] = ["{"]
    first = True
    for key, value in fields:
        if not first:
            parts.append(",")
        first = False
        parts.append(go_json_string(key))
        parts.append(":")
        _encode(value, parts, True)
    parts.append("}")
    return "".join(parts)


def _sorted_items(value: dict[Any, Any]) -> list[tuple[Any, Any]]:
    try:
        # JSON keys are distinct strings, so comparing the pairs never reaches the values.
        return sorted(value.items())
    except TypeError:
        return sorted(value.items(), key=lambda kv: str(kv[0]))


def _encode(value: Any, parts: list[str], sort_keys: bool) -> None:
    kind = type(value)
    if kind is str:
        parts.append(go_json_string(value))
    elif value is None:
        parts.append("null")
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif kind is int:
        parts.append(str(value))
    elif kind is dict:
        _encode_object(value, parts, sort_keys)
    elif kind is list or kind is tuple:
        _encode_array(value, parts, sort_keys)
    elif isinstance(value, str):
        parts.append(go_json_string(value))
    elif isinstance(value, int):
        parts.append(str(int(value)))
    elif isinstance(value, float):
        parts.append(go_float(value))
    elif isinstance(value, dict):
        _encode_object(value, parts, sort_keys)
    elif isinstance(value, list | tuple):
        _encode_array(value, parts, sort_keys)
    elif isinstance(value, RawJSON):
        parts.append(value.text)
    else:
        parts.append(go_json_string(str(value)))


def _encode_object(value: dict[Any, Any], parts: list[str], sort_keys: bool) -> None:
    if not value:
        parts.append("{}")
        return
    separator = "{"
    for key, item in _sorted_items(value) if sort_keys else value.items():
        parts.append(separator)
        separator = ","
        parts.append(go_json_string(key if type(key) is str else str(key)))
        parts.append(":")
        _encode(item, parts, sort_keys)
    parts.append("}")


def _encode_array(value: list[Any] | tuple[Any, ...], parts: list[str], sort_keys: bool) -> None:
    if not value:
        parts.append("[]")
        return
    separator = "["
    for item in value:
        parts.append(separator)
        separator = ","
        _encode(item, parts, sort_keys)
    parts.append("]")


def _go_text_float(value: float) -> str:
    """strconv.FormatFloat(v, 'g', -1, 64): exponent form when the exponent is < -4 or >= 6."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    decimal = Decimal(repr(value))
    exponent = decimal.adjusted()
    if -4 <= exponent < 6:
        plain = format(decimal, "f")
        return plain.rstrip("0").rstrip(".") if "." in plain else plain
    sign, digit_tuple, _ = decimal.as_tuple()
    digits = "".join(str(d) for d in digit_tuple).rstrip("0") or "0"
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{'-' if sign else ''}{mantissa}e{'+' if exponent >= 0 else '-'}{abs(exponent):02d}"


def go_text(value: Any) -> str:
    """Go's ``%v`` of a JSON-like value."""
    if value is None:
        return "<nil>"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_text_float(value)
    if isinstance(value, dict):
        pairs = sorted(value.items(), key=lambda kv: str(kv[0]))
        return "map[" + " ".join(f"{key}:{go_text(item)}" for key, item in pairs) + "]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_text(item) for item in value) + "]"
    return str(value)


def go_type_name(value: Any) -> str:
    """Go's ``%T`` of a value decoded from JSON (numbers are float64 there; nil is ``<nil>``)."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "[]interface {}"
    if isinstance(value, dict):
        return "map[string]interface {}"
    return type(value).__name__


def go_quote(text: str) -> str:
    """Go's ``%q`` (strconv.Quote) of a string."""
    parts = ['"']
    for char in text:
        if char in _GO_SHORT_ESCAPES:
            parts.append(_GO_SHORT_ESCAPES[char])
        elif char.isprintable():
            parts.append(char)
        elif ord(char) < 0x80:
            parts.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            parts.append(f"\\u{ord(char):04x}")
        else:
            parts.append(f"\\U{ord(char):08x}")
    parts.append('"')
    return "".join(parts)
