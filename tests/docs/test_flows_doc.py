"""Every command and snippet in docs/flows.md "Writing flows" is run or checked against examples/.

Commands (```console blocks, ``$ flomation-runner ...``) run for real and their stdout JSON must
equal what the document shows (``[exit N]`` gives a non-zero exit status). Node and edge snippets
(```json blocks) must be part of a node or edge of an example flow. URLs on 127.0.0.1:8000 are
served by a real local HTTP server started by the test.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fixtures.http_peer import http_peer

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DOC = ROOT / "docs" / "flows.md"
_BLOCK = re.compile(r"```(console|json)\n(.*?)```", re.DOTALL)
_DOC_SERVER = "127.0.0.1:8000"


def _guide() -> str:
    text = DOC.read_text(encoding="utf-8")
    return text[text.index("## Writing flows") : text.index("## Executor semantics")]


@dataclass(frozen=True)
class _Command:
    argv: list[str]
    stdout: str
    exit_status: int


def _commands() -> list[_Command]:
    commands: list[_Command] = []
    for kind, body in _BLOCK.findall(_guide()):
        if kind != "console":
            continue
        for chunk in re.split(r"^\$ ", body, flags=re.MULTILINE)[1:]:
            command, _, output = chunk.partition("\n")
            status = re.search(r"^\[exit (\d+)\]$", output, re.MULTILINE)
            output = re.sub(r"^\[exit \d+\]\n?", "", output, flags=re.MULTILINE)
            commands.append(_Command(shlex.split(command), output, int(status[1]) if status else 0))
    return commands


def _snippets() -> list[Any]:
    return [json.loads(body) for kind, body in _BLOCK.findall(_guide()) if kind == "json"]


def _part_of(snippet: Any, actual: Any) -> bool:
    if isinstance(snippet, dict):
        return isinstance(actual, dict) and all(
            key in actual and _part_of(value, actual[key]) for key, value in snippet.items()
        )
    if isinstance(snippet, list):
        return (
            isinstance(actual, list)
            and len(snippet) == len(actual)
            and all(_part_of(a, b) for a, b in zip(snippet, actual, strict=True))
        )
    return bool(snippet == actual)


@pytest.fixture(scope="module")
def item_server() -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 answering every GET with its path as JSON."""
    with http_peer(
        lambda request: (
            200,
            {"Content-Type": "application/json"},
            json.dumps({"path": request.path}).encode(),
        )
    ) as peer:
        yield f"127.0.0.1:{peer.port}"


def test_the_guide_has_commands_and_snippets() -> None:
    """The guide shows commands for the examples and node snippets (the parsing finds them)."""
    assert len(_commands()) >= 10
    assert len(_snippets()) >= 8


@pytest.mark.parametrize("command", _commands(), ids=lambda command: " ".join(command.argv[1:3]))
def test_every_command_in_the_guide_prints_what_it_shows(
    command: _Command, item_server: str
) -> None:
    """Each documented command exits as shown and prints the documented JSON on stdout."""
    assert command.argv[0] == "flomation-runner"
    argv = [str(BIN / "flomation-runner")]
    argv += [argument.replace(_DOC_SERVER, item_server) for argument in command.argv[1:]]
    result = subprocess.run(
        argv, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == command.exit_status, result.stderr
    if command.stdout.strip():
        assert json.loads(result.stdout) == json.loads(command.stdout), result.stderr
    else:
        assert result.stdout == ""


def test_every_snippet_is_part_of_an_example() -> None:
    """Each JSON snippet is (part of) a node or an edge of one of the example flows."""
    parts = []
    for example in (ROOT / "examples").glob("*.flow.json"):
        document = json.loads(example.read_text(encoding="utf-8"))
        parts += document["nodes"] + document["edges"]
    for snippet in _snippets():
        assert any(_part_of(snippet, part) for part in parts), snippet


def test_every_example_is_shown_in_the_guide() -> None:
    """Each example flow is named in the guide, so a reader finds every construct's example."""
    guide = _guide()
    for example in sorted((ROOT / "examples").glob("*.flow.json")):
        if example.name == "failing.flow.json":
            continue  # the failure report of `local`, tested in tests/local
        assert f"examples/{example.name}" in guide, example.name


def test_headings_the_code_cites_exist() -> None:
    """Every `docs/flows.md 'Heading'` the code cites is a heading of docs/flows.md."""
    headings = {
        line.lstrip("#").strip()
        for line in DOC.read_text(encoding="utf-8").splitlines()
        if line.startswith("#")
    }
    cited: set[str] = set()
    for source in (ROOT / "src").rglob("*.py"):
        cited |= set(re.findall(r"docs/flows\.md[ ,]+[\"'](.+?)[\"']", source.read_text()))
    assert cited, "no citations found"
    assert cited <= headings, cited - headings
