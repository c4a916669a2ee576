"""The installed distribution's version, shared by the three programs.

Read straight from the ``.dist-info/METADATA`` file that ``importlib.metadata`` would read:
importing that module costs about 70 ms, half the executor's start-up budget
(docs/benchmarks.md, *Executor*). Only the standard library is imported here.
"""

from __future__ import annotations

import functools
import os
import sys

__all__ = ["distribution_version"]

_DISTRIBUTION = "flomation_runner"
_DEVELOPMENT_VERSION = "0.0.pkg"


@functools.cache
def distribution_version() -> str:
    """The version in the distribution's METADATA; ``0.0.pkg`` when it is not installed.

    Read once per process (the runner asks at every registration attempt and for its User-Agent).
    """
    prefix = _DISTRIBUTION + "-"
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")  # noqa: PTH208 - pathlib is slower to import
        except OSError:
            continue
        for name in names:
            if not (name.startswith(prefix) and name.endswith(".dist-info")):
                continue
            metadata_path = os.path.join(entry, name, "METADATA")  # noqa: PTH118
            try:
                with open(metadata_path, encoding="utf-8") as metadata:
                    for line in metadata:
                        if line.startswith("Version:"):
                            return line.split(":", 1)[1].strip()
                        if not line.strip():
                            break
            except OSError:
                continue
    return _DEVELOPMENT_VERSION
