"""Run the executor: ``python3 -m flomation_executor`` == ``flomation-executor``."""

from flomation.executor.cli import main

__all__: list[str] = []

raise SystemExit(main())
