"""JSON as it goes over the wire: the type of a parsed JSON value and its compact text."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["compact_json"]


def compact_json(value: Any) -> bytes:
    """Compact UTF-8 JSON, keys in their original order (lossless for parsed JSON)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
