"""The execution engine (docs/flows.md §4): runs one flow once, keeping what §4.1 lists (output
cache, traversed and executing sets, records, variables, flow outputs, reachable set, error and
suspension flags) and walking the graph with it.

The engine orchestrates; what it decides and what it calls stand beside it:
- ``routing.py``: entry, reachability, children, switch routes, unmatched branches (pure);
- ``action_call.py``: one node's action call, its inputs resolved and masked, its event and record;
- ``regions.py`` and ``tool_loop.py``: loops and sub-flows, the AI tool loop (driven through it);
- ``result.py``: the statuses, the status rule and ``ExecutionError``.

Names follow the spec: ``execute_node`` is ExecuteNode (§4.3), ``_run_node`` is phase 1 (§4.4,
one node's action) and ``_walk_children`` is phase 2 (§4.6, breadth-first children).
The traversal recurses once per node along a chain, so ``run_with_deep_stack`` (deep_stack.py)
runs the engine on a thread with a large stack and a matching recursion limit. What an action
sees of its node and of the engine is ``NodeContext`` (node_context.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from flomation.executor.action_call import ActionCaller
from flomation.executor.actions.base import ControlPlane, Outputs
from flomation.executor.checkpoint import Checkpoint, SuspendInfo
from flomation.executor.context import ExecutionContext
from flomation.executor.events import EventSink, Logger, NodeRecord, mask_secret_values
from flomation.executor.flow import ROUTING_LOOP, Flow, Node
from flomation.executor.node_context import NodeContext, SuspendRequest
from flomation.executor.regions import run_loop, run_subflow
from flomation.executor.registry import Registry
from flomation.executor.result import ExecutionError, ExecutionResult, final_status
from flomation.executor.routing import (
    GATING_TYPES,
    child_targets,
    entry_node,
    may_run,
    on_unmatched_branch,
    reachable_nodes,
)
from flomation.executor.substitution import (
    DEFAULT_MAX_VALUE_BYTES,
    EnvironmentResolver,
    ParentScope,
    Substituter,
)
from flomation.executor.tool_loop import REQUESTS_KEY, run_tool_loop

__all__ = ["Engine"]


class _Suspended(BaseException):
    """Internal signal: the execution is suspended; unwinds the whole traversal."""


def _is_empty(value: Any) -> bool:
    return value is None or value == ""


class Engine:
    """Runs one flow once. Construct, optionally ``restore`` a checkpoint, then ``run``."""

    def __init__(
        self,
        flow: Flow,
        *,
        registry: Registry,
        logger: Logger,
        events: EventSink,
        cancel_event: threading.Event,
        work_dir: Path,
        context: ExecutionContext | None = None,
        environment: EnvironmentResolver | None = None,
        control_plane: ControlPlane | None = None,
        entry: str = "",
        debug: bool = False,
        max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
    ) -> None:
        self.flow = flow
        self.control_plane = control_plane
        self.logger = logger
        self.cancel_event = cancel_event
        self.work_dir = work_dir
        # What the engine keeps (§4.1); public where NodeContext, regions.py or tool_loop.py use it.
        self.cache: dict[str, Outputs] = {}
        self.variables: dict[str, Any] = {}
        self.flow_outputs: dict[str, Any] = {}
        self.records: dict[str, NodeRecord] = {}
        self.reachable: set[str] = set()
        self.subflow_depth = 0
        self.resumed_node_id: str | None = None
        self.resumed_suspend_info: SuspendInfo | None = None
        self._traversed: set[str] = set()
        self._executing: set[str] = set()
        self._unmatched_memo: dict[str, bool] = {}
        self._had_error = False
        self._in_error_chain = False
        self._suspend_info: SuspendInfo | None = None
        self._resume_data: Any = None
        self._requested_entry = entry
        self._checkpoint_entry = ""
        self._entry = ""
        self._context = context
        self._debug = debug
        self._substituter = Substituter(
            variables=self.variables,
            context=context,
            environment=environment,
            node_outputs=self._reference_outputs,
            log=logger.log,
            max_value_bytes=max_value_bytes,
        )
        self._calls = ActionCaller(
            registry=registry,
            substituter=self._substituter,
            context=partial(NodeContext, self),
            events=events,
            logger=logger,
            records=self.records,
            debug=debug,
        )

    # ------------------------------------------------------------------ checkpoints (§4.12)

    def restore(self, checkpoint: Checkpoint) -> None:
        """Restore a suspended execution; its suspended node becomes the resumed node."""
        self.cache.update(checkpoint.node_results)
        self.variables.update(checkpoint.variables)
        self.flow_outputs.update(checkpoint.outputs)
        self.records.update(checkpoint.node_execution_results)
        self.reachable.update(checkpoint.reachable_nodes)
        self._in_error_chain = checkpoint.in_error_chain
        self._had_error = checkpoint.had_error
        self._resume_data = checkpoint.resume_data
        self._checkpoint_entry = checkpoint.entry_node_id
        if checkpoint.suspend_info is not None:
            self.resumed_node_id = checkpoint.suspend_info.suspend_node_id
            self.resumed_suspend_info = checkpoint.suspend_info
            self.cache.pop(self.resumed_node_id, None)

    def _checkpoint(self) -> Checkpoint:
        return Checkpoint(
            node_results=dict(self.cache),
            entry_node_id=self._entry,
            variables=dict(self.variables),
            outputs=dict(self.flow_outputs),
            node_execution_results=dict(self.records),
            reachable_nodes=set(self.reachable),
            in_error_chain=self._in_error_chain,
            had_error=self._had_error,
            suspend_info=self._suspend_info,
            resume_data=self._resume_data,
        )

    # ------------------------------------------------------------------ the run (§4.2, §4.11)

    def run(self) -> ExecutionResult:
        """Execute the flow and compute the final status; never raises for flow problems."""
        error: ExecutionError | None = None
        suspended = False
        try:
            self._execute()
        except _Suspended:
            suspended = True
        except ExecutionError as failure:
            error = failure
        except Exception as failure:  # an engine bug must not lose state.json (§2.4)
            error = ExecutionError(f"{type(failure).__name__}: {failure}", None)
            fields: dict[str, Any] = {"error": error.message}
            if self._debug:
                import traceback

                fields["traceback"] = traceback.format_exc()
            self.logger.log("error", "Error executing flow", **fields)
        return self._result(error, suspended=suspended, cancelled=self.cancel_event.is_set())

    def _result(
        self, error: ExecutionError | None, *, suspended: bool, cancelled: bool
    ) -> ExecutionResult:
        status = final_status(
            suspended=suspended,
            cancelled=cancelled,
            failed=error is not None or self._had_error,
            error=error.message if error is not None else None,
            channel_type=self._context.channel_type if self._context is not None else "",
        )
        outputs = None if suspended or error is not None else dict(self.flow_outputs)
        if outputs and self._substituter.secret_values:
            outputs = mask_secret_values(outputs, self._substituter.secret_values)
        return ExecutionResult(
            status=status,
            outputs=outputs,
            records=self.records,
            checkpoint=self._checkpoint() if suspended else None,
            error=error.message if error is not None else None,
        )

    def _execute(self) -> None:
        requested = self._requested_entry
        entry = entry_node(self.flow, requested, self._checkpoint_entry)
        if requested and (entry is None or entry.id != requested):
            self.logger.log(
                "warning", "entry node not found; falling back to trigger scan", entry=requested
            )
        try:
            if entry is None:
                raise ExecutionError("no start node specified", None)
            self._entry = entry.id
            self.reachable |= reachable_nodes(self.flow, entry.id)
            self.execute_node(entry.id)
        except ExecutionError as error:
            if self._in_error_chain or not self._run_on_error(error):
                # The node id lets a reader find the node (an invalid node has no event).
                where = {"id": error.node_id} if error.node_id else {}
                self.logger.log("error", "Error executing flow", error=error.message, **where)
                raise

    # ------------------------------------------------------------------ ExecuteNode (§4.3)

    def execute_node(self, node_id: str) -> Outputs | None:
        """Run a node (if needed) and walk its children; its outputs, or None."""
        if node_id in self._executing:
            return None
        cached = self.cache.get(node_id)
        if cached is not None:
            if node_id in self._traversed:
                return cached
            self._traversed.add(node_id)
            if self.flow.by_id[node_id].routing_type != ROUTING_LOOP:
                self._walk_children(node_id, cached)
            return cached
        outputs = self._run_node(node_id)
        self._traversed.add(node_id)
        self._walk_children(node_id, outputs or {})
        return self.cache.get(node_id, outputs)

    # ------------------------------------------------------------------ phase 1 (§4.4, §4.5)

    def _run_node(self, node_id: str) -> Outputs | None:
        cached = self.cache.get(node_id)
        if cached is not None:
            return cached
        if node_id in self._executing:
            return None
        node = self.flow.by_id[node_id]
        if self.cancel_event.is_set():
            self._calls.cancelled(node)
        if self._suspend_info is not None:
            raise _Suspended()
        self._executing.add(node_id)
        try:
            scope = self._pull_parents(node)
            try:
                outputs = self._calls.call(node, scope)
            except SuspendRequest as request:
                if request.outputs:
                    self.cache[node_id] = request.outputs
                self._suspend_info = request.info
                raise _Suspended() from None
            self.cache[node_id] = outputs
            if node.routing_type in GATING_TYPES:
                self._unmatched_memo.clear()
            if node_id == self.resumed_node_id:
                self.resumed_node_id = None
            return outputs
        finally:
            self._executing.discard(node_id)

    def _pull_parents(self, node: Node) -> ParentScope:
        scope = ParentScope(flat={}, scoped={}, last=None)
        for edge in self.flow.incoming.get(node.id, ()):
            parent = self.flow.by_id.get(edge.source)
            if (
                parent is None
                or not may_run(parent, self._entry, self.reachable)
                or on_unmatched_branch(
                    self.flow, parent.id, self._gate_outputs, self._unmatched_memo
                )
            ):
                continue
            outputs = self.execute_node(parent.id)
            if outputs is None:
                continue
            for key, value in outputs.items():
                if not (_is_empty(value) and not _is_empty(scope.flat.get(key))):
                    scope.flat[key] = value
                scope.scoped[f"{parent.id}.{key}"] = value
            scope.last = outputs
        return scope

    # ------------------------------------------------------------------ references (§5.3)

    def _reference_outputs(self, node_id: str) -> Mapping[str, Any] | None:
        """Outputs of ``node_id`` for a ``${nodeId.path}`` reference, run on demand if needed."""
        cached = self.cache.get(node_id)
        if cached is not None:
            return cached
        node = self.flow.by_id.get(node_id)
        if node is None or node.is_trigger:
            return None
        try:
            if on_unmatched_branch(self.flow, node_id, self._gate_outputs, self._unmatched_memo):
                return None
            return self._run_node(node_id)
        except ExecutionError as error:
            if self.cancel_event.is_set():
                raise
            self.logger.log(
                "warning", "unable to run referenced node", id=node_id, error=error.message
            )
            return None

    # ------------------------------------------------------------------ unmatched branches (§4.7)

    def _gate_outputs(self, source: Node) -> Outputs | None:
        """A gating node's outputs, running its phase 1 on demand when it has not run yet."""
        cached = self.cache.get(source.id)
        if cached is not None:
            return cached
        if not may_run(source, self._entry, self.reachable):
            return None
        return self._run_node(source.id)

    # ------------------------------------------------------------------ phase 2 (§4.6)

    def _child_targets(self, node: Node, outputs: Outputs) -> list[str]:
        """Run what phase 2 runs before the children (a loop, a sub-flow, a tool loop); the
        children §4.6 names."""
        if node.is_action("subflow/end"):
            return []
        looped = False
        if node.routing_type == ROUTING_LOOP:
            run_loop(self, node)
        elif node.routing_type not in GATING_TYPES:
            if node.is_action("subflow/invoke") and "__subflow_name" in outputs:
                run_subflow(self, node, outputs)
            looped = REQUESTS_KEY in outputs
            if looped:
                outputs = run_tool_loop(self, node, outputs)
        return child_targets(self.flow, node, outputs, looped=looped)

    def _walk_children(self, node_id: str, outputs: Outputs) -> None:
        # Triggers, subflow/begin nodes and executing nodes are dropped; a repeated child keeps
        # its first place (§4.6).
        children: list[str] = []
        for child_id in dict.fromkeys(self._child_targets(self.flow.by_id[node_id], outputs)):
            child = self.flow.by_id.get(child_id)
            if (
                child is None
                or child.is_trigger
                or child.is_action("subflow/begin")
                or child_id in self._executing
                # Already walked (or being walked) from another parent: walking it again would
                # repeat work without running anything (each action runs once, §4.6).
                or child_id in self._traversed
            ):
                continue
            children.append(child_id)
        for child_id in children:
            self._run_node(child_id)
            self._traversed.add(child_id)
        for child_id in children:
            self._walk_children(child_id, self.cache.get(child_id) or {})

    # ------------------------------------------------------------------ loops, sub-flows, tools

    def forget(self, node_ids: Iterable[str]) -> None:
        """Drop the nodes' cached outputs and traversed marks (a region about to run again)."""
        for node_id in node_ids:
            self.cache.pop(node_id, None)
            self._traversed.discard(node_id)
        self._unmatched_memo.clear()

    def run_tool(self, node_id: str) -> str | None:
        """Run a tools-handle node and its subgraph afresh; its hard error, or None."""
        self.forget(self.flow.forward_reachable([node_id]))
        try:
            self.execute_node(node_id)
        except ExecutionError as failure:
            return failure.message
        return None

    def rerun_node(self, node_id: str) -> Outputs | None:
        """Run a node's action again (new events); its outputs, or None."""
        self.forget({node_id})
        rerun = self._run_node(node_id)
        self._traversed.add(node_id)
        return rerun

    # ------------------------------------------------------------------ On Error (§4.10)

    def _run_on_error(self, error: ExecutionError) -> bool:
        """Run the On Error chain; True when it completed (the error is then handled)."""
        handler = self.flow.first("error/on_error")
        if handler is None:
            return False
        self._in_error_chain = True
        failing = self.flow.by_id.get(error.node_id or "")
        outputs: Outputs = {
            "error_message": error.message,
            "error_node_id": error.node_id or "",
            "error_node_label": failing.label if failing is not None else "",
            "error_node_type": failing.type if failing is not None else "",
        }
        self.cache[handler.id] = outputs
        self._calls.record_bare_success(handler, outputs)
        self._had_error = True
        self.reachable |= self.flow.forward_reachable([handler.id])
        self._traversed.add(handler.id)
        try:
            self._walk_children(handler.id, outputs)
        except ExecutionError:
            return False
        return True
