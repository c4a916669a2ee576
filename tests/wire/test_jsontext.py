"""compact_json: the one JSON encoder for what the runner sends and writes."""

from __future__ import annotations

import json

from flomation.wire.jsontext import JsonObject, compact_json


def test_compact_json_keeps_key_order_and_non_ascii_text() -> None:
    """No spaces, keys in their given order, non-ASCII text as UTF-8 (not \\u escapes)."""
    value: JsonObject = {"z": 1, "a": [True, None, 1.5], "name": "Grüße ✓"}
    text = compact_json(value)
    assert text == '{"z":1,"a":[true,null,1.5],"name":"Grüße ✓"}'.encode()
    assert json.loads(text) == value
