"""Executor tests: a package, so basenames like test_cli do not clash with tests/runner."""
