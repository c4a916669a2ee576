"""``python -m flomation.runner`` is ``flomation-runner`` without the local/dev commands."""

import sys

from flomation.runner.cli import main

sys.exit(main())
