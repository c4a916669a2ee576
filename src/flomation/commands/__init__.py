"""Console entry points that compose several sub-packages."""

__all__: list[str] = []
