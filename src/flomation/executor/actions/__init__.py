"""Core actions, one module per action id (see ``base`` and ``flomation.executor.registry``)."""
