"""Operator actions shared by the admin API and the dashboard: each one changes the store and
then tells whoever waits (runners' long-polls, live viewers, metrics)."""

from __future__ import annotations

from typing import Any

from flomation.server.records import EnvironmentItemRecord, ExecutionRecord
from flomation.server.services import Services
from flomation.server.store import CancelOutcome, ResumeOutcome

__all__ = ["cancel_execution", "execute_flow", "put_environment_item", "resume_execution"]


async def execute_flow(
    services: Services, flo_id: str, data: dict[str, Any], entry_node_id: str | None
) -> str | None:
    """Create a ``created``/``pending`` execution and wake a runner for it (T1); None: no flow."""
    created = await services.store.create_execution(
        flo_id,
        data=data,
        entry_node_id=entry_node_id,
        owner_id=services.settings.admin_principal_id,
        now_s=services.clock(),
    )
    if created is None:
        return None
    execution_id, target = created
    services.metrics.executions_created.inc()
    services.dispatcher.notify(target)
    services.events.publish(execution_id)
    return execution_id


async def cancel_execution(
    services: Services, execution_id: str
) -> tuple[CancelOutcome, ExecutionRecord | None]:
    """Cancel an execution in progress or suspended (T8) and tell its viewers."""
    outcome, execution = await services.store.cancel(
        execution_id, "cancelled by operator", services.clock()
    )
    if outcome is CancelOutcome.CANCELLED and execution is not None:
        services.events.publish(execution.id)
    return outcome, execution


async def resume_execution(
    services: Services, execution_id: str, resume_data: Any, has_resume_data: bool
) -> tuple[ResumeOutcome, ExecutionRecord | None]:
    """Put a suspended execution back in the queue (T9), wake a runner and tell its viewers."""
    outcome, execution = await services.store.resume(
        execution_id, resume_data, has_resume_data, services.clock()
    )
    if outcome is ResumeOutcome.RESUMED and execution is not None:
        target = await services.store.dispatch_target(execution.id)
        if target is not None:
            services.dispatcher.notify(target)
        services.events.publish(execution.id)
    return outcome, execution


async def put_environment_item(
    services: Services,
    environment_id: str,
    kind: str,
    name: str,
    *,
    value: str | None = None,
    secret_value: str | None = None,
    provider: str | None = None,
    expires_at: str | None = None,
    metadata: object = None,
) -> EnvironmentItemRecord:
    """Create or replace a property (``value``) or a secret/credential (``secret_value``, sealed
    with the server's key before it is stored); StoreNotFoundError for an unknown environment."""
    sealed = (
        None
        if secret_value is None
        else services.secret_box.seal(secret_value, f"{environment_id}/{kind}/{name}")
    )
    return await services.store.put_environment_item(
        environment_id,
        kind,
        name,
        services.clock(),
        value=value,
        sealed=sealed,
        provider=provider,
        expires_at=expires_at,
        metadata=metadata,
    )
