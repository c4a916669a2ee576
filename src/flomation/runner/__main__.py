"""``python -m flomation.runner``: the agent alone (``run``, the default, and ``print-config``).

The ``flomation-runner`` console script adds the commands that embed the server (``local``,
``dev``) and the conventions of a full command line (flomation.commands.runner).
"""

import sys

from flomation.runner.cli import print_config_command, run_command

_arguments = sys.argv[1:]
if _arguments[:1] == ["print-config"]:
    sys.exit(print_config_command(_arguments[1:]))
sys.exit(run_command(_arguments[1:] if _arguments[:1] == ["run"] else _arguments))
