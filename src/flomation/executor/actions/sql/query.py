"""``sql/query``: run one SQL statement against PostgreSQL, MySQL/MariaDB or SQLite.

Inputs are upstream's (flomation-co/executor: actions/sql/query/action.go): ``driver``,
``host``, ``port``, ``username``, ``password``, ``database``, ``query``, ``ssl_mode``; results
follow upstream's newest shared SQL code (actions/sql/common.go): rows for ``SELECT``/``WITH``,
``results: null`` and the affected row count otherwise, ``failed to ping database: ...`` and
``query execution failed: ...`` errors.

Deliberate differences (upstream's sql/query only ever ran ``Exec`` through lib/pq and returned
``results: null``; it also logged the connection string with the password):

- ``driver`` selects ``postgres``/``postgresql``, ``mysql``/``mariadb`` or ``sqlite``/``sqlite3``;
- ``parameters`` (a JSON array) is bound to the statement's placeholders (``$1`` PostgreSQL,
  ``?`` MySQL and SQLite), never interpolated into the text;
- ``ssl_mode`` true requires TLS (upstream's boolean never matched a mode, so TLS was off);
- for SQLite, ``database`` is a file inside the work directory (or ``:memory:``);
- at most 100,000 rows are returned; the password is masked wherever the node reports.
"""

from __future__ import annotations

import json

from flomation.executor.accessors import find_input, read_bool, read_number, read_string
from flomation.executor.actions.base import (
    ActionContext,
    ActionSpec,
    Connection,
    HardError,
    Outputs,
)
from flomation.executor.actions.file._confine import confined_path
from flomation.executor.actions.sql._databases import QueryError, Target, run_statement

__all__ = ["SPEC", "run"]

_DRIVERS = {
    "postgres": "postgres",
    "postgresql": "postgres",
    "mysql": "mysql",
    "mariadb": "mysql",
    "sqlite": "sqlite",
    "sqlite3": "sqlite",
}
_DEFAULT_PORTS = {"postgres": 5432, "mysql": 3306}

SPEC = ActionSpec(
    id="sql/query",
    name="SQL Query",
    description="Run a SQL statement against PostgreSQL, MySQL/MariaDB or SQLite",
    icon="database",
    inputs=(
        Connection(
            "driver",
            "string",
            "Database Driver",
            options=(
                {"name": "PostgreSQL", "value": "postgres"},
                {"name": "MySQL / MariaDB", "value": "mysql"},
                {"name": "SQLite", "value": "sqlite"},
            ),
        ),
        Connection("host", "string", "Database Host"),
        Connection("port", "integer", "Database Port"),
        Connection("username", "string", "Database Username"),
        Connection("password", "string", "Database Password", secret=True),
        Connection("database", "string", "Database Name"),
        Connection("query", "string", "SQL Query"),
        Connection("ssl_mode", "boolean", "SSL Mode"),
        Connection(
            "parameters",
            "object",
            "Parameters (JSON array)",
            placeholder='["value for $1 / first ?", 42]',
        ),
    ),
    outputs=(
        Connection("results", "object", "Results"),
        Connection("row_count", "integer", "Row Count"),
    ),
    extra={
        "differences": [
            "driver also accepts mysql/mariadb and sqlite (upstream: lib/pq only)",
            "parameters (JSON array) are bound to $1 / ? placeholders",
            "ssl_mode true requires TLS (upstream's boolean never selected a mode)",
            "SELECT/WITH return rows and row_count as upstream's actions/sql/common.go "
            "(upstream's sql/query always returned results: null)",
            "SQLite databases are files inside the work directory",
            "at most 100,000 rows are returned",
        ]
    },
)


def _parameters(ctx: ActionContext) -> list[object]:
    item = find_input(ctx.inputs, "parameters")
    value = None if item is None else item.value
    if isinstance(value, str):
        if not value.strip():
            return []
        try:
            value = json.loads(value)
        except ValueError as error:
            raise HardError(f"parameters must be a JSON array: {error}") from None
    if value is None:
        return []
    if not isinstance(value, list):
        raise HardError("parameters must be a JSON array")
    return [
        json.dumps(item, separators=(",", ":")) if isinstance(item, dict | list) else item
        for item in value
    ]


def run(ctx: ActionContext) -> Outputs:
    """Run the statement; ``{results, row_count}``."""
    driver_name = (read_string(ctx.inputs, "driver") or "").strip().lower()
    kind = _DRIVERS.get(driver_name)
    if kind is None:
        raise HardError(f"unsupported driver: {driver_name or '(none)'}")
    statement = read_string(ctx.inputs, "query") or ""
    if not statement.strip():
        raise HardError("query is required")
    database = read_string(ctx.inputs, "database") or ""
    if kind == "sqlite":
        if not database:
            raise HardError("database is required")
        if database != ":memory:":
            database = str(confined_path(ctx.work_dir, database))
        host, port = "", 0
    else:
        host = read_string(ctx.inputs, "host") or ""
        if not host:
            raise HardError("host is required")
        port = read_number(ctx.inputs, "port") or _DEFAULT_PORTS[kind]
    target = Target(
        kind=kind,
        host=host,
        port=port,
        username=read_string(ctx.inputs, "username") or "",
        password=read_string(ctx.inputs, "password") or "",
        database=database,
        tls=read_bool(ctx.inputs, "ssl_mode") is True,
    )
    ctx.log("info", "Connecting to database", driver=kind, host=host, port=port, database=database)
    try:
        return run_statement(target, statement, _parameters(ctx), ctx.cancel_event)
    except QueryError as error:
        raise HardError(str(error)) from None
