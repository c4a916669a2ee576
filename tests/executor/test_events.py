"""Log lines, node events, masking, truncation and state.json (docs/flows.md §7).

Test docstrings starting ``C<n>:`` pin the numbered rules of docs/flows.md §12.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

from flomation.executor.events import (
    MASK,
    EventSink,
    Logger,
    NodeRecord,
    masked_inputs,
    render_state,
    truncate_strings,
    write_state,
)
from flomation.executor.gojson import RawJSON


def _capture(tmp_path: Path, name: str) -> tuple[int, Path]:
    path = tmp_path / name
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), path


def test_json_log_lines_have_sorted_keys_and_rfc3339_seconds(tmp_path: Path) -> None:
    """§7.1: one Go-JSON object per line, keys sorted, time RFC 3339 with seconds and zone."""
    fd, path = _capture(tmp_path, "log")
    logger = Logger(json_format=True, fd=fd)
    logger.log("info", "executing node", id="n", action="a", label="<l>")
    logger.log("debug", "hidden")
    logger.log("error", "failed", error=ValueError("boom"))
    os.close(fd)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert list(first) == ["action", "id", "label", "level", "msg", "time"]
    assert '"label":"\\u003cl\\u003e"' in lines[0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)", first["time"])
    assert json.loads(lines[1])["error"] == "boom"


def test_debug_level_enables_debug_lines(tmp_path: Path) -> None:
    """--debug lowers the threshold to debug."""
    fd, path = _capture(tmp_path, "log")
    logger = Logger(json_format=False, fd=fd)
    logger.set_level("debug")
    logger.log("debug", "details", key="a b")
    os.close(fd)
    line = path.read_text(encoding="utf-8")
    assert 'level=debug msg="details" key="a b"' in line


def test_event_field_order_and_omissions(tmp_path: Path) -> None:
    """§7.2: id, action, label, status, duration_ms, error, inputs, outputs; empties omitted."""
    fd, path = _capture(tmp_path, "events")
    sink = EventSink(fd)
    sink.emit("n", "a/b", "lbl", "running")
    sink.emit(
        "n",
        "a/b",
        "lbl",
        "failed",
        duration_ms=12,
        error="bad",
        inputs={"x": 1},
        outputs={"z": 2, "y": "<"},
    )
    sink.emit("n", "a/b", "", "success", duration_ms=0, inputs={}, outputs={})
    os.close(fd)
    assert path.read_text(encoding="utf-8").splitlines() == [
        '__NODE__:{"id":"n","action":"a/b","label":"lbl","status":"running"}',
        '__NODE__:{"id":"n","action":"a/b","label":"lbl","status":"failed","duration_ms":12,'
        '"error":"bad","inputs":{"x":1},"outputs":{"y":"\\u003c","z":2}}',
        '__NODE__:{"id":"n","action":"a/b","label":"","status":"success"}',
    ]


def test_truncation_of_long_strings_at_any_depth() -> None:
    """C21: a 5000-byte string becomes its first 4096 bytes plus the truncation note."""
    long_text = "a" * 5000
    truncated = truncate_strings({"deep": [{"s": long_text}], "short": "ok"})
    assert truncated["deep"][0]["s"] == "a" * 4096 + "… [truncated, 5000 bytes total]"
    assert truncated["short"] == "ok"


def test_truncation_ends_on_a_character_boundary() -> None:
    """Multi-byte characters are never cut in half; N counts UTF-8 bytes."""
    text = "€" * 2000  # 3 bytes each: 6000 bytes
    cut = truncate_strings(text)
    assert cut == "€" * 1365 + "… [truncated, 6000 bytes total]"
    assert truncate_strings("€" * 1365) == "€" * 1365


def test_masking_of_secret_inputs() -> None:
    """C26/C7: inputs configured with ${secret(s).…} show ********; env/credentials do not."""
    configured = {
        "auth": "Bearer ${secrets.API}",
        "plain": "${env.FOO}",
        "cred": "${credentials.gh}",
        "nested": {"h": "${secret.X}"},
        "n": 5,
    }
    resolved = {"auth": "Bearer abc", "plain": "foo", "cred": "tok", "nested": {"h": "x"}, "n": 5}
    assert masked_inputs(configured, resolved) == {
        "auth": MASK,
        "plain": "foo",
        "cred": "tok",
        "nested": MASK,
        "n": 5,
    }


def test_state_json_field_order_mode_and_no_trailing_newline(tmp_path: Path) -> None:
    """§7.4: fixed field order, records in fixed order, mode 0600, no trailing newline."""
    record = NodeRecord("n", "a/b", "lbl", "success", {"i": 1}, {"o": "<"}, "", 0)
    text = render_state(
        execution_id="e",
        flow_id="f",
        status=0,
        duration_ms=5,
        outputs={"b": 1, "a": 2},
        records={"n": record},
        checkpoint=None,
    )
    assert text == (
        '{"id":"e","flow_id":"f","status":0,"duration":5,"billing_duration":5,'
        '"outputs":{"a":2,"b":1},"node_results":{"n":{"id":"n","action":"a/b","label":"lbl",'
        '"status":"success","inputs":{"i":1},"outputs":{"o":"\\u003c"},"duration_ms":0}}}'
    )
    path = tmp_path / "state.json"
    path.write_text("old and longer content", encoding="utf-8")
    path.chmod(0o644)
    write_state(path, text)
    assert path.read_text(encoding="utf-8") == text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_state_without_records_and_with_checkpoint() -> None:
    """node_results is omitted when empty; checkpoint comes last; null outputs stay null."""
    text = render_state(
        execution_id="e",
        flow_id="",
        status=3,
        duration_ms=0,
        outputs=None,
        records={},
        checkpoint=RawJSON('{"node_results":{}}'),
    )
    assert text == (
        '{"id":"e","flow_id":"","status":3,"duration":0,"billing_duration":0,"outputs":null,'
        '"checkpoint":{"node_results":{}}}'
    )


def test_broken_stdout_pipe_is_ignored() -> None:
    """§2.4: writing events to a pipe whose reader has gone does not raise."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    sink = EventSink(write_end)
    sink.emit("n", "a", "l", "running")
    sink.emit("n", "a", "l", "success")
    os.close(write_end)


def test_oversized_event_drops_inputs_and_outputs(tmp_path: Path) -> None:
    """§1: an event that would exceed the 1 MB line limit keeps only its identity and error."""
    fd, path = _capture(tmp_path, "events")
    outputs = {f"k{index}": "x" * 4000 for index in range(300)}  # ~1.2 MB even after truncation
    EventSink(fd).emit("n", "a", "l", "failed", error="e" * 5000, outputs=outputs)
    os.close(fd)
    line = path.read_bytes()
    assert len(line) < 1_000_000
    event = json.loads(line.decode("utf-8")[len("__NODE__:") :])
    assert list(event) == ["id", "action", "label", "status", "error"]
    assert event["error"].endswith("… [truncated, 5000 bytes total]")


def test_oversized_log_line_truncates_its_strings(tmp_path: Path) -> None:
    """§1: a log line whose fields would exceed 1 MB has its long strings truncated."""
    fd, path = _capture(tmp_path, "log")
    Logger(json_format=True, fd=fd).log("error", "Error processing Action", error="x" * 2_000_000)
    os.close(fd)
    line = path.read_bytes()
    assert len(line) < 10_000
    assert json.loads(line)["error"].endswith("[truncated, 2000000 bytes total]")
