"""Common actions: variables, waiting, data shaping and dates (executor.md §10.4)."""
