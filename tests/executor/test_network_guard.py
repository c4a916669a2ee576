"""The network guard of the web actions (executor/network_guard.py, docs/security.md).

Real sockets on 127.0.0.1 only: loopback is allowed by default, so the tests refuse it with the
``private`` level to prove that the check runs on the address actually connected to, after DNS
and at every redirect. Link-local and cloud-metadata addresses are checked by the pure decision
function: no test ever opens a connection to them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from executor.engine_harness import edge, flow_document, node, run_cli, value
from fixtures.http_peer import HttpPeer, Recorded, Reply, http_peer
from flomation.executor import network_guard
from flomation.executor.actions.web._transfer import TransferError, transfer


@pytest.fixture
def server() -> Iterator[HttpPeer]:
    """A peer answering every request 200 ``ok``; its requests show what reached it."""
    with http_peer(lambda _request: (200, {}, b"ok")) as running:
        yield running


@pytest.fixture(autouse=True)
def _default_level() -> Iterator[None]:
    yield
    network_guard.configure("metadata")


@pytest.mark.parametrize(
    ("address", "level", "refused"),
    [
        ("169.254.169.254", "metadata", True),
        ("fe80::1%eth0", "metadata", True),
        ("::ffff:169.254.169.254", "metadata", True),
        ("100.100.100.200", "metadata", True),
        ("fd00:ec2::254", "metadata", True),
        ("127.0.0.1", "metadata", False),
        ("10.1.2.3", "metadata", False),
        ("93.184.216.34", "metadata", False),
        ("127.0.0.1", "private", True),
        ("::1", "private", True),
        ("0.0.0.0", "private", True),
        ("10.1.2.3", "private", True),
        ("192.168.0.1", "private", True),
        ("172.16.0.1", "private", True),
        ("100.64.0.1", "private", True),
        ("fc00::1", "private", True),
        ("169.254.169.254", "private", True),
        ("93.184.216.34", "private", False),
        ("169.254.169.254", "off", False),
        ("239.1.2.3", "private", True),
    ],
)
def test_refusal_by_level(address: str, level: str, refused: bool) -> None:
    """Metadata and link-local addresses are refused by default; private ranges at 'private'."""
    assert (network_guard.refusal(address, level) is not None) is refused


def test_allowed_networks_pass_at_any_level() -> None:
    """Networks listed in FLOMATION_EXECUTOR_ALLOW_NETWORKS are never refused."""
    assert network_guard.refusal("10.1.2.3", "private", "10.0.0.0/8, ::1/128") is None
    assert network_guard.refusal("::1", "private", "10.0.0.0/8, ::1/128") is None
    assert network_guard.refusal("127.0.0.1", "private", "10.0.0.0/8") is not None


def test_an_action_can_ask_for_a_stricter_level(server: HttpPeer) -> None:
    """guard_minimum='private' refuses loopback although the configured level allows it."""
    with pytest.raises(TransferError, match="loopback address"):
        _transfer(f"http://127.0.0.1:{server.port}/strict", guard_minimum="private")
    assert server.requests == []


def _transfer(url: str, guard_minimum: str = "off") -> bytes:
    """The body of a GET of ``url`` through the web actions' transfer (at most 1 KiB)."""
    response = transfer(
        "GET",
        url,
        headers={},
        body=None,
        timeout_s=10,
        max_body_bytes=1024,
        cancel_event=threading.Event(),
        guard_minimum=guard_minimum,
    )
    return response.body


def test_loopback_is_allowed_by_default(server: HttpPeer) -> None:
    """With the default level a web request to 127.0.0.1 goes through."""
    assert _transfer(f"http://127.0.0.1:{server.port}/a") == b"ok"


def test_private_level_refuses_the_resolved_address(server: HttpPeer) -> None:
    """At 'private' a name resolving to loopback is refused before any byte is sent."""
    network_guard.configure("private")
    with pytest.raises(TransferError, match="refused by the network guard \\(loopback address\\)"):
        _transfer(f"http://localhost:{server.port}/a")
    assert server.requests == []


def test_every_redirect_target_is_checked(server: HttpPeer) -> None:
    """A redirect's target is checked on its own connection: the first hop is allowed, the
    guard is tightened while it answers, and the second hop never reaches its server."""
    port = server.port

    def tighten_then_redirect(request: Recorded) -> Reply:
        network_guard.configure("private")
        return 302, {"Location": f"http://127.0.0.1:{port}/second"}, b"ok"

    with http_peer(tighten_then_redirect) as first:
        with pytest.raises(TransferError, match="refused by the network guard"):
            _transfer(f"http://127.0.0.1:{first.port}/first")
        assert [request.path for request in first.requests] == ["/first"]
    assert server.requests == []


def test_executor_flag_refuses_web_nodes(
    tmp_path: Path, server: HttpPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FLOMATION_EXECUTOR_NETWORK_GUARD=private makes a web/request node to 127.0.0.1 fail
    with the guard's error, in a real executor process."""
    url = f"http://127.0.0.1:{server.port}/from-flow"
    document = flow_document(
        [
            node("t", "trigger/manual", 1),
            node("r", "web/request", inputs=[value("method", "GET"), value("url", url)]),
        ],
        [edge("t", "r")],
    )
    (tmp_path / "execution.flow").write_text(document, encoding="utf-8")
    monkeypatch.setenv("FLOMATION_EXECUTOR_NETWORK_GUARD", "private")
    completed = run_cli(["--output", "json", "--path", "execution.flow"], tmp_path)
    assert completed.returncode == 0, completed.stderr
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["status"] == 1
    assert "refused by the network guard" in state["node_results"]["r"]["error"]
    assert server.requests == []
