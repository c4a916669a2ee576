"""The server's database: every SQL statement, grouped by area behind one facade.

``Store`` (facade.py) is what handlers call. Each area keeps its queries next to their
neighbours: runners.py (queues, runners), environments.py, flows.py, executions.py, logs.py,
nonces.py; schema.py holds the tables, migrations.py (with alembic/) their migrations,
database.py the connections (SQLite or PostgreSQL), rows.py the
conversions between rows and records. Section numbers (§) refer to docs/protocol.md.
"""

from flomation.server.store.database import Backend, database_backend, sqlite_path
from flomation.server.store.delivery import ConfirmOutcome
from flomation.server.store.facade import Store
from flomation.server.store.retention import PruneBatch
from flomation.server.store.types import (
    CancelOutcome,
    ConflictError,
    DatabaseUrlError,
    ExecutionFilter,
    LogBatch,
    LogBatchError,
    NewRunner,
    NotAssignedError,
    ReapedExecution,
    RegistrationOutcome,
    ReplayedNonceError,
    ResultOutcome,
    ResumeOutcome,
    SignatureNonce,
    StoreNotFoundError,
)

__all__ = [
    "Backend",
    "CancelOutcome",
    "ConfirmOutcome",
    "ConflictError",
    "DatabaseUrlError",
    "ExecutionFilter",
    "LogBatch",
    "LogBatchError",
    "NewRunner",
    "NotAssignedError",
    "PruneBatch",
    "ReapedExecution",
    "RegistrationOutcome",
    "ReplayedNonceError",
    "ResultOutcome",
    "ResumeOutcome",
    "SignatureNonce",
    "Store",
    "StoreNotFoundError",
    "database_backend",
    "sqlite_path",
]
