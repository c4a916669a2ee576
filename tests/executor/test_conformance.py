"""The executor conformance cases of ``tests/conformance/executor`` against our executor program."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from executor.conformance import case_dirs, observe, problems

_EXECUTOR = (sys.executable, "-m", "flomation_executor")


def test_the_repository_holds_the_cases() -> None:
    """The cases live in the repository: upstream-derived ones (NN-…) and the project's (pNN-…)."""
    names = [case.name for case in case_dirs()]
    assert sum(name[:2].isdigit() for name in names) >= 47
    assert sum(name.startswith("p") for name in names) >= 10


@pytest.mark.parametrize("case", case_dirs(), ids=lambda case: case.name)
def test_case_passes(case: Path, tmp_path: Path) -> None:
    """The executor's events, state.json and exit code match the case's expected.json."""
    seen = observe(case, _EXECUTOR, tmp_path, timeout_s=60)
    found = problems(case, seen)
    assert not found, "\n".join([*found, "stderr tail:", *seen.stderr.splitlines()[-5:]])
