"""A real, in-memory ActionContext for calling actions directly, without the engine."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from executor.actions.local_peers import MOTO_ACCESS, MOTO_SECRET
from flomation.executor.accessors import Input
from flomation.executor.actions.base import Outputs


class SuspendRequested(Exception):
    """Raised by ``ActionTestContext.suspend`` the way the engine's suspend never returns."""


@dataclass
class LogLine:
    """One structured log line an action wrote."""

    level: str
    message: str
    fields: dict[str, Any]


@dataclass
class ActionTestContext:
    """Implements the ActionContext protocol with real values and records what actions do."""

    inputs: Sequence[Input]
    work_dir: Path
    node_id: str = "node"
    parents: list[tuple[str, Outputs | None]] = field(default_factory=list)
    cancel_event: threading.Event = field(default_factory=threading.Event)
    resumed: bool = False
    resumed_suspend_info: Mapping[str, Any] | None = None
    control_plane: Any = None
    logs: list[LogLine] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    flow_outputs: dict[str, Any] = field(default_factory=dict)

    def log(self, level: str, message: str, **fields: Any) -> None:
        """Record the log line."""
        self.logs.append(LogLine(level, message, fields))

    def parent_outputs(self) -> list[tuple[str, Outputs | None]]:
        """The parents given at construction, in order."""
        return list(self.parents)

    def variable(self, name: str) -> Any:
        """A flow variable set earlier (None when unset)."""
        return self.variables.get(name)

    def set_variable(self, name: str, value: Any) -> None:
        """Record a flow variable."""
        self.variables[name] = value

    def set_flow_output(self, name: str, value: Any) -> None:
        """Record a flow output."""
        self.flow_outputs[name] = value

    def suspend(
        self,
        reason: str,
        outputs: Outputs,
        *,
        resume_at: datetime | None = None,
        resume_trigger_type: str | None = None,
        resume_trigger_match: Any = None,
    ) -> None:
        """Stop the action as the engine does."""
        raise SuspendRequested(reason)


MakeContext = Callable[..., ActionTestContext]


def inputs_of(*rows: tuple[str, str, Any]) -> list[Input]:
    """Resolved inputs from ``(name, type, value)`` rows."""
    return [Input(name, kind, value) for name, kind, value in rows]


@pytest.fixture
def make_ctx(tmp_path: Path) -> MakeContext:
    """Build a context over ``(name, type, value)`` input rows, working in ``tmp_path``."""

    def build(
        *rows: tuple[str, str, Any],
        parents: list[tuple[str, Outputs | None]] | None = None,
        work_dir: Path | None = None,
    ) -> ActionTestContext:
        return ActionTestContext(
            inputs=inputs_of(*rows),
            work_dir=work_dir or tmp_path,
            parents=parents or [],
        )

    return build


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1 (an ephemeral port)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def bucket(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket in eu-west-2; the SDK pointed at moto."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    name = f"flo-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        region_name="eu-west-2",
        endpoint_url=moto_endpoint,
        aws_access_key_id=MOTO_ACCESS,
        aws_secret_access_key=MOTO_SECRET,
    )
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    return name
