"""Reading a flow file and trigger data given on the command line, with errors that name them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["InputError", "load_flow_file", "parse_trigger_data"]


class InputError(Exception):
    """Bad command-line input: the message names the file or option and the problem."""


def load_flow_file(path: Path) -> tuple[dict[str, Any], str]:
    """The flow document in ``path`` (a JSON object whose ``nodes``/``edges`` are lists) and
    its text."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such flow file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the flow file: {exc}") from None
    try:
        flow = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    if not isinstance(flow, dict):
        raise InputError(f"{path}: a flow must be a JSON object with 'nodes' and 'edges'")
    for field in ("nodes", "edges"):
        if field in flow and not isinstance(flow[field], list):
            raise InputError(f"{path}: '{field}' must be a list")
    nodes = flow.get("nodes") or []
    if not nodes:
        raise InputError(f"{path}: the flow has no nodes")
    for index, node in enumerate(nodes):
        if not isinstance(node, dict) or not isinstance(node.get("id"), str):
            raise InputError(f"{path}: nodes[{index}] must be an object with a string 'id'")
    return flow, text


def parse_trigger_data(data: str | None, data_file: Path | None) -> dict[str, Any] | None:
    """The trigger data from ``--data JSON`` or ``--data-file PATH``: a JSON object, or None."""
    if data is not None and data_file is not None:
        raise InputError("--data and --data-file cannot be used together")
    if data_file is not None:
        try:
            data = data_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"--data-file {data_file}: cannot read it: {exc}") from None
        source = f"--data-file {data_file}"
    else:
        source = "--data"
    if data is None:
        return None
    try:
        value = json.loads(data)
    except json.JSONDecodeError as exc:
        raise InputError(f"{source}: invalid JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(value, dict):
        raise InputError(f"{source}: trigger data must be a JSON object")
    return value
