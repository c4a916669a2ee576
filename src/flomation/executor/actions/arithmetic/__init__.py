"""Arithmetic actions: addition, subtraction, multiplication and division (executor.md §10.5)."""

__all__: list[str] = []
