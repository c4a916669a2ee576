"""Error handling actions (docs/flows.md §4.10)."""

__all__: list[str] = []
