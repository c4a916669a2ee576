"""Output actions (docs/flows.md §10.3): the only writers of the flow outputs."""

__all__: list[str] = []
