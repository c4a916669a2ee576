"""The command-line conventions shared by the three programs (flomation.console)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flomation.console import Command, closest, colour_wanted, completion_script

_COMMANDS = {
    "run": Command("run the agent", ("--api-url", "--once")),
    "completion": Command("print a completion script", (), ("bash", "zsh", "fish")),
}
_TOP = Command("", ("--help", "--version"))


def test_colour_only_on_a_terminal_without_no_color(tmp_path: Path) -> None:
    """Colour needs a terminal, and any non-empty NO_COLOR (or TERM=dumb) turns it off."""
    leader_fd, follower_fd = os.openpty()
    with (
        os.fdopen(leader_fd, "rb", buffering=0),
        os.fdopen(follower_fd, "w") as terminal,
        (tmp_path / "out.txt").open("w") as file,
    ):
        assert colour_wanted(terminal, {})
        assert not colour_wanted(file, {})
        assert not colour_wanted(terminal, {"NO_COLOR": "1"})
        assert colour_wanted(terminal, {"NO_COLOR": ""})
        assert not colour_wanted(terminal, {"TERM": "dumb"})


def test_closest_suggests_near_names_only() -> None:
    """A mistyped name gets the nearest command; something unrelated gets none."""
    assert closest("prnt-config", ["run", "print-config", "dev"]) == "print-config"
    assert closest("zzz", ["run", "print-config", "dev"]) is None


def _complete_in_bash(script: str, *words: str) -> list[str]:
    """COMPREPLY of the generated function for a command line ending in ``words[-1]``."""
    program = textwrap.dedent(
        f"""
        {script}
        COMP_WORDS=(prog {" ".join(f"'{word}'" for word in words)})
        COMP_CWORD={len(words)}
        _prog
        printf '%s\\n' "${{COMPREPLY[@]}}"
        """
    )
    completed = subprocess.run(
        ["bash", "-c", program], capture_output=True, text=True, timeout=30, check=True
    )
    return completed.stdout.split()


def test_bash_completion_offers_commands_options_and_words() -> None:
    """The bash script completes subcommands, each command's options and its argument words."""
    script = completion_script("bash", "prog", _COMMANDS, _TOP)
    assert _complete_in_bash(script, "r") == ["run"]
    assert _complete_in_bash(script, "--v") == ["--version"]
    assert _complete_in_bash(script, "run", "--a") == ["--api-url"]
    assert _complete_in_bash(script, "completion", "f") == ["fish"]


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_name_every_command_and_option(shell: str) -> None:
    """The zsh and fish scripts carry every command, option and argument word of the table."""
    script = completion_script(shell, "prog", _COMMANDS, _TOP)
    for word in ("run", "completion", "api-url", "once", "bash", "zsh", "fish", "version"):
        assert word in script
    assert "compdef _prog prog" in script if shell == "zsh" else "complete -c prog" in script


def test_unknown_shell_is_refused() -> None:
    """Only bash, zsh and fish have scripts."""
    with pytest.raises(ValueError, match="tcsh"):
        completion_script("tcsh", "prog", _COMMANDS, _TOP)


def test_closed_stdout_and_stderr_never_raise() -> None:
    """With both readers gone, prints and flushes succeed and the process exits 0 (no traceback)."""
    program = textwrap.dedent(
        """
        import sys, time
        from flomation.console import survive_closed_output
        survive_closed_output()
        sys.stdout.write("ready\\n")
        sys.stdout.flush()
        time.sleep(0.5)  # the reader closes its end meanwhile
        for _ in range(1000):
            print("x" * 100)
            print("y" * 100, file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        """
    )
    read_end, write_end = os.pipe()
    process = subprocess.Popen([sys.executable, "-c", program], stdout=write_end, stderr=write_end)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        assert reader.readline() == b"ready\n"
    assert process.wait(timeout=30) == 0
