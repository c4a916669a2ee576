"""String actions: case, trimming, searching, slicing and joining text (docs/flows.md §10.5)."""

__all__: list[str] = []
