"""Conditional and loop actions (docs/flows.md §10.3). Routing follows ``data.config.type``.

``if``, ``for`` and ``while`` are Python keywords, so their modules are ``if_``, ``for_`` and
``while_`` (the registry's alias rule maps them back to ``conditional/if`` and so on).
"""

__all__: list[str] = []
