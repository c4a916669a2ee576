"""`string/trim` (docs/flows.md §10.5): one row of the trim table in ``_variants.py``."""

from __future__ import annotations

from flomation.executor.actions.string._variants import trim_action

__all__ = ["SPEC", "run"]

SPEC, run = trim_action("trim")
