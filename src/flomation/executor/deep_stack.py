"""Run the engine on a thread with a large stack: the traversal recurses once per node along a
chain (docs/flows.md §4.6), so a long chain needs more than the default stack and recursion limit.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TypeVar

__all__ = ["run_with_deep_stack"]

_T = TypeVar("_T")
_DEEP_STACK_BYTES = 256 * 1024 * 1024
# About 2 frames per node along a chain; comfortably inside the 256 MiB stack above.
_DEEP_RECURSION_LIMIT = 100_000


def run_with_deep_stack(function: Callable[[], _T]) -> _T:
    """Run ``function`` on a thread with a large stack (long chains recurse deeply).

    The main thread keeps waiting in ``join``, which signal handlers interrupt, so SIGTERM and
    SIGINT are still handled promptly while the engine runs. Where such a thread cannot be
    created (tight address-space limits) the function runs on the calling thread instead.
    """
    results: list[_T] = []
    failures: list[BaseException] = []

    def target() -> None:
        try:
            results.append(function())
        except BaseException as error:
            failures.append(error)

    previous_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(previous_limit, _DEEP_RECURSION_LIMIT))
    try:
        try:
            previous_size = threading.stack_size(_DEEP_STACK_BYTES)
        except (ValueError, RuntimeError):
            previous_size = None
        worker = threading.Thread(target=target, name="flomation-engine")
        try:
            worker.start()
        except RuntimeError:
            target()
        else:
            worker.join()
        finally:
            if previous_size is not None:
                threading.stack_size(previous_size)
    finally:
        sys.setrecursionlimit(previous_limit)
    if failures:
        raise failures[0]
    return results[0]
