"""Trigger actions (docs/flows.md §10.2): where an execution starts; they echo injected data."""

__all__: list[str] = []
