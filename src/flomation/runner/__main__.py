"""``python -m flomation.runner``: the agent alone (``run``, the default, and ``print-config``).

The ``flomation-runner`` console script adds the commands that embed the server (``local``,
``dev``) and the conventions of a full command line (flomation.commands.runner).
"""

import sys

from flomation.runner import import_structlog_without_rich


def _main(arguments: list[str]) -> int:
    import_structlog_without_rich()
    from flomation.runner.cli import print_config_command, run_command

    if arguments[:1] == ["print-config"]:
        return print_config_command(arguments[1:])
    return run_command(arguments[1:] if arguments[:1] == ["run"] else arguments)


sys.exit(_main(sys.argv[1:]))
