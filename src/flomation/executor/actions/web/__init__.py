"""Web actions: ``web/request`` and ``web/fetch``, standard library HTTP only.

See docs/flows.md §10.6.
"""

__all__: list[str] = []
