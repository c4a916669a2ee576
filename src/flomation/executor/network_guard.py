"""Which addresses the web actions may connect to (docs/security.md, "Network guard").

A flow author controls the URLs of ``web/request`` and ``web/fetch``. Without a guard, a flow
can read a cloud instance's metadata service (credentials of the machine's role) or reach
services that only listen on the runner's own network. The guard is checked on the address
actually connected to: after DNS resolution (a public name can resolve to a private address)
and again for every redirect target, since each hop opens its own connection through
:func:`guarded_connection`.

Levels (``-network-guard`` / ``FLOMATION_EXECUTOR_NETWORK_GUARD``):

- ``metadata`` (default): link-local addresses (``169.254.0.0/16``, ``fe80::/10``, where the
  metadata services of AWS, GCP, Azure and others answer) and the other well-known metadata
  addresses (``100.100.100.200`` of Alibaba Cloud, ``fd00:ec2::254`` of AWS over IPv6) are
  refused.
- ``private``: also loopback, the private ranges (RFC 1918, ``fc00::/7``), carrier-grade NAT
  (``100.64.0.0/10``), multicast and the unspecified address (which reaches the local machine).
- ``off``: nothing is refused.

An action can ask for a stricter level than the configured one (``web/download`` always
refuses non-public addresses, as upstream does). Networks an operator trusts are allowed at any
level: ``FLOMATION_EXECUTOR_ALLOW_NETWORKS`` (comma-separated CIDRs, e.g. ``10.1.0.0/16``).

Script nodes open sockets of their own and are not covered; isolation (the runner's
``execution.isolation``) is the defence there.
"""

from __future__ import annotations

import errno
import socket

__all__ = [
    "ALLOW_NETWORKS_VARIABLE",
    "GUARD_LEVELS",
    "NetworkGuardError",
    "configure",
    "guarded_connection",
    "refusal",
]

GUARD_LEVELS = ("metadata", "private", "off")
ALLOW_NETWORKS_VARIABLE = "FLOMATION_EXECUTOR_ALLOW_NETWORKS"
_STRICTNESS = {"off": 0, "metadata": 1, "private": 2}

# Compared in ipaddress's compressed text form (ipaddress is imported on first use only: the
# executor's start-up pays for nothing a flow without web nodes does not need).
_METADATA_ADDRESSES = frozenset({"100.100.100.200", "fd00:ec2::254"})
_CARRIER_GRADE_NAT = "100.64.0.0/10"

_level = "metadata"


class NetworkGuardError(OSError):
    """A connection the guard refused; ``strerror`` names the address and the reason."""


def configure(level: str) -> None:
    """Set the guard level for this process (from the command line, once at start-up)."""
    global _level
    if level not in GUARD_LEVELS:
        raise ValueError(
            f"unknown network guard level {level!r} (one of {', '.join(GUARD_LEVELS)})"
        )
    _level = level


def refusal(address: str, level: str, allowed: str = "") -> str | None:
    """Why ``address`` (an IP address text) is refused at ``level``, or None when allowed.

    ``allowed`` is the operator's comma-separated list of trusted networks (CIDRs).
    """
    if level == "off":
        return None
    import ipaddress

    ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(
        address.partition("%")[0]
    )
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for network in allowed.split(","):
        if network.strip() and ip in ipaddress.ip_network(network.strip(), strict=False):
            return None
    if ip.is_link_local or ip.compressed in _METADATA_ADDRESSES:
        return "link-local or cloud metadata address"
    if level != "private":
        return None
    if ip.is_loopback:
        return "loopback address"
    if ip.is_unspecified:
        return "unspecified address"
    if ip.is_multicast:
        return "multicast address"
    if ip.is_private or (
        isinstance(ip, ipaddress.IPv4Address) and ip in ipaddress.ip_network(_CARRIER_GRADE_NAT)
    ):
        return "private address"
    return None


def guarded_connection(
    address: tuple[str, int],
    timeout: float | None = None,
    source_address: tuple[str, int] | None = None,
    *,
    minimum: str = "off",
) -> socket.socket:
    """``socket.create_connection`` that connects only to addresses the guard allows.

    The level is the configured one, or ``minimum`` when that is stricter. Every address the
    name resolves to is tried in order, refused ones skipped; the peer of the connected socket
    is checked once more. Raises NetworkGuardError when every address was refused, OSError for
    ordinary connection failures.
    """
    import os

    host, port = address
    level = max(_level, minimum, key=_STRICTNESS.__getitem__)
    allowed = os.environ.get(ALLOW_NETWORKS_VARIABLE, "")
    refused: str | None = None
    last_error: OSError | None = None
    for family, kind, proto, _, sockaddr in socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM):
        ip = str(sockaddr[0])
        reason = refusal(ip, level, allowed)
        if reason is not None:
            refused = refused or f"address {ip} refused by the network guard ({reason})"
            continue
        sock = socket.socket(family, kind, proto)
        try:
            if timeout is not None:
                sock.settimeout(timeout)
            if source_address is not None:
                sock.bind(source_address)
            sock.connect(sockaddr)
            peer = str(sock.getpeername()[0])
            reason = refusal(peer, level, allowed)
            if reason is not None:
                raise NetworkGuardError(
                    errno.EACCES, f"address {peer} refused by the network guard ({reason})"
                )
            return sock
        except OSError as error:
            sock.close()
            if isinstance(error, NetworkGuardError):
                raise
            last_error = error
    if last_error is not None:
        raise last_error
    raise NetworkGuardError(errno.EACCES, refused or f"no address found for {host}")
