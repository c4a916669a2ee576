"""String actions: case, trimming, searching, slicing and joining text (executor.md §10.5)."""

__all__: list[str] = []
