"""The suite's root conftest: its presence makes ``tests/`` the import root for shared helpers.

In pytest's default ("prepend") import mode, the directory of a root ``conftest.py`` that is not
inside a package goes on the import path before any test is collected, so every test file imports
the shared helpers as ``fixtures.<module>`` (``tests/fixtures/``) without touching the path itself.
"""

from __future__ import annotations

import sys

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Keep pytest's rewritten test modules in ``tests/**/__pycache__`` even where the
    environment sets ``PYTHONDONTWRITEBYTECODE`` (this machine and the image do): otherwise every
    run, and every pytest-xdist worker, parses and rewrites all test modules again (8.8 s of
    collection's CPU here against 6.3 s, docs/benchmarks.md *Fast test suite*). Only this
    process is affected; the servers, runners and executors the tests start keep the
    environment as it is.
    """
    del config
    sys.dont_write_bytecode = False
