"""Upstream wire formats shared by the runner and the server: JSON models, signing, paths.

Nothing here does HTTP or touches a database.
"""

__all__: list[str] = []
