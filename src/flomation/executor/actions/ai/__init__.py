"""AI prompt actions: one request to a model provider, text and token usage out."""

__all__: list[str] = []
