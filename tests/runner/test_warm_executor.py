"""The warm executor: executions forked from a fork server, with real processes and signals.

Supervision (output, exit codes, cancellation, the SIGKILL after the grace) is also run over both
launch modes by tests/runner/test_process.py and tests/runner/test_execution.py.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
import structlog

from fixtures.fork_probe import PROBE, ForkedPython, forked_python
from fixtures.processes import process_gone
from flomation.runner.process import ExecutorStartError
from flomation.runner.warm_executor import (
    WarmExecutor,
    WarmExecutorError,
    installed_identity,
    warm_executor_choice,
)

ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
EXECUTOR = Path(sys.executable).with_name("flomation-executor")
CONFORMANCE = Path(__file__).resolve().parents[1] / "conformance" / "executor"


def test_choice_follows_the_option_the_isolation_and_the_executors_version() -> None:
    """auto uses it for flomation-executor only, on forces it, off and bwrap isolation refuse it."""
    ours = "flomation-executor 1.4.0\n"
    upstream = "v1.2.3\n"  # the Go executor prints a bare version (docs/flows.md §2.2)
    assert warm_executor_choice("auto", isolated=False, version_output=ours).use
    assert not warm_executor_choice("auto", isolated=False, version_output=upstream).use
    assert not warm_executor_choice("auto", isolated=False, version_output="").use
    assert warm_executor_choice("on", isolated=False, version_output=upstream).use
    assert not warm_executor_choice("off", isolated=False, version_output=ours).use
    isolated = warm_executor_choice("on", isolated=True, version_output=ours)
    assert not isolated.use and "bwrap" in isolated.reason


def test_installed_identity_changes_when_a_file_is_replaced(tmp_path: Path) -> None:
    """Replacing a watched file (as an install does) or removing it changes the identity."""
    record = tmp_path / "RECORD"
    record.write_text("a")
    before = installed_identity([str(record)])
    assert installed_identity([str(record)]) == before
    replacement = tmp_path / "RECORD.new"
    replacement.write_text("b")
    replacement.replace(record)
    assert installed_identity([str(record)]) != before
    record.unlink()
    assert installed_identity([str(record)])[0][1:] == (None, None, None)


_REPORT_AND_MUTATE = """
import json, os, sys, types
import flomation.executor.forkserver as server_module
report = {
    "cwd": os.getcwd(),
    "env": dict(os.environ),
    "pid": os.getpid(),
    "pgid": os.getpgid(0),
    "sid": os.getsid(0),
    "ppid": os.getppid(),
    "mark": getattr(server_module, "LEFT_BY_A_RUN", None),
    "module_left": "left_by_a_run" in sys.modules,
}
print(json.dumps(report), flush=True)
server_module.LEFT_BY_A_RUN = os.environ.get("RUN")
sys.modules["left_by_a_run"] = types.ModuleType("left_by_a_run")
os.environ["EXPORTED_BY_A_RUN"] = "1"
"""


async def _report(forked: ForkedPython, cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    process = await forked.start(cwd, _REPORT_AND_MUTATE, env)
    lines = [line async for line in process.lines()]
    assert await process.wait() == 0, lines
    report: dict[str, Any] = json.loads(lines[0].text)
    return report


async def test_a_forked_execution_sees_nothing_of_another(tmp_path: Path) -> None:
    """Modules changed or imported, environment and directory of one run never reach the next."""
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    first_dir.mkdir()
    second_dir.mkdir()
    server_env = {**ENV, "ONLY_IN_THE_WARM_PROCESS": "1"}
    async with forked_python(tmp_path, server_env) as forked:
        first = await _report(forked, first_dir, {**ENV, "RUN": "first"})
        second = await _report(forked, second_dir, {**ENV, "RUN": "second"})
        server_pid = forked.warm.server_pid
    assert first["env"] == {**ENV, "RUN": "first"}  # replaced, not merged with the server's
    assert second["env"] == {**ENV, "RUN": "second"}
    assert (first["cwd"], second["cwd"]) == (str(first_dir), str(second_dir))
    for report in (first, second):
        assert report["mark"] is None and report["module_left"] is False
        # Its own session and process group (it leads both), forked by the server.
        assert report["pid"] == report["pgid"] == report["sid"]
        assert report["ppid"] == server_pid
    assert first["pid"] != second["pid"]


async def test_the_real_executor_runs_a_flow_forked(tmp_path: Path) -> None:
    """flomation-executor forked from its fork server runs a flow and writes state.json."""
    flow = (CONFORMANCE / "01-linear-chain" / "flow.json").read_text()
    lines, code, state = await _run_forked(tmp_path, flow)
    assert code == 0
    assert state["status"] == 0 and state["outputs"] == {"greeting": "HELLO"}, state
    assert any("Finished processing Flow" in line for line in lines)


@pytest.mark.parametrize("first", ["start", "launch"])
async def test_a_launch_during_the_start_is_forked_from_the_one_server(
    tmp_path: Path, first: str
) -> None:
    """A launch and a start that overlap (the agent starts the server beside its first claims)
    bring up one fork server, whichever comes first, and the execution is its child."""
    command = [sys.executable, str(PROBE)]
    warm = WarmExecutor(command, env=ENV, cwd=tmp_path, log=structlog.get_logger("test"))
    argv = [*command, "-c", "import os; print(os.getppid())"]
    try:
        with structlog.testing.capture_logs() as logs:
            if first == "start":
                starting = asyncio.create_task(warm.start())
                await asyncio.sleep(0)  # the start holds the lock and waits for the hello
                process = await warm.launch(argv, cwd=tmp_path, env=ENV)
                await starting
            else:
                launching = asyncio.create_task(warm.launch(argv, cwd=tmp_path, env=ENV))
                await asyncio.sleep(0)  # the launch starts a server itself
                await warm.start()
                process = await launching
            lines = [line.text async for line in process.lines()]
            assert await process.wait() == 0
        assert lines == [str(warm.server_pid)]
        assert [e["event"] for e in logs].count("warm executor started") == 1
    finally:
        await warm.close()


_ON_THE_INHERITED_STACK = """
import json, threading
from flomation.executor.deep_stack import run_with_deep_stack
nested = []
for _ in range(90_000):  # json.dumps of this overflows a main thread's 8 MiB stack
    nested = [nested]
def work():
    return threading.active_count(), threading.get_ident(), len(json.dumps(nested))
threads, ident, size = run_with_deep_stack(work)
print(json.dumps([threads, ident == threading.get_ident(), size]))
"""


async def test_a_forked_execution_runs_the_engine_on_the_inherited_large_stack(
    tmp_path: Path,
) -> None:
    """A child runs run_with_deep_stack's function on its only thread, whose stack is large."""
    async with forked_python(tmp_path, ENV) as forked:
        process = await forked.start(tmp_path, _ON_THE_INHERITED_STACK, ENV)
        lines = [line.text async for line in process.lines()]
        assert await process.wait() == 0, lines
    assert json.loads(lines[0]) == [1, True, 180_002]


def _flow(nodes: list[tuple[str, str, list[dict[str, Any]]]]) -> str:
    """A chain of ``(id, action, inputs)`` nodes, in order."""
    documents = [
        {
            "id": node_id,
            "type": action,
            "data": {"id": node_id, "label": action, "config": {"id": action, "inputs": inputs}},
        }
        for node_id, action, inputs in nodes
    ]
    edges = [
        {"id": f"e{index}", "source": source[0], "target": target[0]}
        for index, (source, target) in enumerate(itertools.pairwise(nodes))
    ]
    return json.dumps({"nodes": documents, "edges": edges})


async def _run_forked(tmp_path: Path, flow: str) -> tuple[list[str], int, dict[str, Any]]:
    """The real executor forked from its fork server: output lines, exit code, state.json.

    The run is cancelled with SIGTERM once its node ``s`` (a sleep) starts, if it has one."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "execution.flow").write_text(flow)
    warm = _warm(tmp_path)
    await warm.start()
    try:
        argv = [str(EXECUTOR), "--output", "json", "--path", "execution.flow", "--id", "e-1"]
        process = await warm.launch(argv, cwd=workdir, env=ENV)
        lines = []
        async for line in process.lines():
            lines.append(line.text)
            if '"msg":"executing node"' in line.text and '"id":"s"' in line.text:
                await asyncio.sleep(0.2)  # let the sleep reach its wait
                os.killpg(process.pgid, signal.SIGTERM)
        code = await process.wait()
        assert warm.server_pid is not None  # forked from the server, not spawned
    finally:
        await warm.close()
    return lines, code, json.loads((workdir / "state.json").read_text())


async def test_a_forked_executor_runs_a_thousand_node_chain(tmp_path: Path) -> None:
    """A 1,000-node chain, which recurses once per node, completes in a forked executor."""
    upper: list[dict[str, Any]] = [{"name": "value", "type": "string", "value": "x"}]
    chain: list[tuple[str, str, list[dict[str, Any]]]] = [("t", "trigger/manual", [])] + [
        (f"n{i}", "string/upper_case", upper) for i in range(1, 1000)
    ]
    _lines, code, state = await _run_forked(tmp_path, _flow(chain))
    assert code == 0 and state["status"] == 0
    assert len(state["node_results"]) == 1000


async def test_sigterm_cancels_a_forked_executor_and_is_logged(tmp_path: Path) -> None:
    """SIGTERM to a forked executor's group during a 60 s sleep cancels the flow (status 2),
    logs the signal once, and the process exits 0 without a traceback."""
    flow = _flow(
        [
            ("t", "trigger/manual", []),
            ("s", "common/sleep", [{"name": "duration", "type": "integer", "value": 60}]),
            ("n", "output/set", [{"name": "name", "type": "string", "value": "after"}]),
        ]
    )
    async with asyncio.timeout(20):
        lines, code, state = await _run_forked(tmp_path, flow)
    assert code == 0
    assert state["status"] == 2
    assert state["node_results"]["n"]["status"] == "cancelled"
    received = [line for line in lines if "Received signal, cancelling execution" in line]
    assert len(received) == 1 and '"signal":"terminated"' in received[0]
    assert not any("Traceback" in line for line in lines)


async def test_a_missing_work_directory_is_a_start_error(tmp_path: Path) -> None:
    """A fork into a work directory that does not exist fails as a spawn does, naming it."""
    async with forked_python(tmp_path, ENV) as forked:
        with pytest.raises(ExecutorStartError, match="work directory"):
            await forked.start(tmp_path / "nowhere", "print('never')", ENV)
        process = await forked.start(tmp_path, "print('still serving')", ENV)
        assert [line.text async for line in process.lines()] == ["still serving"]


async def test_executions_of_a_dead_fork_server_are_ended_and_it_is_restarted(
    tmp_path: Path,
) -> None:
    """When the fork server dies, its running children are killed and the next run restarts it."""
    async with forked_python(tmp_path, ENV) as forked:
        first_server = forked.warm.server_pid
        assert first_server is not None
        process = await forked.start(
            tmp_path, "import time\nprint('up', flush=True)\ntime.sleep(60)", ENV
        )
        lines = process.lines()
        assert (await anext(lines)).text == "up"
        os.kill(first_server, signal.SIGKILL)
        async with asyncio.timeout(10):
            assert await process.wait() == -signal.SIGKILL
            assert [line async for line in lines] == []
        assert process_gone(process.pid)
        again = await forked.start(tmp_path, "print('after')", ENV)
        assert [line.text async for line in again.lines()] == ["after"]
        assert await again.wait() == 0
        assert forked.warm.server_pid not in (None, first_server)


async def test_an_upgrade_on_disk_restarts_the_fork_server(tmp_path: Path) -> None:
    """A watched file replaced on disk makes the next execution fork from a new server."""
    record = tmp_path / "RECORD"
    record.write_text("1.0")
    async with forked_python(tmp_path, ENV, watch=record) as forked:
        old_server = forked.warm.server_pid
        waiting = "import pathlib, time\nwhile not pathlib.Path('go').exists(): time.sleep(0.02)"
        running = await forked.start(tmp_path, waiting + "\nprint('done')", ENV)
        new_record = tmp_path / "RECORD.new"
        new_record.write_text("2.0")
        new_record.replace(record)
        process = await forked.start(tmp_path, "import os\nprint(os.getppid())", ENV)
        new_server = forked.warm.server_pid
        assert [line.text async for line in process.lines()] == [str(new_server)]
        assert new_server not in (None, old_server)
        # The retired server still reports its own child's exit.
        (tmp_path / "go").touch()
        assert [line.text async for line in running.lines()] == ["done"]
        assert await running.wait() == 0


async def test_an_executor_that_is_no_fork_server_is_spawned(tmp_path: Path) -> None:
    """A command that does not answer as a fork server fails to start; executions are spawned."""
    script = tmp_path / "executor"
    script.write_text('#!/bin/sh\necho "spawned $*"\n')
    script.chmod(0o755)
    warm = WarmExecutor(
        [str(script)], env=ENV, cwd=tmp_path, log=structlog.get_logger("test"), start_timeout_s=10
    )
    with pytest.raises(WarmExecutorError, match="did not answer as a fork server"):
        await warm.start()
    process = await warm.launch([str(script), "--id", "x"], cwd=tmp_path, env=ENV)
    assert [line.text async for line in process.lines()] == ["spawned --id x"]
    assert await process.wait() == 0
    await warm.close()


async def test_a_fork_server_outlived_by_its_runner_leaves_executions_to_recovery(
    tmp_path: Path,
) -> None:
    """When the runner dies, the fork server exits and its child runs on, killable by group."""
    # Started from the tests directory, which is then its import root (fixtures.fork_probe).
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _ORPHANING_RUNNER,
        str(tmp_path),
        cwd=Path(__file__).parents[1],
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    async with asyncio.timeout(60):
        line = b""
        while not line.startswith(b"pids "):
            line = await process.stdout.readline()
            assert line, "the runner exited early"
    server_pid, child_pid = map(int, line.split()[1:])
    os.kill(process.pid, signal.SIGKILL)  # the runner crashes
    await process.wait()
    async with asyncio.timeout(10):
        while not process_gone(server_pid):
            await asyncio.sleep(0.05)
    assert not process_gone(child_pid)  # as a spawned executor, it outlives the crashed runner
    assert os.getpgid(child_pid) == child_pid  # and crash recovery kills its group
    os.killpg(child_pid, signal.SIGKILL)
    async with asyncio.timeout(10):
        while not process_gone(child_pid):
            await asyncio.sleep(0.05)


_ORPHANING_RUNNER = """
import asyncio, os, sys
from pathlib import Path
from fixtures.fork_probe import forked_python

async def main():
    cwd = Path(sys.argv[1])
    async with forked_python(cwd, {"PATH": os.environ["PATH"]}) as forked:
        code = "import time\\nprint('up', flush=True)\\ntime.sleep(60)"
        process = await forked.start(cwd, code, {"PATH": os.environ["PATH"]})
        lines = process.lines()
        await anext(lines)
        print("pids", forked.warm.server_pid, process.pid, flush=True)
        await asyncio.sleep(60)

asyncio.run(main())
"""


def _warm(tmp_path: Path) -> WarmExecutor:
    return WarmExecutor([str(EXECUTOR)], env=ENV, cwd=tmp_path, log=structlog.get_logger("test"))
