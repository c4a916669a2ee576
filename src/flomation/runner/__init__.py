"""The Flomation runner agent: configuration, identity, the signed API client and execution.

A drop-in replacement for the upstream Go runner (flomation-co/runner): same configuration
surface, same wire protocol, without the upstream defects listed in docs/protocol.md §6.
"""

__all__: list[str] = []
