"""The reference control plane ``flomation-server`` (docs/protocol.md §2-§4 and §7-§10).

Entry points for other code: :func:`flomation.server.embedded.running_server` (an in-process
server on a real socket), :class:`flomation.server.admin_client.AdminClient` (typed admin API
client) and :class:`flomation.server.config.ServerSettings`.
"""

__all__: list[str] = []
