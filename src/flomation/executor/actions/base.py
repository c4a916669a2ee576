"""What an action is: its manifest definition, the context it runs with, and how it fails.

Every action is one module under ``flomation.executor.actions`` whose dotted path is its action id
(``actions/string/upper_case.py`` is ``string/upper_case``). The module defines::

    SPEC = ActionSpec(id="string/upper_case", name="Upper Case", description="...", inputs=(...),
                      outputs=(...))

    def run(ctx: ActionContext) -> dict[str, Any]: ...

``run`` returns the node's outputs, raises HardError (the node fails and the flow stops),
raises ActionCancelled (aborted by cancellation) or calls ``ctx.suspend(...)`` (which raises).
A soft failure is an ordinary return whose outputs hold ``success: False``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from flomation.executor.accessors import Input

__all__ = [
    "ActionCancelled",
    "ActionContext",
    "ActionSpec",
    "Connection",
    "ControlPlane",
    "HardError",
    "Outputs",
    "RunFunction",
]

Outputs = dict[str, Any]


@dataclass(frozen=True)
class Connection:
    """One input or output of an action as the manifest and the editor describe it."""

    name: str
    type: str = "string"
    label: str = ""
    placeholder: str = ""
    required: bool | None = None
    options: tuple[Mapping[str, str], ...] | None = None
    visible_when: Mapping[str, Any] | None = None
    default: Any = None
    """What the action uses when the input is missing or empty (docs/nodes.md; not in the
    manifest, whose connections carry ``value: null`` as upstream's do)."""
    # A password, API key or access key: its value is shown as ******** in events and node
    # results, and every occurrence of it in the node's outputs, error and log lines is masked.
    secret: bool = False


@dataclass(frozen=True)
class ActionSpec:
    """The manifest definition of an action (docs/flows.md §7.6)."""

    id: str
    name: str
    description: str
    type: int = 2
    inputs: tuple[Connection, ...] = ()
    outputs: tuple[Connection, ...] = ()
    summary: str = ""
    author: str = "Flomation"
    organisation: str = "Flomation"
    website: str = "https://flomation.co"
    icon: str = ""
    date: str = "27/11/2026"
    extra: Mapping[str, Any] = field(default_factory=dict)
    open_outputs: bool = False
    """True when the output keys depend on the flow (trigger data, declared script outputs,
    sub-flow parameters), so a reference to a key not in ``outputs`` may still resolve."""


class HardError(Exception):
    """The node failed: the flow stops (On Error may run). ``outputs`` are shown in the event."""

    def __init__(self, message: str, outputs: Outputs | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.outputs = outputs


class ActionCancelled(Exception):
    """The action was aborted because the execution is being cancelled (``cancelled`` event)."""


class ControlPlane(Protocol):
    """The API the execution reports to (implemented by ``environment.EnvironmentClient``)."""

    def call(
        self, method: str, path: str, body: bytes | None = None, *, timeout_s: float = 30.0
    ) -> tuple[int, bytes]:
        """One signed request on behalf of the execution: (HTTP status, body).

        Raises ``environment.ControlPlaneError`` when no reply arrives.
        """


class ActionContext(Protocol):
    """What the engine hands an action. Implemented by the engine."""

    @property
    def node_id(self) -> str:
        """The id of the node being executed."""

    @property
    def inputs(self) -> Sequence[Input]:
        """The node's resolved inputs, in configured order (read them with ``accessors``)."""

    @property
    def work_dir(self) -> Path:
        """The execution's work directory (the executor's cwd); file actions stay inside it."""

    @property
    def cancel_event(self) -> threading.Event:
        """Set when SIGTERM/SIGINT arrived; long waits must watch it and stop within a second."""

    @property
    def resumed(self) -> bool:
        """True when this node is the one a checkpoint resumes (pause/wait pass through)."""

    @property
    def resumed_suspend_info(self) -> Mapping[str, Any] | None:
        """The restored checkpoint's ``suspend_info`` when this node is being resumed."""

    @property
    def control_plane(self) -> ControlPlane | None:
        """Signed requests to the API this execution reports to (``--api``); None without one."""

    def log(self, level: str, message: str, **fields: Any) -> None:
        """Write one structured log line to stderr (levels: debug, info, warning, error)."""

    def parent_outputs(self) -> list[tuple[str, Outputs | None]]:
        """Each parent (incoming edges, edge order): its id and cached outputs (None if none)."""

    def variable(self, name: str) -> Any:
        """A flow variable's value (None when unset); the AI tool loop passes its state so."""

    def set_variable(self, name: str, value: Any) -> None:
        """Set a flow variable (``${var.name}``)."""

    def set_flow_output(self, name: str, value: Any) -> None:
        """Set a flow output (``state.json.outputs[name]``)."""

    def suspend(
        self,
        reason: str,
        outputs: Outputs,
        *,
        resume_at: datetime | None = None,
        resume_trigger_type: str | None = None,
        resume_trigger_match: Any = None,
    ) -> None:
        """Suspend the execution after this node (raises; never returns)."""


RunFunction = Callable[[ActionContext], Outputs]
