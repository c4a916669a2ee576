"""``python3 -m flomation_executor``: the same program as the ``flomation-executor`` script."""

__all__: list[str] = []
