"""``flomation-runner validate FLOW_FILE...``: check flow files before running them.

One line per problem, ``FILE[:LINE:COL]: error|warning: [node 'ID': ]PROBLEM``. Exit 0 when no
file has an error, 2 when one has (or cannot be read); warnings (references that read as empty)
exit 0, or 1 with ``--strict``. The rules are those of docs/flows.md.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from flomation.console import ArgumentParser
from flomation.executor.validation import Problem, format_problem, validate_flow

__all__ = ["EXIT_INVALID", "EXIT_VALID", "EXIT_WARNINGS", "main", "parser", "validate_file"]

EXIT_VALID, EXIT_WARNINGS, EXIT_INVALID = 0, 1, 2


def validate_file(path: Path, trigger_data_keys: Sequence[str] | None = None) -> list[Problem]:
    """The problems of one flow file (an unreadable file is one error)."""
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return [Problem("error", "no such flow file")]
    except OSError as exc:
        return [Problem("error", f"cannot read the flow file: {exc.strerror or exc}")]
    return validate_flow(text, trigger_data_keys=trigger_data_keys)


def parser() -> argparse.ArgumentParser:
    """The options of ``flomation-runner validate`` (also the source of its shell completion)."""
    parser = ArgumentParser(
        prog="flomation-runner validate",
        description="Check flow files against the node types this executor runs.",
    )
    parser.add_argument("flow_files", nargs="+", type=Path, metavar="FLOW_FILE")
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when there are warnings (and no errors)"
    )
    return parser


def main(argv: Sequence[str]) -> int:
    """Entry point: ``argv`` starts after ``validate``."""
    args = parser().parse_args(argv)
    errors = warnings = 0
    for path in args.flow_files:
        for problem in validate_file(path):
            print(format_problem(str(path), problem))
            if problem.severity == "error":
                errors += 1
            else:
                warnings += 1
    if errors:
        return EXIT_INVALID
    return EXIT_WARNINGS if warnings and args.strict else EXIT_VALID
