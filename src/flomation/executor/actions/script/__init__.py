"""Script actions: ``script/bash``, ``script/python``, ``script/javascript`` (§10.6-7)."""

__all__: list[str] = []
