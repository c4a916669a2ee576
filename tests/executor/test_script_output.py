"""Script nodes forward what they print as 'script output' log lines as it is printed.

The executor runs as a real subprocess, as the runner starts it (docs/flows.md "Scripts"); the
runner ships every stderr line to the live log, so these lines are what a viewer sees while a
long script runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from executor.engine_harness import edge, flow_document, node, value

TRIGGER = node("t", "trigger/manual", 1)


def _start(tmp_path: Path, script: dict[str, Any]) -> subprocess.Popen[str]:
    (tmp_path / "execution.flow").write_text(
        flow_document([TRIGGER, script], [edge("t", script["id"])]), encoding="utf-8"
    )
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flomation_executor",
            "--output",
            "json",
            "--path",
            "execution.flow",
        ],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _script_lines(stderr: str) -> list[tuple[str, str, str]]:
    found = []
    for line in stderr.splitlines():
        record = json.loads(line)
        if record["msg"] == "script output":
            found.append((record["id"], record["stream"], record["line"]))
    return found


def test_bash_line_is_logged_while_the_script_still_runs(tmp_path: Path) -> None:
    """The first echo of a Bash script reaches stderr before the script (and node) ends."""
    release = tmp_path / "release"
    script = node(
        "sh",
        "script/bash",
        2,
        [
            value(
                "script",
                f"echo first; while [ ! -e {release} ]; do sleep 0.05; done; echo second >&2",
                "text",
            )
        ],
    )
    process = _start(tmp_path, script)
    assert process.stderr is not None
    seen = threading.Event()
    lines: list[str] = []

    def read() -> None:
        for line in process.stderr or ():
            lines.append(line)
            if '"line":"first"' in line:
                seen.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert seen.wait(30), "".join(lines)
        assert process.poll() is None  # still running: the line came while the script ran
        release.write_text("", encoding="utf-8")
        assert process.stdout is not None
        stdout = process.stdout.read()  # the reader thread keeps stderr to itself
        process.wait(30)
        reader.join(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert _script_lines("".join(lines)) == [("sh", "stdout", "first"), ("sh", "stderr", "second")]
    assert '"id":"sh","action":"script/bash","label":"script/bash","status":"success"' in stdout


def test_python_prints_are_logged_one_line_each(tmp_path: Path) -> None:
    """Each print of a Python script is one log line, in order, also when the last has no
    newline; the node's logs output still holds them."""
    code = "import sys\nprint('a')\nprint('b', file=sys.stderr)\nsys.stdout.write('c')"
    script = node("py", "script/python", 2, [value("code", code, "code")])
    process = _start(tmp_path, script)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert sorted(_script_lines(stderr)) == [
        ("py", "stderr", "b"),
        ("py", "stdout", "a"),
        ("py", "stdout", "c"),
    ]
    assert '"status":"success"' in stdout
