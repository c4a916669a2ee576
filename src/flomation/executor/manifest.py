"""The action manifest written by ``--manifest PATH`` (docs/flows.md §7.6).

One object keyed by action id, generated from the registry's action definitions; each entry has a
``hash`` over its own Go-JSON and the source file implementing the action.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from flomation.executor.actions.base import ActionSpec, Connection
from flomation.executor.gojson import go_json
from flomation.executor.registry import Action, Registry

__all__ = ["manifest_entry", "render_manifest", "write_manifest"]

_HTML_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def _connection(connection: Connection) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": connection.name,
        "type": connection.type,
        "value": None,
        "label": connection.label,
        "placeholder": connection.placeholder,
    }
    if connection.required is not None:
        entry["required"] = connection.required
    if connection.options is not None:
        entry["options"] = [dict(option) for option in connection.options]
    if connection.visible_when is not None:
        entry["visible_when"] = dict(connection.visible_when)
    if connection.secret:
        entry["secret"] = True
    return entry


def _definition(spec: ActionSpec) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "author": spec.author,
        "organisation": spec.organisation,
        "name": spec.name,
        "description": spec.description,
        "website": spec.website,
        "icon": spec.icon,
        "date": spec.date,
        "type": spec.type,
        "inputs": [_connection(item) for item in spec.inputs],
        "outputs": [_connection(item) for item in spec.outputs],
    }
    if spec.summary:
        entry["summary"] = spec.summary
    entry.update(spec.extra)
    return entry


def manifest_entry(action: Action) -> dict[str, Any]:
    """The manifest entry of one action, ``hash`` included."""
    entry = _definition(action.spec)
    digest = hashlib.sha256(go_json(entry).encode("utf-8"))
    digest.update(action.source.read_bytes())
    entry["hash"] = digest.hexdigest()
    return entry


def render_manifest(registry: Registry) -> str:
    """The manifest text: 2-space indentation, sorted keys, Go string escaping, no newline."""
    manifest = {action.spec.id: manifest_entry(action) for action in registry.all_actions()}
    text = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False)
    return text.translate(_HTML_ESCAPES)


def write_manifest(registry: Registry, path: Path) -> None:
    """Write the manifest to ``path`` with mode 0600 (OSError on failure)."""
    data = render_manifest(registry).encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
