"""Run the engine on a thread with a large stack: the traversal recurses once per node along a
chain (docs/flows.md §4.6), so a long chain needs more than the default stack and recursion limit.

A warm executor (executor/forkserver.py) serves on such a thread from the start: each execution
is forked from it, and in the child that thread, stack included, is the only one, so the engine
runs on it directly instead of starting a thread of its own (a thread start and join per
execution, ~0.7 ms of CPU in a forked child: docs/benchmarks.md, warm executor).
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

__all__ = ["run_with_deep_stack", "serve_on_deep_stack"]

_T = TypeVar("_T")
_DEEP_STACK_BYTES = 256 * 1024 * 1024
# About 2 frames per node along a chain; comfortably inside the 256 MiB stack above.
_DEEP_RECURSION_LIMIT = 100_000


class _ThreadMark(threading.local):
    """Per thread: whether it was started with the large stack (a forked child keeps it)."""

    deep = False


_mark = _ThreadMark()


def run_with_deep_stack(function: Callable[[], _T]) -> _T:
    """Run ``function`` on a thread with a large stack (long chains recurse deeply).

    On a thread that has one already (:func:`serve_on_deep_stack`) it runs right there.
    Otherwise the main thread keeps waiting in ``join``, which signal handlers interrupt, so
    SIGTERM and SIGINT are still handled promptly while the engine runs. Where such a thread
    cannot be created (tight address-space limits) the function runs on the calling thread.
    """
    with _deep_recursion_limit():
        if _mark.deep:
            return function()
        return _on_new_thread(function, mark=False)


def serve_on_deep_stack(function: Callable[[], _T]) -> _T:
    """Run ``function`` (a fork server's loop) on a large-stack thread marked as such.

    A process forked from that thread continues on it as its main thread (Python makes the
    forking thread the child's main thread, signal handling included), so
    :func:`run_with_deep_stack` in the child needs no thread of its own.
    """
    with _deep_recursion_limit():
        return _on_new_thread(function, mark=True)


@contextlib.contextmanager
def _deep_recursion_limit() -> Iterator[None]:
    previous_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(previous_limit, _DEEP_RECURSION_LIMIT))
    try:
        yield
    finally:
        sys.setrecursionlimit(previous_limit)


def _on_new_thread(function: Callable[[], _T], *, mark: bool) -> _T:
    """``function`` on a new large-stack thread (marked if ``mark``), else on this thread."""
    results: list[_T] = []
    failures: list[BaseException] = []

    def target(large_stack: bool) -> None:
        _mark.deep = mark and large_stack
        try:
            results.append(function())
        except BaseException as error:
            failures.append(error)

    try:
        previous_size = threading.stack_size(_DEEP_STACK_BYTES)
    except (ValueError, RuntimeError):
        previous_size = None
    large_stack = previous_size is not None
    worker = threading.Thread(target=target, args=(large_stack,), name="flomation-engine")
    try:
        worker.start()
    except RuntimeError:
        target(False)
    else:
        worker.join()
    finally:
        if previous_size is not None:
            threading.stack_size(previous_size)
    if failures:
        raise failures[0]
    return results[0]
