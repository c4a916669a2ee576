"""Work directory files and the executor argument list (docs/protocol.md §5.1-§5.6)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fixtures.fake_control_plane import pending_execution
from flomation.runner.workdir import (
    ExecutorSettings,
    TlsFiles,
    WorkdirError,
    WorkdirRetention,
    prepare_workdir,
    read_state_file,
    trigger_data_object,
)
from flomation.wire.models import PendingExecution
from flomation.wire.paths import UnsafeIdError, work_directory

NOW = datetime(2026, 4, 30, 10, 15, 30, 123456, tzinfo=UTC)


def _settings(tmp_path: Path, tls: TlsFiles | None = None) -> ExecutorSettings:
    return ExecutorSettings(
        executable=("python3", "-m", "exe"),
        api_url="http://api.example",
        runner_name="My Runner",
        runner_identifier="qWeRtYuIoPaSdFgH",
        key_path=tmp_path / "key.pem",
        tls=tls,
    )


def _prepare(tmp_path: Path, raw: dict[str, Any], tls: TlsFiles | None = None) -> Any:
    pending = PendingExecution.model_validate(raw)
    (tmp_path / "exec").mkdir(exist_ok=True)
    path = work_directory(tmp_path / "exec", pending.execution.flo_id, pending.execution.id)
    return prepare_workdir(path, pending, raw["data"], _settings(tmp_path, tls), NOW)


def test_files_modes_and_argv(tmp_path: Path) -> None:
    """Every file has mode 0600, the directory 0750, and argv follows §5.6 exactly."""
    raw = pending_execution(trigger_data={"a": 1}, environment_id="env-1", entry_node_id="n1")
    raw["data"] = {"z": 1, "a": 2.0, "big": 12345678901234567890}
    prepared = _prepare(tmp_path, raw)
    execution = raw["execution"]
    assert prepared.path == tmp_path / "exec" / execution["flo_id"] / execution["id"]
    assert prepared.path.stat().st_mode & 0o777 == 0o750
    for name in ("execution.flow", "trigger-data.json", "context.json"):
        assert (prepared.path / name).stat().st_mode & 0o777 == 0o600
    flow_text = (prepared.path / "execution.flow").read_text()
    assert flow_text == '{"z":1,"a":2.0,"big":12345678901234567890}'
    assert prepared.argv == [
        "python3", "-m", "exe",
        "--output", "json", "--path", "execution.flow", "--entry", "n1",
        "--id", execution["id"], "--flow", execution["flo_id"],
        "--api", "http://api.example", "--runner", "My Runner",
        "--environment", "env-1", "--trigger-data", "trigger-data.json",
        "--context", "context.json", "--key", str(tmp_path / "key.pem"),
    ]  # fmt: skip


def test_context_has_every_key(tmp_path: Path) -> None:
    """context.json carries every §5.4 key with values from the execution and trigger data."""
    trigger = {"system_prompt": "sp", "role": "r", "channel_type": 7, "agent_id": "ag"}
    raw = pending_execution(trigger_data=json.dumps(trigger))
    raw["execution"]["author_email"] = "a@x"
    tls = TlsFiles(ca_cert="/t/ca.pem", cert="/t/c.pem", key="/t/k.pem", api_url="https://int")
    prepared = _prepare(tmp_path, raw, tls)
    context = json.loads((prepared.path / "context.json").read_text())
    assert context == {
        "flow_id": raw["execution"]["flo_id"],
        "execution_id": raw["execution"]["id"],
        "sequence": 3,
        "author_id": "owner-1",
        "organisation_id": "org-1",
        "runner_id": "qWeRtYuIoPaSdFgH",
        "start_time": "2026-04-30T10:15:30Z",
        "trigger_type": "manual",
        "author_email": "a@x",
        "triggerer_email": "",
        "api_url": "https://int",
        "system_prompt": "sp",
        "agent_id": "ag",
        "agent_user_id": "",
        "conversation_id": "",
        "trigger_source": "",
        "channel_type": "",
        "channel_id": "",
        "thread_id": "",
        "role": "r",
        "system_flow": False,
        "tls_ca_cert": "/t/ca.pem",
        "tls_cert": "/t/c.pem",
        "tls_key": "/t/k.pem",
    }
    assert json.loads((prepared.path / "trigger-data.json").read_text()) == trigger


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (None, None),
        ({}, None),
        ([1, 2], None),
        ("[1]", None),
        ("not json", None),
        ('{"a":1}', {"a": 1}),
        ({"a": None}, {"a": None}),
        ("{}", None),
    ],
)
def test_trigger_data_rules(data: Any, expected: Any) -> None:
    """Only a non-empty object (possibly JSON-encoded in a string) becomes trigger-data.json."""
    assert trigger_data_object(data) == expected


def test_checkpoint_written_and_stale_state_removed(tmp_path: Path) -> None:
    """A resume writes checkpoint.json, passes --checkpoint last and removes a stale state.json."""
    raw = pending_execution(checkpoint={"node_results": {}})
    first = _prepare(
        tmp_path, pending_execution(execution_id=raw["execution"]["id"], flo_id=raw["flo"]["id"])
    )
    assert "--trigger-data" not in first.argv and "--checkpoint" not in first.argv
    (first.path / "state.json").write_text("{}")
    prepared = _prepare(tmp_path, raw)
    assert prepared.path == first.path
    assert not (prepared.path / "state.json").exists()
    assert prepared.argv[-2:] == ["--checkpoint", "checkpoint.json"]
    assert json.loads((prepared.path / "checkpoint.json").read_text()) == {"node_results": {}}


def test_a_reused_directory_loses_inputs_this_run_does_not_have(tmp_path: Path) -> None:
    """Trigger data and a checkpoint left by an earlier run of the same id are removed."""
    earlier = pending_execution(trigger_data={"a": 1}, checkpoint={"node_results": {}})
    first = _prepare(tmp_path, earlier)
    assert (first.path / "trigger-data.json").exists() and (first.path / "checkpoint.json").exists()
    again = pending_execution(execution_id=earlier["execution"]["id"], flo_id=earlier["flo"]["id"])
    prepared = _prepare(tmp_path, again)
    assert sorted(p.name for p in prepared.path.iterdir()) == ["context.json", "execution.flow"]


def test_checkpoint_falls_back_to_execution_checkpoint(tmp_path: Path) -> None:
    """Without a top-level checkpoint, execution.checkpoint is used."""
    raw = pending_execution()
    raw["execution"]["checkpoint"] = {"x": 1}
    prepared = _prepare(tmp_path, raw)
    assert "--checkpoint" in prepared.argv


def test_unsafe_ids_are_refused_before_touching_the_filesystem(tmp_path: Path) -> None:
    """An id that could escape the execution directory raises and writes nothing."""
    raw = pending_execution(execution_id="../../etc")
    with pytest.raises(UnsafeIdError):
        _prepare(tmp_path, raw)
    assert list((tmp_path / "exec").iterdir()) == []


def test_unwritable_directory_is_a_workdir_error(tmp_path: Path) -> None:
    """A work directory that cannot be created raises WorkdirError naming it."""
    raw = pending_execution()
    (tmp_path / "exec").mkdir()
    (tmp_path / "exec" / raw["flo"]["id"]).write_text("a file where a directory belongs")
    with pytest.raises(WorkdirError, match="unable to prepare work directory"):
        _prepare(tmp_path, raw)


def test_read_state_file_errors(tmp_path: Path) -> None:
    """Missing, invalid, non-object and oversized state.json each give a clear error."""
    assert read_state_file(tmp_path).error == "executor exited without writing state.json"
    (tmp_path / "state.json").write_text("{nope")
    assert "not valid JSON" in (read_state_file(tmp_path).error or "")
    (tmp_path / "state.json").write_text("[1]")
    assert "not a JSON object" in (read_state_file(tmp_path).error or "")
    (tmp_path / "state.json").write_text('{"status": 0, "pad": "' + "x" * 100 + '"}')
    assert "too large" in (read_state_file(tmp_path, max_bytes=50).error or "")
    assert read_state_file(tmp_path).state is not None


@pytest.fixture
def to_thread_calls(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The functions the workdir module hands to ``asyncio.to_thread`` (which still runs them)."""
    calls: list[object] = []
    real_to_thread = asyncio.to_thread

    async def recording_to_thread(function: Any, /, *args: Any, **kwargs: Any) -> Any:
        calls.append(function)
        return await real_to_thread(function, *args, **kwargs)

    monkeypatch.setattr("flomation.runner.workdir.asyncio.to_thread", recording_to_thread)
    return calls


@pytest.mark.parametrize(
    ("layout", "removed_in_a_thread"),
    [
        ({"execution.flow": "{}", "context.json": "{}", "state.json": "{}"}, False),
        ({f"file{n}": "x" for n in range(17)}, True),  # more files than are removed inline
        ({"execution.flow": "{}", "checkout/README": "x"}, True),  # a subdirectory
        ({"execution.flow": "{}", "link": None}, True),  # a symbolic link (not followed)
    ],
)
async def test_successful_directory_removal_on_the_loop_or_in_a_thread(
    tmp_path: Path,
    to_thread_calls: list[object],
    layout: dict[str, str | None],
    removed_in_a_thread: bool,
) -> None:
    """A few plain files are removed inline; anything larger or nested goes to a thread."""
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    workdir = tmp_path / "root" / "flo" / "e1"
    for name, content in layout.items():
        path = workdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            path.symlink_to(outside)
        else:
            path.write_text(content)
    await WorkdirRetention(tmp_path / "root", keep_failed=0).apply(
        workdir, succeeded=True, suspended=False
    )
    assert not workdir.exists() and not workdir.parent.exists()
    assert bool(to_thread_calls) is removed_in_a_thread
    assert outside.read_text() == "keep me"


async def test_an_evicted_failed_checkout_is_removed_in_a_thread(
    tmp_path: Path, to_thread_calls: list[object]
) -> None:
    """A failed directory dropped beyond keep_failed goes the way of any large tree: a thread."""
    retention = WorkdirRetention(tmp_path, keep_failed=1)
    old = tmp_path / "flo1" / "e1"
    (old / "checkout" / "src").mkdir(parents=True)
    (old / "checkout" / "src" / "main.py").write_text("print()")
    await retention.apply(old, succeeded=False, suspended=False)
    assert old.exists() and to_thread_calls == []
    newer = tmp_path / "flo2" / "e2"
    newer.mkdir(parents=True)
    os.utime(old / ".flomation-failed", (1, 1))  # older than the marker written next
    await retention.apply(newer, succeeded=False, suspended=False)
    assert not old.exists() and not old.parent.exists() and newer.exists()
    assert to_thread_calls == [shutil.rmtree]


async def test_retention_keeps_newest_failed(tmp_path: Path) -> None:
    """Successful directories go, suspended stay, only the newest N failed ones are kept."""
    retention = WorkdirRetention(tmp_path, keep_failed=2)
    dirs = []
    for n in range(4):
        path = tmp_path / f"flo{n}" / f"e{n}"
        path.mkdir(parents=True)
        dirs.append(path)
    await retention.apply(dirs[0], succeeded=True, suspended=False)
    assert not dirs[0].exists() and not dirs[0].parent.exists()
    await retention.apply(dirs[1], succeeded=False, suspended=True)
    assert dirs[1].exists()
    for path in dirs[2:]:
        await retention.apply(path, succeeded=False, suspended=False)
    extra = tmp_path / "flo9" / "e9"
    extra.mkdir(parents=True)
    await retention.apply(extra, succeeded=False, suspended=False)
    kept = sorted(p.parent.name for p in tmp_path.glob("*/*/.flomation-failed"))  # noqa: ASYNC240
    assert len(kept) == 2 and "e9" in kept
