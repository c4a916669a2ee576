"""The reference Flomation executor: runs one flow and writes ``state.json`` (spec: docs/flows.md).

Start-up time is paid once per execution, so this package imports only the standard library at
start-up; anything heavier (cryptography for ``--key``) is imported where it is needed.
"""

__all__: list[str] = []
