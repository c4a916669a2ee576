"""Web actions: ``web/request`` and ``web/fetch`` (§10.6), standard library HTTP only."""

__all__: list[str] = []
