"""Arithmetic actions: addition, subtraction, multiplication and division (docs/flows.md §10.5)."""

__all__: list[str] = []
