"""Error handling actions (executor.md §4.10)."""

__all__: list[str] = []
