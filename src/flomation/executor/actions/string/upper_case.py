"""`string/upper_case` (docs/flows.md §10.5): one row of the case table in ``_variants.py``."""

from __future__ import annotations

from flomation.executor.actions.string._variants import case_action

__all__ = ["SPEC", "run"]

SPEC, run = case_action("upper_case")
