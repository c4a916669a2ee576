"""Shared input handling of the data actions: JSON-or-text values and merged parent outputs."""

from __future__ import annotations

import json
from typing import Any

from flomation.executor.actions.base import ActionContext, Outputs
from flomation.executor.gojson import go_type_name

__all__ = ["NotAContainer", "as_array", "as_object", "merged_parent_outputs", "preview"]

_PREVIEW_BYTES = 100
_NOT_JSON = object()


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


def as_array(value: Any) -> list[Any]:
    """A list, or a string holding a JSON list or null (``value`` is not null).

    The text ``null`` is an empty list: Go's json.Unmarshal into a slice accepts it.
    """
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        decoded = _decode(value)
        if isinstance(decoded, list):
            return decoded
        if decoded is None:
            return []
        raise NotAContainer(f"value is not an array: {preview(value)}")
    raise NotAContainer(f"expected array, got {go_type_name(value)}")


def as_object(value: Any) -> dict[str, Any]:
    """An object, or a string holding a JSON object or null (``value`` is not null).

    The text ``null`` is an empty object: Go's json.Unmarshal into a map accepts it.
    """
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        decoded = _decode(value)
        if isinstance(decoded, dict):
            return decoded
        if decoded is None:
            return {}
        raise NotAContainer(f"value is not an object: {preview(value)}")
    raise NotAContainer(f"expected object, got {go_type_name(value)}")


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
