"""Conventions every command line of the project follows (all three programs use this module).

- ``--version`` prints ``NAME VERSION`` and a newline (:func:`version_line`).
- A usage mistake (unknown command or option, bad value) is one short line naming it, a hint,
  and exit code 2 (:class:`ArgumentParser`, :func:`usage_error`); never the whole usage text.
- Colour only on a terminal, and never when ``NO_COLOR`` is set (:func:`colour_wanted`,
  https://no-color.org).
- A closed stdout or stderr (a supervisor's log pipe gone) never breaks a program: the first
  failed write points the descriptor at ``/dev/null`` and later writes vanish
  (:func:`survive_closed_output`). Shutdown paths log, and must not depend on a reader.
- Shell completion for bash, zsh and fish, printed by ``PROGRAM completion SHELL``
  (:func:`print_completion`, :func:`completion_script`), generated from the same tables the
  parsers use.

Only the standard library: the executor imports this on its start-up path.
"""

from __future__ import annotations

import argparse
import errno
import io
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import IO, Any, NoReturn, TextIO

from flomation.version import distribution_version

__all__ = [
    "EXIT_USAGE",
    "SHELLS",
    "ArgumentParser",
    "Command",
    "closest",
    "colour_wanted",
    "completion_script",
    "option_strings",
    "print_completion",
    "survive_closed_output",
    "usage_error",
    "version_line",
]

EXIT_USAGE = 2
SHELLS = ("bash", "zsh", "fish")


def version_line(program: str) -> str:
    """``NAME VERSION`` and a newline, what ``--version`` prints on stdout."""
    return f"{program} {distribution_version()}\n"


def colour_wanted(stream: IO[Any], environ: Mapping[str, str] | None = None) -> bool:
    """Colour codes only on a terminal, and never when ``NO_COLOR`` is set to anything."""
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR", "") != "" or env.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def closest(word: str, choices: Sequence[str]) -> str | None:
    """The choice a mistyped ``word`` most likely meant, if any is close enough."""
    import difflib  # only on a mistake: every program starts without it (docs/benchmarks.md)

    matches = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return matches[0] if matches else None


def usage_error(program: str, message: str, hint: str) -> int:
    """Print ``PROGRAM: MESSAGE`` and a hint on stderr; the usage exit code (2)."""
    print(f"{program}: {message}\n{hint}", file=sys.stderr)
    return EXIT_USAGE


class ArgumentParser(argparse.ArgumentParser):
    """argparse with short usage errors: one line, a "did you mean" when close, a hint, exit 2."""

    def error(self, message: str) -> NoReturn:
        """Replace argparse's full usage dump with the message and a pointer to ``--help``."""
        if message.startswith("unrecognized arguments: "):
            unknown = message.removeprefix("unrecognized arguments: ").split()
            known = [option for option in option_strings(self) if option.startswith("--")]
            guess = closest(unknown[0].split("=", 1)[0], known) if unknown else None
            if guess:
                message += f" (did you mean {guess}?)"
        usage_error(self.prog, message, f"Run '{self.prog} --help' for the options.")
        raise SystemExit(EXIT_USAGE)


def option_strings(parser: argparse.ArgumentParser) -> list[str]:
    """Every option string a parser accepts (``--help`` included), in definition order."""
    return [option for action in parser._actions for option in action.option_strings]


class Command:
    """What completion offers for one command: its options, and the words its arguments take.

    ``arguments`` empty means file names.
    """

    def __init__(self, summary: str, options: Sequence[str] = (), arguments: Sequence[str] = ()):
        self.summary = summary
        self.options = tuple(options)
        self.arguments = tuple(arguments)


def completion_script(
    shell: str, program: str, commands: Mapping[str, Command], top: Command
) -> str:
    """A completion script for ``program``: ``commands`` are subcommands, ``top`` its own options.

    Raises ValueError for a shell other than bash, zsh or fish.
    """
    if shell == "bash":
        return _bash(program, commands, top)
    if shell == "zsh":
        return _zsh(program, commands, top)
    if shell == "fish":
        return _fish(program, commands, top)
    raise ValueError(f"unknown shell {shell!r} (choose bash, zsh or fish)")


def print_completion(
    argv: Sequence[str],
    program: str,
    words: Callable[[], tuple[Mapping[str, Command], Command]],
) -> int:
    """``PROGRAM completion SHELL``: print the completion script for the shell ``argv`` names,
    from ``words()`` (the subcommands and the program's own options, built only then); a usage
    error unless ``argv`` is one of bash, zsh or fish."""
    if len(argv) != 1 or argv[0] not in SHELLS:
        return usage_error(
            f"{program} completion",
            "name one shell: bash, zsh or fish",
            f"Example: source <({program} completion bash)",
        )
    commands, top = words()
    sys.stdout.write(completion_script(argv[0], program, commands, top))
    return 0


def _function_name(program: str) -> str:
    return "_" + program.replace("-", "_")


def _bash_words(command: Command) -> str:
    """The bash snippet completing one command's words after the first."""
    options = " ".join(command.options)
    if command.arguments:
        return f'words="{options} {" ".join(command.arguments)}"'
    return f'words="{options}"; files=1'


def _bash(program: str, commands: Mapping[str, Command], top: Command) -> str:
    name = _function_name(program)
    cases = "".join(
        f"    {word}) {_bash_words(command)} ;;\n" for word, command in commands.items()
    )
    return (
        f"# bash completion for {program}: source <({program} completion bash)\n"
        f"{name}() {{\n"
        '  local current="${COMP_WORDS[COMP_CWORD]}" words="" files=0\n'
        '  if [ "$COMP_CWORD" -eq 1 ]; then\n'
        f'    words="{" ".join([*commands, *top.options])}"; files={0 if commands else 1}\n'
        "  else\n"
        '    case "${COMP_WORDS[1]}" in\n'
        f"{cases}"
        f"    *) {_bash_words(top)} ;;\n"
        "    esac\n"
        "  fi\n"
        '  if [[ "$current" != -* && "$files" = 1 ]]; then\n'
        '    COMPREPLY=($(compgen -f -- "$current"))\n'
        "  else\n"
        '    COMPREPLY=($(compgen -W "$words" -- "$current"))\n'
        "  fi\n"
        "}\n"
        f"complete -o default -F {name} {program}\n"
    )


def _zsh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _zsh_words(command: Command) -> str:
    options = " ".join(_zsh_quote(option) for option in command.options)
    arguments = " ".join(_zsh_quote(word) for word in command.arguments)
    return f"options=({options}); arguments=({arguments})"


def _zsh(program: str, commands: Mapping[str, Command], top: Command) -> str:
    name = _function_name(program)
    described = " ".join(
        _zsh_quote(f"{word}:{command.summary.replace(':', ' ')}")
        for word, command in commands.items()
    )
    cases = "".join(f"    {word}) {_zsh_words(command)} ;;\n" for word, command in commands.items())
    first = (
        "  if (( CURRENT == 2 )); then\n"
        f"    compadd -- {' '.join(_zsh_quote(option) for option in top.options)}\n"
        "    _describe command commands\n"
        "    return\n"
        "  fi\n"
        if commands
        else ""
    )
    return (
        f"#compdef {program}\n"
        f"# zsh completion for {program}: {program} completion zsh > ~/.zfunc/_{program}\n"
        f"{name}() {{\n"
        "  local -a commands options arguments\n"
        f"  commands=({described})\n"
        f"{first}"
        "  case $words[2] in\n"
        f"{cases}"
        f"    *) {_zsh_words(top)} ;;\n"
        "  esac\n"
        "  if [[ $PREFIX == -* ]]; then\n"
        '    compadd -- "${options[@]}"\n'
        "  elif (( ${#arguments} )); then\n"
        '    compadd -- "${arguments[@]}"\n'
        "  else\n"
        "    _files\n"
        "  fi\n"
        "}\n"
        f'if [ "$funcstack[1]" = "{name}" ]; then {name} "$@"; else compdef {name} {program}; fi\n'
    )


def _fish_option(option: str) -> str:
    if option.startswith("--"):
        return f"-l {option[2:]}"
    return f"-o {option[1:]}" if len(option) > 2 else f"-s {option[1:]}"


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish(program: str, commands: Mapping[str, Command], top: Command) -> str:
    words = " ".join(commands)
    lines = [f"# fish completion for {program}: {program} completion fish | source"]
    for word, command in commands.items():
        lines.append(
            f"complete -c {program} -f -n {_fish_quote(f'not __fish_seen_subcommand_from {words}')}"
            f" -a {word} -d {_fish_quote(command.summary)}"
        )
        seen = _fish_quote(f"__fish_seen_subcommand_from {word}")
        for option in command.options:
            lines.append(f"complete -c {program} -n {seen} {_fish_option(option)}")
        if command.arguments:
            lines.append(
                f"complete -c {program} -f -n {seen} -a {_fish_quote(' '.join(command.arguments))}"
            )
    condition = f" -n {_fish_quote(f'not __fish_seen_subcommand_from {words}')}" if commands else ""
    for option in top.options:
        lines.append(f"complete -c {program}{condition} {_fish_option(option)}")
    return "\n".join(lines) + "\n"


class _SurvivingStream(io.TextIOBase):
    """A text stream whose first failed write (EPIPE, EBADF, EIO) points its fd at /dev/null."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self._stream = stream

    def _silence(self) -> None:
        try:
            fd = self._stream.fileno()
            devnull = os.open(os.devnull, os.O_WRONLY)
        except (OSError, ValueError):
            return
        os.dup2(devnull, fd)
        os.close(devnull)

    def write(self, text: str) -> int:
        """Write through; a broken pipe silences the stream instead of raising."""
        try:
            return self._stream.write(text)
        except OSError as error:
            if error.errno not in (errno.EPIPE, errno.EBADF, errno.EIO):
                raise
            self._silence()
            return len(text)

    def flush(self) -> None:
        """Flush through; a broken pipe silences the stream instead of raising."""
        try:
            self._stream.flush()
        except OSError as error:
            if error.errno not in (errno.EPIPE, errno.EBADF, errno.EIO):
                raise
            self._silence()
            try:
                self._stream.flush()  # the buffered text now goes to /dev/null
            except OSError:
                pass

    def isatty(self) -> bool:
        """Whether the underlying stream is a terminal."""
        return self._stream.isatty()

    def fileno(self) -> int:
        """The underlying file descriptor."""
        return self._stream.fileno()

    def writable(self) -> bool:
        """Always: writes never fail."""
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        """The underlying stream's encoding."""
        return self._stream.encoding


def survive_closed_output() -> None:
    """Make ``sys.stdout`` and ``sys.stderr`` tolerate a reader that has gone (call at start-up).

    Call it before logging is configured, so loggers write through the tolerant streams.
    """
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, _SurvivingStream):
            setattr(sys, name, _SurvivingStream(stream))
