"""Common actions: variables, waiting, data shaping and dates (docs/flows.md §10.4)."""
