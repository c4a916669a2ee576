"""What one action call sees: its node, inputs, work directory, log and the engine's state it may
change (variables, flow outputs, suspension); the ``ActionContext`` of ``actions.base``.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from flomation.executor.accessors import Input
from flomation.executor.actions.base import ControlPlane, Outputs
from flomation.executor.checkpoint import SuspendInfo
from flomation.executor.events import Logger, mask_secret_values
from flomation.executor.flow import Flow, Node

__all__ = ["EngineState", "NodeContext", "SuspendRequest"]


class EngineState(Protocol):
    """What an action call sees of the engine (``executor/engine.py``)."""

    flow: Flow
    work_dir: Path
    cancel_event: threading.Event
    control_plane: ControlPlane | None
    logger: Logger
    cache: dict[str, Outputs]
    variables: dict[str, Any]
    flow_outputs: dict[str, Any]
    resumed_node_id: str | None
    resumed_suspend_info: SuspendInfo | None


class SuspendRequest(BaseException):
    """Raised by ``ActionContext.suspend``; BaseException so an action's ``except Exception``
    cannot swallow it."""

    def __init__(self, info: SuspendInfo, outputs: Outputs) -> None:
        super().__init__(info.suspend_reason)
        self.info = info
        self.outputs = outputs


class NodeContext:
    """The ``ActionContext`` handed to one action call (see ``actions.base``)."""

    def __init__(
        self,
        engine: EngineState,
        node: Node,
        inputs: Sequence[Input],
        secrets: Collection[str],
    ) -> None:
        self._engine = engine
        self._node = node
        self._inputs = inputs
        self._secrets = secrets

    @property
    def node_id(self) -> str:
        return self._node.id

    @property
    def inputs(self) -> Sequence[Input]:
        return self._inputs

    @property
    def work_dir(self) -> Path:
        return self._engine.work_dir

    @property
    def cancel_event(self) -> threading.Event:
        return self._engine.cancel_event

    @property
    def resumed(self) -> bool:
        return self._engine.resumed_node_id == self._node.id

    @property
    def resumed_suspend_info(self) -> Mapping[str, Any] | None:
        info = self._engine.resumed_suspend_info
        return info.as_mapping() if self.resumed and info is not None else None

    @property
    def control_plane(self) -> ControlPlane | None:
        return self._engine.control_plane

    def log(self, level: str, message: str, **fields: Any) -> None:
        self._engine.logger.log(
            level,
            mask_secret_values(message, self._secrets),
            **mask_secret_values(fields, self._secrets),
        )

    def parent_outputs(self) -> list[tuple[str, Outputs | None]]:
        cache = self._engine.cache
        return [
            (edge.source, cache.get(edge.source))
            for edge in self._engine.flow.incoming.get(self._node.id, ())
        ]

    def variable(self, name: str) -> Any:
        return self._engine.variables.get(name)

    def set_variable(self, name: str, value: Any) -> None:
        self._engine.variables[name] = value

    def set_flow_output(self, name: str, value: Any) -> None:
        self._engine.flow_outputs[name] = value

    def suspend(
        self,
        reason: str,
        outputs: Outputs,
        *,
        resume_at: datetime | None = None,
        resume_trigger_type: str | None = None,
        resume_trigger_match: Any = None,
    ) -> None:
        info = SuspendInfo(
            suspend_node_id=self._node.id,
            suspend_reason=reason,
            resume_at=resume_at,
            resume_trigger_type=resume_trigger_type or "",
            resume_trigger_match=resume_trigger_match,
        )
        raise SuspendRequest(info, outputs)
