"""`arithmetic/subtraction` (docs/flows.md §10.5): one row of the table in ``_operators.py``."""

from __future__ import annotations

from flomation.executor.actions.arithmetic._operators import operator_action

__all__ = ["SPEC", "run"]

SPEC, run = operator_action("subtraction")
