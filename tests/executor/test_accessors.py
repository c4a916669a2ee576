"""Typed input accessors (docs/flows.md §6).

Test docstrings starting ``C<n>:`` pin the numbered rules of docs/flows.md §12.
"""

from __future__ import annotations

from typing import Any

import pytest

from flomation.executor.accessors import (
    Input,
    KeyValue,
    read_bool,
    read_kv,
    read_number,
    read_string,
)


def one(kind: str, raw: Any) -> list[Input]:
    return [Input("x", kind, raw)]


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        ("integer", 1234, "1234"),
        ("string", 1234, "1234"),
        ("integer", "abcd", None),
        ("integer", 3.5, None),
        ("integer", "-12", "-12"),
        ("boolean", "abc", None),
        ("boolean", True, "true"),
        ("boolean", "T", "T"),
        ("string", None, ""),
        ("string", {"b": "<", "a": 1}, '{"a":1,"b":"\\u003c"}'),
        ("object", None, "<nil>"),
        ("object", [1, "a"], "[1 a]"),
        ("text", "plain", "plain"),
    ],
)
def test_read_string(kind: str, raw: Any, expected: str | None) -> None:
    """C24: the String accessor renders text types, validates integer/boolean, Go-text others."""
    assert read_string(one(kind, raw), "x") == expected


def test_missing_input_is_none_and_first_name_wins() -> None:
    """A missing input yields None; with duplicates the first input wins."""
    assert read_string([], "x") is None
    assert read_string([Input("x", "string", "a"), Input("x", "string", "b")], "x") == "a"


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        ("integer", 7, 7),
        ("integer", 7.9, 7),
        ("integer", -7.9, -7),
        ("integer", " 42 ", 42),
        ("integer", "2.5", None),
        ("integer", "1e3", None),
        ("integer", str(2**63), None),
        ("integer", "x", None),
        ("integer", True, None),
        ("string", 7, None),
        ("integer", None, None),
    ],
)
def test_read_number(kind: str, raw: Any, expected: int | None) -> None:
    """Number accepts integer inputs only: ints, truncated floats and base-10 integer text.

    A text is parsed like Go's strconv.ParseInt after trimming, with no float fallback, as the
    newest upstream Connection.Number() does (flomation-co/executor core, executor.go).
    """
    assert read_number(one(kind, raw), "x") == expected


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        ("boolean", True, True),
        ("boolean", "yes", True),
        ("boolean", " OFF ", False),
        ("boolean", "t", True),
        ("boolean", "0", False),
        ("boolean", "abc", None),
        ("boolean", 1, None),
        ("string", True, None),
    ],
)
def test_read_bool(kind: str, raw: Any, expected: bool | None) -> None:
    """Boolean accepts boolean inputs only: bools, yes/no/on/off and Go's ParseBool set."""
    assert read_bool(one(kind, raw), "x") is expected


def test_read_kv_from_list_and_json_string() -> None:
    """KeyValuePairs reads a list of objects or a JSON string; other elements are skipped."""
    rows = [{"key": "a", "value": 1}, "junk", {"key": None}, {"value": {"n": "<"}}]
    expected = [KeyValue("a", "1"), KeyValue("", ""), KeyValue("", '{"n":"\\u003c"}')]
    assert read_kv(one("key_value_array", rows), "x") == expected
    assert read_kv(one("string", '[{"key":"k","value":"v"}]'), "x") == [KeyValue("k", "v")]
    assert read_kv(one("string", "not json"), "x") == []
    assert read_kv(one("object", {"key": "a"}), "x") == []
