"""Script actions: ``script/bash``, ``script/python``, ``script/javascript``.

See docs/flows.md §10.6-7.
"""

__all__: list[str] = []
