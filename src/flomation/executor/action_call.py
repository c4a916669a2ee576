"""One node's action call (docs/flows.md §4.4 steps 5-8, §4.5): the action found, its inputs
resolved (§5) and masked for display, the action run and timed, its result sorted into success,
soft failure, hard error, cancellation or suspension, and the node's event and record written.

``ActionCaller`` keeps no traversal state: the engine (engine.py) caches the outputs it returns
and notes the suspension it lets through.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from flomation.executor.accessors import Input
from flomation.executor.actions.base import ActionCancelled, ActionContext, HardError, Outputs
from flomation.executor.events import (
    MASK,
    EventSink,
    Logger,
    NodeRecord,
    mask_secret_values,
    masked_inputs,
)
from flomation.executor.flow import (
    ROUTING_AWAIT,
    ROUTING_CONDITIONAL,
    ROUTING_LOOP,
    ROUTING_SWITCH,
    ROUTING_TRIGGER,
    Node,
)
from flomation.executor.node_context import SuspendRequest
from flomation.executor.registry import Action, Registry
from flomation.executor.result import ExecutionError
from flomation.executor.substitution import ParentScope, Substituter, ValueTooLargeError

__all__ = ["CANCELLED_MESSAGE", "ActionCaller", "ContextFactory"]

CANCELLED_MESSAGE = "execution cancelled"

_PASS_THROUGH_TYPES = frozenset({ROUTING_CONDITIONAL, ROUTING_LOOP, ROUTING_SWITCH, ROUTING_AWAIT})

ContextFactory = Callable[[Node, Sequence[Input], frozenset[str]], ActionContext]
"""What an action call sees (node_context.py): made from the node, its inputs and the secrets
to mask in what it logs."""


class ActionCaller:
    """Calls node actions and reports them: node events on stdout, each node's last record."""

    def __init__(
        self,
        *,
        registry: Registry,
        substituter: Substituter,
        context: ContextFactory,
        events: EventSink,
        logger: Logger,
        records: dict[str, NodeRecord],
        debug: bool,
    ) -> None:
        """``records`` is the engine's, filled in place (last execution wins)."""
        self._registry = registry
        self._substituter = substituter
        self._context = context
        self._events = events
        self._logger = logger
        self._records = records
        self._debug = debug

    def call(self, node: Node, scope: ParentScope) -> Outputs:
        """Run the node's action on inputs resolved against its parents (``scope``); its outputs,
        pass-through keys added, after a success or a soft failure.

        A hard error or a cancellation is an ExecutionError after the node's failed or cancelled
        event; a suspension is the action's SuspendRequest after its suspended event.
        """
        action = self._action_for(node)
        try:
            inputs = self._substituter.resolve_inputs(node.inputs, scope)
        except ValueTooLargeError as failure:
            self._fail(node, {}, None, str(failure), 0)
        shown, secrets = self._masked(node, action, inputs)
        self._events.emit(node.id, node.type, node.label, "running")
        self._logger.log("info", "executing node", id=node.id, action=node.type, label=node.label)
        started = time.perf_counter()
        try:
            returned = action.run(self._context(node, inputs, secrets))
        except SuspendRequest as request:
            duration_ms = int((time.perf_counter() - started) * 1000)
            reported = mask_secret_values(request.outputs, secrets)
            self._finish(node, "suspended", shown, reported, "", duration_ms)
            self._logger.log("info", "Execution suspended")
            raise
        except ActionCancelled:
            self.cancelled(node)
        except HardError as failure:
            duration_ms = int((time.perf_counter() - started) * 1000)
            self._fail(
                node,
                shown,
                mask_secret_values(failure.outputs, secrets),
                mask_secret_values(failure.message, secrets),
                duration_ms,
            )
        except Exception as failure:
            duration_ms = int((time.perf_counter() - started) * 1000)
            message = mask_secret_values(
                f"internal error: {type(failure).__name__}: {failure}", secrets
            )
            if self._debug:
                import traceback

                self._logger.log(
                    "debug",
                    "action traceback",
                    id=node.id,
                    traceback=mask_secret_values(traceback.format_exc(), secrets),
                )
            self._fail(node, shown, None, message, duration_ms)
        duration_ms = int((time.perf_counter() - started) * 1000)
        outputs: Outputs = returned if isinstance(returned, dict) else {}
        # Pass-through (§4.5): a routing node (types 4-7) gets every flat parent key it lacks, a
        # trigger every non-null input injected from trigger data (§11.1) it lacks.
        if node.routing_type in _PASS_THROUGH_TYPES:
            for key, value in scope.flat.items():
                outputs.setdefault(key, value)
        elif node.routing_type == ROUTING_TRIGGER and node.injected:
            for item in inputs:
                if item.name in node.injected and item.value is not None:
                    outputs.setdefault(item.name, item.value)
        reported = mask_secret_values(outputs, secrets)
        if outputs.get("success") is False:
            error = reported.get("error")
            error_text = error if isinstance(error, str) else ""
            self._finish(node, "failed", shown, reported, error_text, duration_ms)
        else:
            self._finish(node, "success", shown, reported, "", duration_ms)
        return outputs

    def cancelled(self, node: Node) -> NoReturn:
        """Give the node a cancelled event and record, and stop the run (§4.4 step 2)."""
        self._finish(node, "cancelled", None, None, "", 0)
        raise ExecutionError(CANCELLED_MESSAGE, node.id) from None

    def record_bare_success(self, node: Node, outputs: Outputs) -> None:
        """A success event without inputs, outputs or duration, and a record with ``outputs``,
        for a node whose action is not called (the On Error handler, §4.10)."""
        self._events.emit(node.id, node.type, node.label, "success")
        self._records[node.id] = NodeRecord(
            id=node.id,
            action=node.type,
            label=node.label,
            status="success",
            inputs=None,
            outputs=outputs,
            error="",
            duration_ms=0,
        )

    def _action_for(self, node: Node) -> Action:
        action = None
        if node.has_data:
            action = self._registry.find(node.type) or self._registry.find(node.label)
        if action is None:
            raise ExecutionError("invalid node", node.id)
        return action

    def _masked(
        self, node: Node, action: Action, inputs: Sequence[Input]
    ) -> tuple[dict[str, Any], frozenset[str]]:
        """The inputs as the node's event and record show them, and the secrets to mask."""
        configured: dict[str, Any] = {}
        for connection in node.inputs:
            configured.setdefault(connection["name"], connection.get("value"))
        resolved = {item.name: item.value for item in inputs}
        shown = masked_inputs(
            configured, resolved, {item.name for item in action.spec.inputs if item.secret}
        )
        # The values behind masked inputs are masked wherever the node reports them, and so are
        # the secrets and credentials the run resolved so far (a script that prints one, a
        # variable that carries one on; docs/security.md).
        secrets = frozenset(
            value
            for name, value in resolved.items()
            if shown.get(name) == MASK and isinstance(value, str) and value
        ).union(self._substituter.secret_values)
        return mask_secret_values(shown, secrets), secrets

    def _fail(
        self,
        node: Node,
        shown: dict[str, Any],
        outputs: Outputs | None,
        message: str,
        duration_ms: int,
    ) -> NoReturn:
        self._finish(node, "failed", shown, outputs, message, duration_ms)
        self._logger.log("error", "Error processing Action", error=message, id=node.id)
        raise ExecutionError(message, node.id)

    def _finish(
        self,
        node: Node,
        status: str,
        inputs: dict[str, Any] | None,
        outputs: Outputs | None,
        error: str,
        duration_ms: int,
    ) -> None:
        """Emit the node's final event and record it (last execution wins)."""
        self._events.emit(
            node.id,
            node.type,
            node.label,
            status,
            duration_ms=duration_ms,
            error=error,
            inputs=inputs,
            outputs=outputs,
        )
        self._records[node.id] = NodeRecord(
            id=node.id,
            action=node.type,
            label=node.label,
            status=status,
            inputs=inputs,
            outputs=outputs,
            error=error,
            duration_ms=duration_ms,
        )
