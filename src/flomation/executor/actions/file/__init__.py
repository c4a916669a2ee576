"""File actions: read and write files inside the execution's work directory.

See docs/flows.md §10.6.
"""

__all__: list[str] = []
