"""``flomation-runner``: the agent, plus the ``local``, ``dev`` and ``validate`` commands.

The agent itself lives in ``flomation.runner`` and never imports the server; ``local`` and ``dev``
embed the server, so they are dispatched here, before the agent's own argument parsing.
"""

from __future__ import annotations

import sys

__all__ = ["main"]

_COMPOSED_COMMANDS = ("local", "dev")


def main(argv: list[str] | None = None) -> int:
    """Run ``local``/``dev`` from ``flomation.local``, anything else as the runner agent."""
    arguments = sys.argv[1:] if argv is None else argv
    if arguments and arguments[0] == "validate":
        from flomation.commands.validate import main as validate_main

        return validate_main(arguments[1:])
    if arguments and arguments[0] in _COMPOSED_COMMANDS:
        from flomation.local.cli import main as local_main

        return local_main(arguments)
    from flomation.runner.cli import main as runner_main

    return runner_main(arguments)
