"""Sub-flow actions (docs/flows.md §4.9, §10.3): invoke a named region of the same flow."""

__all__: list[str] = []
