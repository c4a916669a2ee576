"""The black-box conformance suite (shared cases and this project's own) against our executor."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

_REPOSITORY = Path(__file__).resolve().parents[2]
_OWN_CASES = _REPOSITORY / "tests" / "conformance" / "executor"
_SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed$", re.MULTILINE)


def _shared_conformance() -> Path | None:
    """``shared/conformance`` beside the repository (or any of its parents)."""
    for parent in _REPOSITORY.parents:
        candidate = parent / "shared" / "conformance"
        if (candidate / "run.py").is_file():
            return candidate
    return None


_SHARED = _shared_conformance()
pytestmark = pytest.mark.skipif(
    _SHARED is None, reason="shared/conformance/run.py not found beside the repository"
)


def _run_suite(*options: str) -> tuple[int, int, str]:
    assert _SHARED is not None
    completed = subprocess.run(
        [
            sys.executable,
            str(_SHARED / "run.py"),
            "-v",
            *options,
            "--",
            sys.executable,
            "-m",
            "flomation_executor",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    summary = _SUMMARY.search(completed.stdout)
    assert summary is not None, completed.stdout + completed.stderr
    assert completed.returncode == 0, completed.stdout
    return int(summary.group(1)), int(summary.group(2)), completed.stdout


def test_shared_cases_all_pass() -> None:
    """Every shared executor case passes (47 at the time of writing)."""
    assert _SHARED is not None
    expected = sum(
        1 for case in (_SHARED / "executor").iterdir() if (case / "expected.json").exists()
    )
    passed, failed, output = _run_suite()
    assert (passed, failed) == (expected, 0), output
    assert passed >= 47


def test_project_cases_all_pass() -> None:
    """This project's own cases (loops, sub-flows, wait, masking, truncation, …) pass."""
    expected = sum(1 for case in _OWN_CASES.iterdir() if (case / "expected.json").exists())
    passed, failed, output = _run_suite("--cases", str(_OWN_CASES))
    assert (passed, failed) == (expected, 0), output
