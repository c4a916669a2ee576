"""Runs one executor conformance case (``tests/conformance/executor/<case>/``) as a black box.

The case format is described in ``tests/conformance/README.md``. The executor is started as a
program, the way the runner starts it (docs/protocol.md §5.6): a fresh work directory, the flow as
``execution.flow``, an empty stdin. What it printed and wrote is then compared with the case's
``expected.json``; :func:`problems` returns one line per difference (empty when the case passes).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flomation.executor.events import EVENT_PREFIX

__all__ = ["CASES", "Observation", "case_dirs", "observe", "problems"]

CASES = Path(__file__).resolve().parents[1] / "conformance" / "executor"

_EXPECTED_KEYS = frozenset(
    {
        "description",
        "exit_code",
        "state_written",
        "state",
        "state_ignore",
        "node_results",
        "events",
        "event_counts",
        "event_fields",
        "absent_nodes",
    }
)
_ARGS_KEYS = frozenset({"entry", "omit_path", "path"})
_STATUSES = frozenset({"running", "success", "failed", "cancelled", "suspended"})
_OPTIONAL_FILES = ("trigger-data.json", "context.json")


def case_dirs() -> list[Path]:
    """Every case folder, sorted by name."""
    return sorted(p for p in CASES.iterdir() if (p / "expected.json").is_file())


@dataclass(frozen=True)
class Observation:
    """What one executor run left behind."""

    exit_code: int
    events: list[dict[str, Any]]
    bad_event_lines: list[str]
    state: Any
    state_exists: bool
    state_error: str
    stderr: str
    ids: dict[str, str]


def observe(case: Path, executor: Sequence[str], workdir: Path, timeout_s: float) -> Observation:
    """Runs ``executor`` on ``case`` in the empty ``workdir`` and collects what it left."""
    args = _load_object(case / "args.json") if (case / "args.json").exists() else {}
    unknown = set(args) - _ARGS_KEYS
    if unknown:
        raise ValueError(f"{case.name}/args.json: unknown keys {sorted(unknown)}")
    # Copied byte for byte: some cases hold deliberately invalid JSON.
    shutil.copyfile(case / "flow.json", workdir / "execution.flow")
    command = [*executor, "--output", "json"]
    if not args.get("omit_path"):
        command += ["--path", str(args.get("path", "execution.flow"))]
    ids = {"execution_id": str(uuid.uuid4()), "flow_id": str(uuid.uuid4())}
    command += ["--entry", str(args.get("entry", "")), "--id", ids["execution_id"]]
    # Nothing listens on port 9 (discard): no case may need the network.
    command += ["--flow", ids["flow_id"], "--api", "http://127.0.0.1:9", "--runner", "conformance"]
    for name in _OPTIONAL_FILES:
        if (case / name).exists():
            shutil.copyfile(case / name, workdir / name)
            command += [f"--{name.removesuffix('.json')}", name]
    completed = subprocess.run(
        command,
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout_s,
        check=False,
    )
    events: list[dict[str, Any]] = []
    bad: list[str] = []
    for line in completed.stdout.decode("utf-8", "replace").splitlines():
        if not line.startswith(EVENT_PREFIX):
            continue
        try:
            event = json.loads(line.removeprefix(EVENT_PREFIX))
        except ValueError:
            bad.append(line)
            continue
        if _well_formed(event):
            events.append(event)
        else:
            bad.append(line)
    state_path = workdir / "state.json"
    state: Any = None
    state_error = ""
    if state_path.exists():
        try:
            state = json.loads(state_path.read_bytes())
        except ValueError as exc:
            state_error = f"state.json is not JSON: {exc}"
    return Observation(
        exit_code=completed.returncode,
        events=events,
        bad_event_lines=bad,
        state=state,
        state_exists=state_path.exists(),
        state_error=state_error,
        stderr=completed.stderr.decode("utf-8", "replace"),
        ids=ids,
    )


def problems(case: Path, seen: Observation) -> list[str]:
    """Every way ``seen`` differs from the case's ``expected.json``; empty when it passes."""
    expected = _load_object(case / "expected.json")
    unknown = set(expected) - _EXPECTED_KEYS
    if unknown:
        raise ValueError(f"{case.name}/expected.json: unknown keys {sorted(unknown)}")
    expected = _with_ids(expected, seen.ids)
    found = [f"malformed node event: {line[:200]}" for line in seen.bad_event_lines]
    if "exit_code" in expected and seen.exit_code != expected["exit_code"]:
        found.append(f"exit code {seen.exit_code}, expected {expected['exit_code']}")
    found += _state_problems(expected, seen)
    found += _event_problems(expected, seen.events)
    found += _absent_problems(expected, seen)
    return found


def _state_problems(expected: dict[str, Any], seen: Observation) -> list[str]:
    wants_state = "state" in expected or "node_results" in expected
    written = expected.get("state_written", True if wants_state else None)
    if written is False:
        return ["state.json was written"] if seen.state_exists else []
    if written and not seen.state_exists:
        return ["state.json was not written"]
    if seen.state_error:
        return [seen.state_error]
    state = seen.state
    if not wants_state:
        return []
    if not isinstance(state, dict):
        return [f"state.json is not an object: {state!r}"]
    found: list[str] = []
    ignored = set(expected.get("state_ignore", []))
    for key, want in expected.get("state", {}).items():
        if key not in state:
            found.append(f"state.{key} missing")
        elif key == "outputs":
            got = state["outputs"]
            if isinstance(got, dict) and isinstance(want, dict):
                got = {k: v for k, v in got.items() if k not in ignored}
                want = {k: v for k, v in want.items() if k not in ignored}
            if not _equal(got, want):
                found.append(f"state.outputs is {got!r}, expected {want!r}")
        else:
            found += _subset(state[key], want, f"state.{key}")
    results = state.get("node_results") or {}
    for node_id, want in expected.get("node_results", {}).items():
        record = results.get(node_id) if isinstance(results, dict) else None
        if not isinstance(record, dict):
            found.append(f"node_results.{node_id} missing")
            continue
        for key in ("status", "error"):
            if key in want and not _equal(record.get(key), want[key]):
                found.append(f"node_results.{node_id}.{key} is {record.get(key)!r}")
        for key in ("inputs", "outputs"):
            values = record.get(key) or {}
            for name, value in want.get(key, {}).items():
                if name not in values or not _equal(values[name], value):
                    found.append(
                        f"node_results.{node_id}.{key}.{name} is "
                        f"{values.get(name, '<missing>')!r}, expected {value!r}"
                    )
    return found


def _event_problems(expected: dict[str, Any], events: list[dict[str, Any]]) -> list[str]:
    found: list[str] = []
    pairs = [[event["id"], event["status"]] for event in events]
    if "events" in expected and pairs != [list(pair) for pair in expected["events"]]:
        found.append(f"events {pairs}, expected {expected['events']}")
    for node_id, counts in expected.get("event_counts", {}).items():
        for status, count in counts.items():
            got = pairs.count([node_id, status])
            if got != count:
                found.append(f"{got} {status} events for {node_id}, expected {count}")
    for key, fields in expected.get("event_fields", {}).items():
        node_id, _, status = key.rpartition(":")
        event = next((e for e in events if e["id"] == node_id and e["status"] == status), None)
        if event is None:
            found.append(f"no {status} event for {node_id}")
            continue
        for name, value in fields.items():
            if name not in event or not _equal(event[name], value):
                found.append(f"event {key}: {name} is {event.get(name, '<missing>')!r}")
    return found


def _absent_problems(expected: dict[str, Any], seen: Observation) -> list[str]:
    state = seen.state if isinstance(seen.state, dict) else {}
    results = state.get("node_results") or {}
    return [
        f"node {node_id} ran but should never run"
        for node_id in expected.get("absent_nodes", [])
        if any(event["id"] == node_id for event in seen.events) or node_id in results
    ]


def _well_formed(event: Any) -> bool:
    """A node event is an object with string id, action and label, and a known status."""
    return (
        isinstance(event, dict)
        and all(isinstance(event.get(key), str) for key in ("id", "action", "label", "status"))
        and event["status"] in _STATUSES
    )


def _subset(got: Any, want: Any, where: str) -> list[str]:
    """Objects match when every wanted key matches; lists and scalars must be equal."""
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return [f"{where} is {got!r}, expected an object"]
        found: list[str] = []
        for key, value in want.items():
            if key not in got:
                found.append(f"{where}.{key} missing")
            else:
                found += _subset(got[key], value, f"{where}.{key}")
        return found
    return [] if _equal(got, want) else [f"{where} is {got!r}, expected {want!r}"]


def _equal(got: Any, want: Any) -> bool:
    """JSON equality: numbers by value (3 == 3.0), but a boolean never equals a number."""
    if isinstance(got, bool) or isinstance(want, bool):
        return type(got) is type(want) and got == want
    if isinstance(got, int | float) and isinstance(want, int | float):
        return got == want
    if isinstance(got, dict) and isinstance(want, dict):
        return got.keys() == want.keys() and all(_equal(got[k], want[k]) for k in got)
    if isinstance(got, list) and isinstance(want, list):
        return len(got) == len(want) and all(map(_equal, got, want))
    return type(got) is type(want) and got == want


def _with_ids(value: Any, ids: dict[str, str]) -> Any:
    """Replaces the ``{{execution_id}}`` and ``{{flow_id}}`` placeholders with this run's ids."""
    if isinstance(value, str) and value.startswith("{{") and value.endswith("}}"):
        return ids.get(value[2:-2], value)
    if isinstance(value, list):
        return [_with_ids(item, ids) for item in value]
    if isinstance(value, dict):
        return {key: _with_ids(item, ids) for key, item in value.items()}
    return value


def _load_object(path: Path) -> dict[str, Any]:
    value = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(value, dict):
        raise ValueError(f"{path}: not a JSON object")
    return value
