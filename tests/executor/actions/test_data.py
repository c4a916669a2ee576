"""Tests of the common data actions: object_get, array_*, data_combine/extract/rename.

See docs/flows.md §10.4.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from flomation.executor.actions.base import HardError
from flomation.executor.actions.common import (
    array_find,
    array_index,
    array_length,
    data_combine,
    data_extract,
    data_rename,
    object_get,
)

MakeCtx = Callable[..., Any]

_PEOPLE = [
    {"name": "Ada", "role": "Engineer", "id": 1},
    {"name": "Bob", "role": "engineering manager", "id": 2},
    "not an object",
    {"name": "Cy", "id": 3},
]


def _object_failure(message: str) -> dict[str, Any]:
    return {
        "tool_result": message,
        "value": None,
        "value_string": "",
        "found": False,
        "success": False,
        "error": message,
    }


def _find_failure(message: str) -> dict[str, Any]:
    return {
        "tool_result": message,
        "item": None,
        "items": [],
        "count": 0,
        "found": False,
        "success": False,
        "error": message,
    }


# --- common/object_get --------------------------------------------------------------------------


def test_object_get_reads_a_dot_path(make_ctx: MakeCtx) -> None:
    """A nested field is returned raw and as text (Go-JSON for non-strings)."""
    document = {"user": {"address": {"city": "Leeds"}, "tags": ["<a>", 1]}}
    ctx = make_ctx(("object", "object", document), ("field", "string", "user.address.city"))
    assert object_get.run(ctx) == {
        "tool_result": "Leeds",
        "value": "Leeds",
        "value_string": "Leeds",
        "found": True,
        "success": True,
        "error": "",
    }
    ctx = make_ctx(("object", "object", document), ("field", "string", "user.tags"))
    outputs = object_get.run(ctx)
    assert outputs["value"] == ["<a>", 1]
    assert outputs["value_string"] == outputs["tool_result"] == '["\\u003ca\\u003e",1]'


def test_object_get_accepts_a_json_string(make_ctx: MakeCtx) -> None:
    """A string holding a JSON object is parsed first."""
    ctx = make_ctx(("object", "object", '{"a": {"b": null}}'), ("field", "string", "a.b"))
    outputs = object_get.run(ctx)
    assert outputs["found"] is True
    assert outputs["value"] is None
    assert outputs["value_string"] == "null"


@pytest.mark.parametrize("field", ["missing", "a.b.c", "a.list.0"])
def test_object_get_not_found_is_a_success(make_ctx: MakeCtx, field: str) -> None:
    """A path that does not exist (also through non-objects) gives found false, success true."""
    ctx = make_ctx(("object", "object", {"a": {"b": 1, "list": [1]}}), ("field", "string", field))
    assert object_get.run(ctx) == {
        "tool_result": f"field '{field}' not found",
        "value": None,
        "value_string": "",
        "found": False,
        "success": True,
        "error": "",
    }


def test_object_get_of_the_text_null_finds_nothing(make_ctx: MakeCtx) -> None:
    """The text ``null`` is an empty object, so the field is not found (a success).

    Upstream: flomation-co/executor actions/common/object_get/action.go (json.Unmarshal of
    null into a map succeeds with no keys).
    """
    ctx = make_ctx(("object", "object", "null"), ("field", "string", "a"))
    assert object_get.run(ctx)["tool_result"] == "field 'a' not found"
    assert object_get.run(ctx)["success"] is True


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([("field", "string", "a")], "object is required"),
        ([("object", "object", None), ("field", "string", "a")], "object is required"),
        ([("object", "object", {"a": 1})], "field is required"),
        ([("object", "object", {"a": 1}), ("field", "string", "")], "field is required"),
        (
            [("object", "object", "x" * 150), ("field", "string", "a")],
            "value is not an object: " + "x" * 100,
        ),
        (
            [("object", "object", "[1, 2]"), ("field", "string", "a")],
            "value is not an object: [1, 2]",
        ),
        (
            [("object", "object", [1]), ("field", "string", "a")],
            "expected object, got []interface {}",
        ),
        ([("object", "object", 5), ("field", "string", "a")], "expected object, got float64"),
        (
            [("object", "object", "é" * 60), ("field", "string", "a")],
            "value is not an object: " + "é" * 50,
        ),
    ],
)
def test_object_get_soft_failures(
    make_ctx: MakeCtx, rows: list[tuple[str, str, Any]], message: str
) -> None:
    """Every object_get problem is a soft failure with upstream's text.

    Type names are Go's %T and previews the first 100 bytes, as in flomation-co/executor
    actions/common/object_get/action.go.
    """
    assert object_get.run(make_ctx(*rows)) == _object_failure(message)


# --- common/array_find --------------------------------------------------------------------------


def test_array_find_index_mode_is_the_default(make_ctx: MakeCtx) -> None:
    """Without a mode, index mode returns the item, a one-item list and its Go-JSON."""
    ctx = make_ctx(("array", "object", _PEOPLE), ("index", "integer", 1))
    assert array_find.run(ctx) == {
        "tool_result": '{"id":2,"name":"Bob","role":"engineering manager"}',
        "item": _PEOPLE[1],
        "items": [_PEOPLE[1]],
        "count": 1,
        "found": True,
        "success": True,
        "error": "",
    }


def test_array_find_negative_index_counts_from_the_end(make_ctx: MakeCtx) -> None:
    """Index -1 is the last item; a JSON-string array works too."""
    ctx = make_ctx(
        ("array", "object", '["a", "b"]'), ("mode", "string", "index"), ("index", "integer", -1)
    )
    assert array_find.run(ctx)["item"] == "b"


def test_array_find_first_match_is_case_insensitive_for_contains(make_ctx: MakeCtx) -> None:
    """``first`` with ``contains`` ignores case and returns the first matching object."""
    ctx = make_ctx(
        ("array", "object", _PEOPLE),
        ("mode", "string", "first"),
        ("field", "string", "role"),
        ("operator", "string", "contains"),
        ("value", "string", "ENGINEER"),
    )
    outputs = array_find.run(ctx)
    assert outputs["item"] == _PEOPLE[0]
    assert outputs["items"] == [_PEOPLE[0]]
    assert outputs["count"] == 1
    assert outputs["tool_result"] == '{"id":1,"name":"Ada","role":"Engineer"}'


def test_array_find_all_matches(make_ctx: MakeCtx) -> None:
    """``all`` returns every matching object and says how many."""
    ctx = make_ctx(
        ("array", "object", _PEOPLE),
        ("mode", "string", "all"),
        ("field", "string", "role"),
        ("operator", "string", "starts_with"),
        ("value", "string", "eng"),
    )
    outputs = array_find.run(ctx)
    assert outputs["tool_result"] == "Found 2 matches"
    assert outputs["items"] == _PEOPLE[:2]
    assert outputs["item"] == _PEOPLE[0]
    assert outputs["count"] == 2
    assert outputs["found"] is True


@pytest.mark.parametrize(
    ("operator", "value", "names"),
    [
        ("equals", "2", ["Bob"]),
        ("", "2", ["Bob"]),
        ("bogus", "2", ["Bob"]),
        ("not_equals", "2", ["Ada", "Cy"]),
        ("ends_with", "3", ["Cy"]),
    ],
)
def test_array_find_operators_compare_go_text(
    make_ctx: MakeCtx, operator: str, value: str, names: list[str]
) -> None:
    """Numbers compare through Go-text; empty and unknown operators mean ``equals``."""
    ctx = make_ctx(
        ("array", "object", _PEOPLE),
        ("mode", "string", "all"),
        ("field", "string", "id"),
        ("operator", "string", operator),
        ("value", "string", value),
    )
    assert [item["name"] for item in array_find.run(ctx)["items"]] == names


def test_array_find_missing_field_compares_as_nil(make_ctx: MakeCtx) -> None:
    """An object without the field compares as ``<nil>``."""
    ctx = make_ctx(
        ("array", "object", _PEOPLE),
        ("mode", "string", "first"),
        ("field", "string", "role"),
        ("value", "string", "<nil>"),
    )
    assert array_find.run(ctx)["item"] == _PEOPLE[3]


def test_array_find_no_match_is_a_success(make_ctx: MakeCtx) -> None:
    """No match: found false, success true, and a sentence naming field, operator and value."""
    ctx = make_ctx(
        ("array", "object", _PEOPLE),
        ("mode", "string", "first"),
        ("field", "string", "name"),
        ("value", "string", "Zed"),
    )
    assert array_find.run(ctx) == {
        "tool_result": "No items matched name equals 'Zed'",
        "item": None,
        "items": [],
        "count": 0,
        "found": False,
        "success": True,
        "error": "",
    }


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([], "array is required"),
        ([("array", "object", None)], "array is required"),
        ([("array", "object", "nope")], "value is not an array: nope"),
        ([("array", "object", '{"a": 1}')], 'value is not an array: {"a": 1}'),
        ([("array", "object", {"a": 1})], "expected array, got map[string]interface {}"),
        ([("array", "object", True)], "expected array, got bool"),
        ([("array", "object", [1])], "index is required in index mode"),
        ([("array", "object", [1]), ("index", "integer", "x")], "index is required in index mode"),
        (
            [("array", "object", [1, 2]), ("index", "integer", 2)],
            "index 2 out of range (array has 2 items)",
        ),
        (
            [("array", "object", [1, 2]), ("index", "integer", -3)],
            "index -1 out of range (array has 2 items)",
        ),
        (
            [("array", "object", [1]), ("mode", "string", "first")],
            "field is required for match mode",
        ),
        ([("array", "object", [1]), ("mode", "string", "last")], "unknown mode: last"),
        ([("array", "object", [1]), ("mode", "string", "")], "unknown mode: "),
    ],
)
def test_array_find_soft_failures(
    make_ctx: MakeCtx, rows: list[tuple[str, str, Any]], message: str
) -> None:
    """Every array_find problem is a soft failure with upstream's text.

    An empty mode is unknown (only a missing one means index) and type names are Go's %T, as
    in flomation-co/executor actions/common/array_find/action.go.
    """
    assert array_find.run(make_ctx(*rows)) == _find_failure(message)


# --- common/array_index -------------------------------------------------------------------------


def test_array_index_returns_item_and_json(make_ctx: MakeCtx) -> None:
    """The item and its Go-JSON text; negative indexes count from the end."""
    ctx = make_ctx(("array", "object", [{"k": "v"}, 2.5]), ("index", "integer", 0))
    assert array_index.run(ctx) == {
        "tool_result": '{"k":"v"}',
        "item": {"k": "v"},
        "success": True,
        "error": "",
    }
    ctx = make_ctx(("array", "object", "[1, 2.5]"), ("index", "integer", -1))
    assert array_index.run(ctx)["tool_result"] == "2.5"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([("index", "integer", 0)], "array is required"),
        ([("array", "object", [1])], "index is required"),
        ([("array", "object", "{}"), ("index", "integer", 0)], "value is not an array: {}"),
        ([("array", "object", 3), ("index", "integer", 0)], "expected array, got float64"),
        (
            [("array", "object", "null"), ("index", "integer", 0)],
            "index 0 out of range (array has 0 items)",
        ),
        (
            [("array", "object", []), ("index", "integer", 0)],
            "index 0 out of range (array has 0 items)",
        ),
    ],
)
def test_array_index_soft_failures(
    make_ctx: MakeCtx, rows: list[tuple[str, str, Any]], message: str
) -> None:
    """Every array_index problem is a soft failure with ``item: null`` and upstream's text.

    The text ``null`` is an empty array (Go's json.Unmarshal into a slice accepts it), as in
    flomation-co/executor actions/common/array_index/action.go.
    """
    assert array_index.run(make_ctx(*rows)) == {
        "tool_result": message,
        "item": None,
        "success": False,
        "error": message,
    }


# --- common/array_length ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "path", "length"),
    [
        ([1, 2, 3], None, 3),
        ([], None, 0),
        ('[{"a": 1}, 2]', None, 2),
        ('{"items":[{"id":1},{"id":2},{"id":3}],"total":3}', "items", 3),
        ('{"data":{"results":[10,20,30,40,50]}}', " data.results ", 5),
        ('{"pages":[{"items":["a","b"]},{"items":["c","d","e"]}]}', "pages.1.items", 3),
        ({"pages": [{"items": ["a"]}]}, "pages..+0.items", 1),
    ],
)
def test_array_length_counts_items(make_ctx: MakeCtx, value: Any, path: Any, length: int) -> None:
    """Lists, JSON texts and a dotted ``path`` into an object report the array's length.

    Upstream: flomation-co/executor actions/common/array_length/action_test.go
    (TestExecute_PathIntoObject, TestExecute_DottedPath, TestExecute_PathWithArrayIndex).
    """
    rows: list[tuple[str, str, Any]] = [("array", "object", value)]
    if path is not None:
        rows.append(("path", "string", path))
    assert array_length.run(make_ctx(*rows)) == {
        "tool_result": str(length),
        "length": length,
        "success": True,
        "error": "",
    }


@pytest.mark.parametrize(
    ("rows", "tool_result", "error"),
    [
        ([], "No array provided", "array is required"),
        ([("array", "object", None)], "No array provided", "array is required"),
        (
            [("array", "object", "a" * 120)],
            "Value is not parseable as JSON: " + "a" * 100 + "…",
            "input is not valid JSON",
        ),
        (
            [("array", "object", "null")],
            "Not an array (got <nil>)",
            'value at path "" is not an array (got <nil>)',
        ),
        (
            [("array", "object", "{not valid json")],
            "Value is not parseable as JSON: {not valid json",
            "input is not valid JSON",
        ),
        (
            [("array", "object", "{}")],
            "Not an array (got map[string]interface {})",
            'value at path "" is not an array (got map[string]interface {})',
        ),
        (
            [("array", "object", {"a": 1})],
            "Not an array (got map[string]interface {})",
            'value at path "" is not an array (got map[string]interface {})',
        ),
        (
            [("array", "object", 4)],
            "Unsupported type: float64",
            "expected array or object, got float64",
        ),
        (
            [("array", "object", '{"items": [1]}'), ("path", "string", "data")],
            'Path resolution failed: path segment "data" not found in object at "data"',
            'path segment "data" not found in object at "data"',
        ),
        (
            [("array", "object", '{"total": 42}'), ("path", "string", "total")],
            "Not an array (got float64)",
            'value at path "total" is not an array (got float64)',
        ),
        (
            [("array", "object", '{"a": [[1]]}'), ("path", "string", "a.x")],
            'Path resolution failed: path segment "x" is not a numeric index — got an array '
            'at "a.x"',
            'path segment "x" is not a numeric index — got an array at "a.x"',
        ),
        (
            [("array", "object", '{"a": [[1]]}'), ("path", "string", "a.1")],
            'Path resolution failed: array index 1 out of bounds (length 1) at "a.1"',
            'array index 1 out of bounds (length 1) at "a.1"',
        ),
        (
            [("array", "object", '{"a": "s"}'), ("path", "string", "a.b")],
            'Path resolution failed: can\'t descend into string at segment "b" (path "a.b")',
            'can\'t descend into string at segment "b" (path "a.b")',
        ),
    ],
)
def test_array_length_soft_failures(
    make_ctx: MakeCtx, rows: list[tuple[str, str, Any]], tool_result: str, error: str
) -> None:
    """Non-arrays and bad paths are soft failures with upstream's tool_result and error texts.

    Upstream: flomation-co/executor actions/common/array_length/action.go and its
    action_test.go (TestExecute_PathNotFound, TestExecute_PathLeadsToNonArray,
    TestExecute_MalformedJSON).
    """
    assert array_length.run(make_ctx(*rows)) == {
        "tool_result": tool_result,
        "length": 0,
        "success": False,
        "error": error,
    }


# --- common/data_combine, data_extract, data_rename ---------------------------------------------


def test_data_combine_merges_parents_in_edge_order(make_ctx: MakeCtx) -> None:
    """Later parents overwrite earlier keys, each overwrite and each empty parent is logged."""
    ctx = make_ctx(parents=[("p1", {"a": 1, "b": 1}), ("p2", None), ("p3", {"b": 2, "c": 3})])
    assert data_combine.run(ctx) == {"combined": {"a": 1, "b": 2, "c": 3}}
    assert [(line.level, line.message, line.fields) for line in ctx.logs] == [
        ("warning", "Parent node has no cached result", {"parent_id": "p2"}),
        ("warning", "Overwriting existing key during combine", {"key": "b", "parent_id": "p3"}),
    ]


def test_data_combine_without_parents_is_empty(make_ctx: MakeCtx) -> None:
    """No parents: an empty combined object."""
    assert data_combine.run(make_ctx()) == {"combined": {}}


def test_data_extract_keeps_requested_keys(make_ctx: MakeCtx) -> None:
    """Requested keys that exist are kept (later parents win); missing keys are logged."""
    ctx = make_ctx(
        ("keys", "text", " a, c ,, zz"),
        parents=[("p1", {"a": 1, "b": 1}), ("p2", None), ("p3", {"a": 2, "c": [3]})],
    )
    assert data_extract.run(ctx) == {"extracted": {"a": 2, "c": [3]}}
    assert [(line.message, line.fields) for line in ctx.logs] == [
        ("Requested key not found in parent outputs", {"key": "zz"})
    ]


def test_data_extract_repeated_key_is_one_request(make_ctx: MakeCtx) -> None:
    """A key named twice is extracted once and a missing one warned about once.

    Upstream: flomation-co/executor actions/common/data_extract/action.go collects the keys
    in a set.
    """
    ctx = make_ctx(("keys", "text", "a, zz, a,zz"), parents=[("p", {"a": 1})])
    assert data_extract.run(ctx) == {"extracted": {"a": 1}}
    assert [line.fields for line in ctx.logs] == [{"key": "zz"}]


def test_data_rename_declares_upstreams_output() -> None:
    """The manifest declares the output ``renamed`` (an object), as upstream's.

    Upstream: flomation-co/executor actions/common/data_rename/action.go (Outputs).
    """
    assert [(item.name, item.type) for item in data_rename.SPEC.outputs] == [("renamed", "object")]


@pytest.mark.parametrize("rows", [[], [("keys", "text", " , ")]])
def test_data_extract_without_keys_is_empty(
    make_ctx: MakeCtx, rows: list[tuple[str, str, Any]]
) -> None:
    """Missing or blank keys give an empty object without reading parents."""
    ctx = make_ctx(*rows, parents=[("p", {"a": 1})])
    assert data_extract.run(ctx) == {"extracted": {}}
    assert ctx.logs == []


def test_data_rename_takes_the_first_parent_with_the_key(make_ctx: MakeCtx) -> None:
    """The value comes from the first parent (edge order) holding the key, typed."""
    ctx = make_ctx(
        ("input_key", "string", " old "),
        ("output_key", "string", " new "),
        parents=[("p0", None), ("p1", {"x": 0}), ("p2", {"old": [1, 2]}), ("p3", {"old": "late"})],
    )
    assert data_rename.run(ctx) == {"new": [1, 2]}
    assert ctx.logs == []


def test_data_rename_missing_key_is_null_and_logged(make_ctx: MakeCtx) -> None:
    """A key no parent has gives null and a warning."""
    ctx = make_ctx(("input_key", "string", "old"), ("output_key", "string", "new"))
    assert data_rename.run(ctx) == {"new": None}
    assert [(line.level, line.message) for line in ctx.logs] == [
        ("warning", "Input key not found in parent outputs")
    ]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([("output_key", "string", "new")], "input_key is required"),
        ([("input_key", "string", "  "), ("output_key", "string", "new")], "input_key is required"),
        ([("input_key", "string", "old")], "output_key is required"),
    ],
)
def test_data_rename_requires_both_keys(
    make_ctx: MakeCtx, rows: list[tuple[str, str, Any]], message: str
) -> None:
    """An empty input or output key is a hard error."""
    with pytest.raises(HardError) as caught:
        data_rename.run(make_ctx(*rows))
    assert caught.value.message == message
