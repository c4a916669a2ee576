"""Tests of the string actions (docs/flows.md §10.5)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flomation.executor.actions.string import (
    concatenate,
    contains,
    join,
    lower_case,
    repeat,
    replace,
    substring,
    trim,
    trim_end,
    trim_start,
    upper_case,
)

MakeCtx = Callable[..., Any]
# make_ctx is a stateless factory, so sharing it between hypothesis examples is safe.
_shared_fixture = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


def _ok(result: str) -> dict[str, Any]:
    return {"tool_result": result, "result": result, "success": True, "error": ""}


def _go_replace(value: str, search: str, new: str) -> tuple[str, int]:
    """Go's strings.Replace(value, search, new, -1), written as Go does it, with the count."""
    if search == "":
        return new + "".join(char + new for char in value), len(value) + 1
    parts: list[str] = []
    count = start = 0
    while (found := value.find(search, start)) >= 0:
        parts.append(value[start:found] + new)
        start = found + len(search)
        count += 1
    parts.append(value[start:])
    return "".join(parts), count


def test_upper_and_lower_case(make_ctx: MakeCtx) -> None:
    """Upper and lower case map every character and return the standard result shape."""
    assert upper_case.run(make_ctx(("value", "string", "hello world"))) == _ok("HELLO WORLD")
    assert lower_case.run(make_ctx(("value", "string", "HeLLo"))) == _ok("hello")


def test_case_mapping_is_one_character_to_one_as_in_go(make_ctx: MakeCtx) -> None:
    """Non-ASCII letters map (é→É) but ß stays ß, as Go's strings.ToUpper does."""
    assert upper_case.run(make_ctx(("value", "string", "straße é")))["result"] == "STRAßE É"
    assert lower_case.run(make_ctx(("value", "string", "ÀÉ")))["result"] == "àé"
    assert lower_case.run(make_ctx(("value", "string", "İSTANBUL")))["result"] == "istanbul"
    assert lower_case.run(make_ctx(("value", "string", "ΟΔΟΣ")))["result"] == "οδοσ"


def test_missing_value_is_empty_text(make_ctx: MakeCtx) -> None:
    """A missing ``value`` input reads as ``""``."""
    assert upper_case.run(make_ctx()) == _ok("")


def test_non_text_value_renders_as_go_json(make_ctx: MakeCtx) -> None:
    """A string-typed input holding an object is read as its Go-JSON text."""
    ctx = make_ctx(("value", "string", {"b": "<x>", "a": 1}))
    assert upper_case.run(ctx)["result"] == '{"A":1,"B":"\\U003CX\\U003E"}'


@pytest.mark.parametrize(
    ("action", "expected"),
    [(trim, "pad"), (trim_start, "pad  "), (trim_end, "  pad")],
)
def test_trims_remove_whitespace_by_default(make_ctx: MakeCtx, action: Any, expected: str) -> None:
    """Without ``characters`` the trims remove whitespace from both ends / start / end."""
    assert action.run(make_ctx(("value", "string", "  pad  "))) == _ok(expected)


def test_trim_uses_go_whitespace_set(make_ctx: MakeCtx) -> None:
    """Unicode spaces (U+00A0, U+3000) are trimmed; U+001F (not space in Go) is kept."""
    ctx = make_ctx(("value", "string", "\u3000\xa0\x1fx\t\n"))
    assert trim.run(ctx)["result"] == "\x1fx"


@pytest.mark.parametrize(
    ("action", "expected"),
    [(trim_start, "\v\xa0x\t\n \v"), (trim_end, "\r\n\v\xa0x\t\n \v")],
)
def test_trim_start_and_end_strip_only_space_tab_cr_lf(
    make_ctx: MakeCtx, action: Any, expected: str
) -> None:
    """Trim start/end strip only space, tab, CR and LF; other whitespace stays.

    Upstream: flomation-co/executor actions/string/trim_start/action.go and trim_end/action.go
    (strings.TrimLeft/TrimRight with " \\t\\n\\r"), unlike trim's strings.TrimSpace.
    """
    ctx = make_ctx(("value", "string", "\r\n\v\xa0x\t\n \v"))
    assert action.run(ctx)["result"] == expected
    assert trim.run(ctx)["result"] == "x"


@pytest.mark.parametrize(
    ("action", "expected"),
    [(trim, "a-b"), (trim_start, "a-b-_"), (trim_end, "_-a-b")],
)
def test_trims_remove_given_characters(make_ctx: MakeCtx, action: Any, expected: str) -> None:
    """Any of the given characters are removed, whatever their order."""
    ctx = make_ctx(("value", "string", "_-a-b-_"), ("characters", "string", "-_"))
    assert action.run(ctx)["result"] == expected


def test_substring_by_characters(make_ctx: MakeCtx) -> None:
    """Positions count Unicode characters, end exclusive."""
    ctx = make_ctx(
        ("value", "string", "Hello World"), ("start", "integer", 6), ("end", "integer", 11)
    )
    assert substring.run(ctx) == _ok("World")
    ctx = make_ctx(("value", "string", "héllo"), ("start", "integer", 1), ("end", "integer", 2))
    assert substring.run(ctx)["result"] == "é"


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (None, None, "abcdef"),
        (-3, 2, "ab"),
        (2, 100, "cdef"),
        (5, 2, ""),
        ("3", None, "def"),
        (1, -1, ""),
        ("x", "y", "abcdef"),
    ],
)
def test_substring_bounds(make_ctx: MakeCtx, start: Any, end: Any, expected: str) -> None:
    """Defaults 0 and length; negative start → 0; end capped; start past end → empty."""
    rows: list[tuple[str, str, Any]] = [("value", "string", "abcdef")]
    if start is not None:
        rows.append(("start", "integer", start))
    if end is not None:
        rows.append(("end", "integer", end))
    assert substring.run(make_ctx(*rows))["result"] == expected


@_shared_fixture
@given(st.text(max_size=20), st.integers(-30, 30), st.integers(-30, 30))
def test_substring_matches_clamped_slice(
    make_ctx: MakeCtx, text: str, start: int, end: int
) -> None:
    """The result is text[s:e] with e clamped to [0, len] and s to [0, e]."""
    ctx = make_ctx(("value", "string", text), ("start", "integer", start), ("end", "integer", end))
    stop = min(max(end, 0), len(text))
    assert substring.run(ctx)["result"] == text[min(max(start, 0), stop) : stop]


def test_repeat_with_and_without_separator(make_ctx: MakeCtx) -> None:
    """Repeat joins copies with the separator; count 0 is ``""``."""
    assert repeat.run(make_ctx(("value", "string", "ab"), ("count", "integer", 3))) == _ok("ababab")
    ctx = make_ctx(
        ("value", "string", "ab"), ("count", "integer", "2"), ("separator", "string", ", ")
    )
    assert repeat.run(ctx)["result"] == "ab, ab"
    assert repeat.run(make_ctx(("value", "string", "ab"), ("count", "integer", 0)))["result"] == ""


@pytest.mark.parametrize(
    ("count", "expected"),
    [(None, "ab"), ("many", "ab"), (-1, ""), (2, "abab"), ("3", "ababab")],
)
def test_repeat_count_defaults_like_upstream(make_ctx: MakeCtx, count: Any, expected: str) -> None:
    """A missing or unreadable count repeats once and a negative one gives ``""``.

    Upstream: flomation-co/executor actions/string/repeat/action.go (count defaults to 1, is
    raised to 0 and never fails).
    """
    rows: list[tuple[str, str, Any]] = [("value", "string", "ab")]
    if count is not None:
        rows.append(("count", "integer", count))
    assert repeat.run(make_ctx(*rows)) == _ok(expected)


def test_repeat_count_is_capped_at_ten_thousand(make_ctx: MakeCtx) -> None:
    """Counts over 10000 repeat 10000 times.

    Upstream: flomation-co/executor actions/string/repeat/action.go.
    """
    ctx = make_ctx(("value", "string", "x"), ("count", "integer", 10_001))
    assert repeat.run(ctx)["result"] == "x" * 10_000


def test_repeat_rejects_results_over_one_mebibyte(make_ctx: MakeCtx) -> None:
    """A result over 1 MiB (counted in UTF-8 bytes, separators included) fails softly."""
    ctx = make_ctx(("value", "string", "é" * 53), ("count", "integer", 9_893))
    assert repeat.run(ctx)["error"] == "result too large"
    ctx = make_ctx(("value", "string", "é" * 52), ("count", "integer", 10_000))
    assert len(repeat.run(ctx)["result"]) == 520_000
    ctx = make_ctx(
        ("value", "string", "é"), ("count", "integer", 2), ("separator", "string", "x" * 2**20)
    )
    assert repeat.run(ctx)["error"] == "result too large"


def test_replace_counts_occurrences(make_ctx: MakeCtx) -> None:
    """All non-overlapping occurrences are replaced and counted."""
    ctx = make_ctx(
        ("value", "string", "foo bar foo"),
        ("search", "string", "foo"),
        ("replace", "string", "baz"),
    )
    assert replace.run(ctx) == {**_ok("baz bar baz"), "count": 2}


def test_replace_with_empty_search_inserts_everywhere(make_ctx: MakeCtx) -> None:
    """An empty search inserts between every character and at both ends (Go semantics)."""
    ctx = make_ctx(("value", "string", "ab"), ("search", "string", ""), ("replace", "string", "-"))
    assert replace.run(ctx) == {**_ok("-a-b-"), "count": 3}


@_shared_fixture
@given(st.text("ab", max_size=12), st.text("ab", max_size=3), st.text("xa", max_size=2))
def test_replace_matches_go(make_ctx: MakeCtx, value: str, search: str, new: str) -> None:
    """Result and count equal Go's strings.Replace(value, search, new, -1)."""
    ctx = make_ctx(
        ("value", "string", value), ("search", "string", search), ("replace", "string", new)
    )
    result, count = _go_replace(value, search, new)
    assert replace.run(ctx) == {**_ok(result), "count": count}


def test_concatenate_skips_missing_parts(make_ctx: MakeCtx) -> None:
    """a+b+c+d with missing parts as ``""``; numbers render as text."""
    ctx = make_ctx(("a", "string", "Hello"), ("b", "string", " "), ("c", "string", "World"))
    assert concatenate.run(ctx) == _ok("Hello World")
    ctx = make_ctx(("a", "string", "n="), ("d", "string", 5))
    assert concatenate.run(ctx)["result"] == "n=5"


def test_contains_is_boolean_and_case_sensitive(make_ctx: MakeCtx) -> None:
    """``result`` is a boolean; ``tool_result`` is ``true``/``false``; case matters."""
    ctx = make_ctx(("value", "string", "Hello World"), ("search", "string", "World"))
    assert contains.run(ctx) == {
        "tool_result": "true",
        "result": True,
        "success": True,
        "error": "",
    }
    ctx = make_ctx(("value", "string", "Hello World"), ("search", "string", "world"))
    assert contains.run(ctx)["result"] is False
    assert contains.run(ctx)["tool_result"] == "false"


@pytest.mark.parametrize(
    ("flag", "found"), [(False, True), ("false", True), (True, False), ("maybe", False)]
)
def test_contains_case_sensitive_false_ignores_case(
    make_ctx: MakeCtx, flag: Any, found: bool
) -> None:
    """``case_sensitive`` false compares lower-cased texts; true or unreadable keeps case.

    Upstream: flomation-co/executor actions/string/contains/action.go (case_sensitive, default
    true, strings.ToLower on both sides).
    """
    ctx = make_ctx(
        ("value", "string", "Hello WÖRLD"),
        ("search", "string", "wörld"),
        ("case_sensitive", "boolean", flag),
    )
    assert contains.run(ctx)["result"] is found


@pytest.mark.parametrize(
    ("array", "separator", "expected"),
    [
        (["a", "b", "c"], "-", "a-b-c"),
        (["a", "b"], "", "a, b"),
        ([1, 2.5, True, None, {"k": "v"}, [1, 2]], " ", "1 2.5 true <nil> map[k:v] [1 2]"),
        ('["x", 1e6]', "+", "x+1e+06"),
        ("plain text", "-", "plain text"),
        ('{"a": 1}', "-", '{"a": 1}'),
        ([], "-", ""),
        (7, "-", ""),
        ({"a": 1}, "-", ""),
        ("null", "-", ""),
        ('"quoted"', "-", '"quoted"'),
    ],
)
def test_join_renders_items_with_go_text(
    make_ctx: MakeCtx, array: Any, separator: str, expected: str
) -> None:
    """Lists and JSON-list strings join with Go-text items; another string is one item.

    Numbers, objects and the JSON text null have no items (upstream's type switch in
    flomation-co/executor actions/string/join/action.go has no case for them).
    """
    ctx = make_ctx(("array", "object", array), ("separator", "string", separator))
    assert join.run(ctx) == _ok(expected)


@pytest.mark.parametrize("rows", [[], [("array", "object", None)]])
def test_join_requires_an_array(make_ctx: MakeCtx, rows: list[tuple[str, str, Any]]) -> None:
    """A missing or null array is a soft failure ``array is required``."""
    assert join.run(make_ctx(*rows)) == {
        "tool_result": "",
        "result": "",
        "success": False,
        "error": "array is required",
    }
