"""Executor process supervision: real subprocesses, real pipes, real signals."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import sys
import tracemalloc
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Protocol, Unpack

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixtures.fork_probe import PipeLimits, forked_python
from fixtures.processes import process_gone
from flomation.runner.process import (
    ExecutorProcess,
    ExecutorStartError,
    OutputLine,
    _LineSplitter,
    kill_group,
)

ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONUNBUFFERED": "1"}


class StartPython(Protocol):
    """Starts ``python -c code`` in ``cwd`` as an executor (the ``start_python`` fixture)."""

    def __call__(
        self, cwd: Path, code: str, **limits: Unpack[PipeLimits]
    ) -> Awaitable[ExecutorProcess]: ...


@pytest.fixture(params=["spawned", "forked"])
async def start_python(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[StartPython]:
    """Starts ``python -c CODE`` executors: spawned, or forked from a warm fork server.

    Every test taking it runs over both launch modes: a forked executor keeps the spawned
    one's contract (runner/warm_executor.py).
    """
    if request.param == "spawned":

        async def spawn(cwd: Path, code: str, **limits: Unpack[PipeLimits]) -> ExecutorProcess:
            return await ExecutorProcess.start(
                [sys.executable, "-c", code], cwd=cwd, env=ENV, **limits
            )

        yield spawn
        return
    async with forked_python(tmp_path, ENV) as forked:

        async def fork(cwd: Path, code: str, **limits: Unpack[PipeLimits]) -> ExecutorProcess:
            return await forked.start(cwd, code, ENV, **limits)

        yield fork


async def start_sh(tmp_path: Path, script: str, **limits: Unpack[PipeLimits]) -> ExecutorProcess:
    return await ExecutorProcess.start(["/bin/sh", "-c", script], cwd=tmp_path, env=ENV, **limits)


async def read_all(process: ExecutorProcess) -> list[OutputLine]:
    return [line async for line in process.lines()]


def texts(lines: list[OutputLine], stream: str = "stdout") -> list[str]:
    return [line.text for line in lines if line.stream == stream]


def reaped(pid: int) -> bool:
    """True when our child ``pid`` has been reaped: no /proc entry and nothing left to wait for."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return not Path(f"/proc/{pid}").exists()
    return False


async def test_stdout_and_stderr_lines_in_arrival_order(
    tmp_path: Path, start_python: StartPython
) -> None:
    """Lines of both streams are yielded with their stream name, in the order they were written."""
    code = (
        "import sys, time\n"
        "for i in range(3):\n"
        "    print(f'out{i}', flush=True); time.sleep(0.05)\n"
        "    print(f'err{i}', file=sys.stderr, flush=True); time.sleep(0.05)\n"
    )
    process = await start_python(tmp_path, code)
    lines = await read_all(process)
    assert [(line.stream, line.text) for line in lines] == [
        ("stdout", "out0"),
        ("stderr", "err0"),
        ("stdout", "out1"),
        ("stderr", "err1"),
        ("stdout", "out2"),
        ("stderr", "err2"),
    ]
    assert await process.wait() == 0


async def test_final_line_without_newline_crlf_and_invalid_utf8(
    tmp_path: Path, start_python: StartPython
) -> None:
    """A trailing \\r is dropped, bad UTF-8 is replaced, and an unterminated last line is kept."""
    code = (
        "import sys\n"
        "sys.stdout.buffer.write(b'one\\r\\n\\xff\\xfeok\\n\\nmid\\rdle\\nlast')\n"
        "sys.stderr.buffer.write(b'e1\\r\\ne2\\r')\n"
    )
    process = await start_python(tmp_path, code)
    lines = await read_all(process)
    assert texts(lines) == ["one", "\ufffd\ufffdok", "", "mid\rdle", "last"]
    assert texts(lines, "stderr") == ["e1", "e2"]
    assert await process.wait() == 0


async def test_multibyte_character_split_across_writes(
    tmp_path: Path, start_python: StartPython
) -> None:
    """A UTF-8 character whose bytes arrive in two pipe reads is decoded intact."""
    code = (
        "import sys, time\n"
        "sys.stdout.buffer.write('caf\\u00e9'.encode()[:-1]); sys.stdout.flush(); time.sleep(0.1)\n"
        "sys.stdout.buffer.write('caf\\u00e9'.encode()[-1:] + b' ok\\n'); sys.stdout.flush()\n"
    )
    process = await start_python(tmp_path, code)
    assert texts(await read_all(process)) == ["caf\u00e9 ok"]
    await process.wait()


async def test_huge_line_is_cut_with_marker_without_buffering_it(
    tmp_path: Path, start_python: StartPython
) -> None:
    """A 64 MiB line becomes its first max_line_bytes plus a marker, with bounded memory."""
    size = 64 * 1024 * 1024
    code = (
        "import sys\n"
        "chunk = b'x' * (1024 * 1024)\n"
        f"for _ in range({size // (1024 * 1024)}): sys.stdout.buffer.write(chunk)\n"
        "sys.stdout.buffer.write(b'\\nafter\\n')\n"
    )
    tracemalloc.start()
    try:
        process = await start_python(tmp_path, code, max_line_bytes=1024 * 1024)
        lines = await read_all(process)
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    marker = f" [flomation-runner: line truncated, {size} bytes total]"
    assert texts(lines) == ["x" * (1024 * 1024) + marker, "after"]
    assert peak_bytes < 16 * 1024 * 1024, f"peak {peak_bytes} bytes while reading a 64 MiB line"
    assert await process.wait() == 0


async def test_long_line_cut_on_a_character_boundary(
    tmp_path: Path, start_python: StartPython
) -> None:
    """The cut never splits a multi-byte character, also for an unterminated last line."""
    code = "import sys\nsys.stdout.write('\\u00e9' * 10 + '\\n' + 'ab' + '\\u20ac' * 5)\n"
    process = await start_python(tmp_path, code, max_line_bytes=5)
    lines = texts(await read_all(process))
    assert lines == [
        "\u00e9\u00e9 [flomation-runner: line truncated, 20 bytes total]",
        "ab\u20ac [flomation-runner: line truncated, 17 bytes total]",
    ]
    await process.wait()


async def test_large_volume_on_both_pipes_does_not_deadlock(
    tmp_path: Path, start_python: StartPython
) -> None:
    """200,000 lines written to stdout and stderr at once are all read, none lost."""
    code = (
        "import sys\n"
        "line = 'y' * 99 + '\\n'\n"
        "for i in range(100000):\n"
        "    sys.stdout.write(line); sys.stderr.write(line)\n"
    )
    process = await start_python(tmp_path, code)
    counts = {"stdout": 0, "stderr": 0}
    async with asyncio.timeout(60):
        async for batch in process.batches():
            assert set(batch.lines) == {"y" * 99}
            counts[batch.stream] += len(batch.lines)
    assert counts == {"stdout": 100000, "stderr": 100000}
    assert await process.wait() == 0


async def test_grandchild_holding_pipes_does_not_hang_reading(tmp_path: Path) -> None:
    """After the executor exits, a grandchild keeping the pipes open is killed and reading ends."""
    process = await start_sh(tmp_path, "sleep 60 & echo $!; echo done", pipe_grace_s=0.3)
    async with asyncio.timeout(5):
        lines = texts(await read_all(process))
        assert await process.wait() == 0
    grandchild_pid = int(lines[0])
    assert lines[1:] == ["done"]
    for _ in range(100):
        if process_gone(grandchild_pid):
            break
        await asyncio.sleep(0.02)
    assert process_gone(grandchild_pid)


async def test_wait_returns_while_a_grandchild_holds_the_pipes(tmp_path: Path) -> None:
    """wait() reports the exit without waiting for the pipes to close."""
    process = await start_sh(tmp_path, "sleep 60 & exit 3", pipe_grace_s=30)
    try:
        async with asyncio.timeout(5):
            assert await process.wait() == 3
    finally:
        kill_group(process.pgid)
        await read_all(process)


async def test_terminate_escalates_to_sigkill_after_grace(
    tmp_path: Path, start_python: StartPython
) -> None:
    """An executor ignoring SIGTERM is SIGKILLed once the grace period is over."""
    code = (
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    process = await start_python(tmp_path, code)
    lines = process.lines()
    async with contextlib.aclosing(lines):
        assert (await anext(lines)).text == "ready"
        async with asyncio.timeout(5):
            await process.terminate(grace_s=0.3)
        assert await process.wait() == -signal.SIGKILL
        assert [line async for line in lines] == []


async def test_terminate_sigterm_reaches_the_whole_group(tmp_path: Path) -> None:
    """SIGTERM goes to every process of the group, so grandchildren stop too."""
    process = await start_sh(tmp_path, "sleep 60 & echo $!; wait")
    lines = process.lines()
    async with contextlib.aclosing(lines):
        grandchild_pid = int((await anext(lines)).text)
        async with asyncio.timeout(5):
            await process.terminate(grace_s=3)
        assert await process.wait() == -signal.SIGTERM
    for _ in range(100):
        if process_gone(grandchild_pid):
            break
        await asyncio.sleep(0.02)
    assert process_gone(grandchild_pid)


async def test_terminate_sends_sigterm_to_a_grandchild_that_handles_it(
    tmp_path: Path, start_python: StartPython
) -> None:
    """A grandchild receives SIGTERM itself (killpg), not only the SIGKILL after the grace."""
    grandchild = (
        "import pathlib, signal, sys, time\n"
        "def record(signum, frame):\n"
        "    pathlib.Path('grandchild-signal').write_text(signal.Signals(signum).name)\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, record)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    leader = (
        f"import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', {grandchild!r}]).wait()\n"
    )
    process = await start_python(tmp_path, leader)
    lines = process.lines()
    async with contextlib.aclosing(lines):
        assert (await anext(lines)).text == "ready"
        async with asyncio.timeout(10):
            await process.terminate(grace_s=5)
        assert await process.wait() == -signal.SIGTERM
    # The leader alone getting SIGTERM would leave the grandchild to the SIGKILL after the
    # grace, which it cannot handle: the file would never be written.
    assert (tmp_path / "grandchild-signal").read_text() == "SIGTERM"


async def test_terminate_is_idempotent_and_safe_after_exit(tmp_path: Path) -> None:
    """terminate() after the exit, twice, neither fails nor changes the exit code."""
    process = await start_sh(tmp_path, "exit 7")
    assert await read_all(process) == []
    assert await process.wait() == 7
    await process.terminate(grace_s=0.1)
    await process.terminate(grace_s=0.1)
    assert await process.wait() == 7


async def test_no_zombie_left_after_wait(tmp_path: Path) -> None:
    """Once wait() returned, the child has been reaped: no zombie remains."""
    process = await start_sh(tmp_path, "echo hi")
    await read_all(process)
    await process.wait()
    assert reaped(process.pid)


async def test_start_errors_name_the_program_and_cause(tmp_path: Path) -> None:
    """Missing program, non-executable file and missing work directory raise ExecutorStartError."""
    not_executable = tmp_path / "executor"
    not_executable.write_text("#!/bin/sh\n")
    not_executable.chmod(0o644)
    cases = [
        ([str(tmp_path / "missing")], tmp_path, "program not found"),
        ([str(not_executable)], tmp_path, "not executable"),
        (["/bin/sh"], tmp_path / "nowhere", "work directory"),
    ]
    for argv, cwd, cause in cases:
        with pytest.raises(ExecutorStartError) as raised:
            await ExecutorProcess.start(argv, cwd=cwd, env=ENV)
        assert argv[0] in str(raised.value)
        assert cause in str(raised.value)


async def test_environment_and_work_directory_are_exactly_the_given_ones(tmp_path: Path) -> None:
    """The executor sees only the given environment, runs in cwd, and reads EOF from stdin."""
    process = await ExecutorProcess.start(
        ["/bin/sh", "-c", 'echo "$ONLY:${HOME:-unset}"; pwd; cat; echo end'],
        cwd=tmp_path,
        env={"ONLY": "yes", "PATH": ENV["PATH"]},
    )
    assert texts(await read_all(process)) == ["yes:unset", str(tmp_path), "end"]
    await process.wait()


async def test_output_can_be_read_only_once(tmp_path: Path) -> None:
    """A second reader is refused instead of silently missing lines."""
    process = await start_sh(tmp_path, "echo a")
    await read_all(process)
    with pytest.raises(RuntimeError):
        await read_all(process)
    await process.wait()


async def test_kill_group_refuses_own_and_special_groups() -> None:
    """kill_group never signals group 0, 1 or the caller's own group, and reports a gone group."""
    assert kill_group(0) is False
    assert kill_group(1) is False
    assert kill_group(os.getpgrp()) is False
    assert kill_group(2**22 + 12345) is False


def reference_lines(data: bytes, max_bytes: int) -> list[str]:
    """Straightforward model of the splitting rules, used to check the optimised splitter."""
    parts = data.split(b"\n")
    if parts[-1] == b"":
        parts.pop()
    lines = []
    for raw in parts:
        if len(raw) > max_bytes:
            end = max_bytes
            while end > 0 and max_bytes - end < 4 and (raw[end] & 0xC0) == 0x80:
                end -= 1
            head = raw[:end].decode("utf-8", "replace")
            lines.append(f"{head} [flomation-runner: line truncated, {len(raw)} bytes total]")
        else:
            text = raw.decode("utf-8", "replace")
            lines.append(text[:-1] if text.endswith("\r") else text)
    return lines


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(
        st.sampled_from([b"a", b"\n", b"\r", b"\xc3\xa9", b"\xe2\x82\xac", b"\xff", b"xyz"]),
        max_size=60,
    ).map(b"".join),
    cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=8),
    max_bytes=st.integers(min_value=1, max_value=12),
)
def test_splitter_matches_reference_for_any_chunking(
    data: bytes, cuts: list[int], max_bytes: int
) -> None:
    """However the pipe chunks the bytes, the (private) splitter yields the reference lines."""
    splitter = _LineSplitter(max_bytes)
    out: list[str] = []
    bounds = sorted({0, len(data), *(cut for cut in cuts if cut < len(data))})
    for start, end in itertools.pairwise(bounds):
        splitter.feed(data[start:end], out)
    splitter.finish(out)
    assert out == reference_lines(data, max_bytes)


def test_supervision_also_works_on_uvloop(tmp_path: Path) -> None:
    """On uvloop (whose transports are not asyncio classes) reading, grace and kill still work."""
    uvloop = pytest.importorskip("uvloop")

    async def scenario() -> None:
        process = await start_sh(tmp_path, "sleep 60 & echo $!; echo done", pipe_grace_s=0.3)
        async with asyncio.timeout(5):
            lines = texts(await read_all(process))
            assert await process.wait() == 0
        assert lines[1:] == ["done"]
        code = (
            "import signal, time\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "print('ready', flush=True)\n"
            "time.sleep(60)\n"
        )
        process = await ExecutorProcess.start([sys.executable, "-c", code], cwd=tmp_path, env=ENV)
        output = process.lines()
        async with contextlib.aclosing(output), asyncio.timeout(5):
            assert (await anext(output)).text == "ready"
            await process.terminate(grace_s=0.2)
            assert [line async for line in output] == []
        assert await process.wait() == -signal.SIGKILL

    uvloop.run(scenario())


def _processes_with_argument(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if marker.encode() in (entry / "cmdline").read_bytes().split(b"\0"):
                found.append(int(entry.name))
    return found


async def test_start_cancelled_while_spawning_leaves_no_process(tmp_path: Path) -> None:
    """Cancelling start() while the child is being spawned kills the child once it exists."""
    marker = f"flomation-cancelled-start-{os.getpid()}"
    argv = [sys.executable, "-c", "import time; time.sleep(30)", marker]
    start = asyncio.create_task(ExecutorProcess.start(argv, cwd=tmp_path, env=dict(os.environ)))
    await asyncio.sleep(0)  # the spawn is under way in a worker thread
    start.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await start
    async with asyncio.timeout(5):
        while _processes_with_argument(marker):
            await asyncio.sleep(0.05)
