"""Shared input handling of the data actions: JSON-or-text values and merged parent outputs."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from flomation.executor.actions.base import ActionContext, Outputs
from flomation.executor.gojson import go_type_name

__all__ = ["NotAContainer", "as_array", "as_object", "merged_parent_outputs", "preview"]

_PREVIEW_BYTES = 100
_NOT_JSON = object()
_Container = TypeVar("_Container", list[Any], dict[str, Any])


class NotAContainer(ValueError):
    """The value is not the expected array/object; the message is the spec's error text."""


def preview(text: str) -> str:
    """The first 100 bytes of a text (Go's ``v[:100]``), for error messages.

    A character cut in two becomes U+FFFD, as Go's JSON encoding of the result shows it.
    """
    return text.encode("utf-8", "surrogatepass")[:_PREVIEW_BYTES].decode("utf-8", "replace")


def _decode(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return _NOT_JSON


def _as_container(value: Any, container: type[_Container], name: str) -> _Container:
    """A ``container``, or a string holding one as JSON, or null (``value`` is not null).

    The text ``null`` is an empty container: Go's json.Unmarshal into a slice or map accepts it.
    ``name`` (array, object) is the JSON name the error messages use.
    """
    if isinstance(value, container):
        return value
    if isinstance(value, str):
        decoded = _decode(value)
        if isinstance(decoded, container):
            return decoded
        if decoded is None:
            return container()
        raise NotAContainer(f"value is not an {name}: {preview(value)}")
    raise NotAContainer(f"expected {name}, got {go_type_name(value)}")


def as_array(value: Any) -> list[Any]:
    """A list, or a string holding a JSON list or null (an empty list; ``value`` is not null)."""
    return _as_container(value, list, "array")


def as_object(value: Any) -> dict[str, Any]:
    """An object, or a string holding a JSON object or null (an empty one; ``value`` is not
    null)."""
    return _as_container(value, dict, "object")


def merged_parent_outputs(ctx: ActionContext, *, log_problems: bool) -> Outputs:
    """Every parent's cached outputs merged in edge order, later parents overwriting."""
    merged: Outputs = {}
    for parent_id, outputs in ctx.parent_outputs():
        if outputs is None:
            if log_problems:
                ctx.log("warning", "Parent node has no cached result", parent_id=parent_id)
            continue
        for key, value in outputs.items():
            if log_problems and key in merged:
                ctx.log(
                    "warning",
                    "Overwriting existing key during combine",
                    key=key,
                    parent_id=parent_id,
                )
            merged[key] = value
    return merged
