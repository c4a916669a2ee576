"""What the action tests give their local peers: the keys the aws/s3 tests give moto's server.

The HTTP(S) peer is ``fixtures.http_peer``, the certificate authority ``fixtures.authority``.
"""

from __future__ import annotations

__all__ = ["MOTO_ACCESS", "MOTO_SECRET"]

# The keys the aws/s3 tests give moto's server (any pair is accepted; these must be masked).
MOTO_ACCESS, MOTO_SECRET = "AKIATESTFLOMATION01", "test-secret-key/For+Moto"
