"""Go-JSON and Go-text rendering (docs/flows.md §5.4).

Test docstrings starting ``C<n>:`` pin the numbered rules of docs/flows.md §12.
"""

from __future__ import annotations

import pytest

from flomation.executor.gojson import RawJSON, go_float, go_json, go_json_fields, go_text


def test_objects_sort_keys_and_escape_html() -> None:
    """C10: keys sorted at every level; <, > and & escaped as \\u003c \\u003e \\u0026."""
    assert go_json({"b": "<&>", "a": 1.0}) == '{"a":1,"b":"\\u003c\\u0026\\u003e"}'
    assert go_json({"z": {"y": 1, "x": [True, None]}}) == '{"z":{"x":[true,null],"y":1}}'


def test_string_escapes() -> None:
    """Short escapes, lower-case \\u00xx controls, raw non-ASCII, U+2028/9 and lone surrogates."""
    assert go_json('q"b\\\n\r\t\b\f\x01') == '"q\\"b\\\\\\n\\r\\t\\b\\f\\u0001"'
    assert go_json("é€😀") == '"é€😀"'
    assert go_json("a\u2028b\u2029") == '"a\\u2028b\\u2029"'
    assert go_json("x\ud800y") == '"x\ufffdy"'
    assert go_json("é<") == '"é\\u003c"'


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (3.0, "3"),
        (0.5, "0.5"),
        (0.0, "0"),
        (-2.5, "-2.5"),
        (1e-7, "1e-7"),
        (1.5e21, "1.5e+21"),
        (1e20, "100000000000000000000"),
        (1e-6, "0.000001"),
        (123456789.125, "123456789.125"),
        (float("nan"), "null"),
        (float("inf"), "null"),
    ],
)
def test_floats(number: float, text: str) -> None:
    """Floats use shortest digits, plain notation in [1e-6, 1e21), exponent form outside."""
    assert go_float(number) == text
    assert go_json(number) == text


def test_integers_and_booleans() -> None:
    """Integers are decimal (large ones exact); booleans are never numbers."""
    assert go_json(12345678901234567890) == "12345678901234567890"
    assert go_json([True, False, 1, 0]) == "[true,false,1,0]"


def test_fixed_field_order_and_raw_json() -> None:
    """go_json_fields keeps the given order; RawJSON is embedded as is."""
    assert go_json_fields([("z", 1), ("a", {"d": 1, "c": 2})]) == '{"z":1,"a":{"c":2,"d":1}}'
    assert go_json({"k": RawJSON('{"b":1,"a":2}')}) == '{"k":{"b":1,"a":2}}'


def test_empty_containers() -> None:
    """Empty objects and lists render as {} and []."""
    assert go_json({"a": {}, "b": []}) == '{"a":{},"b":[]}'


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (None, "<nil>"),
        (True, "true"),
        (7, "7"),
        (1e6, "1e+06"),
        (1.5e-5, "1.5e-05"),
        (123456.0, "123456"),
        (0.0001, "0.0001"),
        ("s", "s"),
        ([1, "a", None], "[1 a <nil>]"),
        ({"b": 1, "a": [2]}, "map[a:[2] b:1]"),
    ],
)
def test_go_text(raw: object, text: str) -> None:
    """Go's %v: <nil>, map[k:v] sorted, [a b], %g-style floats."""
    assert go_text(raw) == text
