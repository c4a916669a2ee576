"""sql/query against the machine's PostgreSQL (127.0.0.1:5432) and MariaDB (127.0.0.1:3306), and
SQLite. Every test works in a database of its own, created and dropped by its fixture; a missing
service fails the test with its name and address.

Result shapes follow flomation-co/executor: actions/sql/common.go (rows for SELECT/WITH, the
affected row count otherwise).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from executor.engine_harness import edge, flow_document, node, run_engine, value
from flomation.executor.actions.base import HardError
from flomation.executor.actions.sql import query

MakeContext = Callable[..., Any]
HOSTILE = "x'); DROP TABLE people; --"


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database on 127.0.0.1:5432 (user postgres, trust), dropped after."""
    import psycopg

    name = f"flo_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(
            host="127.0.0.1",
            port=5432,
            user="postgres",
            dbname="postgres",
            autocommit=True,
            connect_timeout=5,
        )
    except psycopg.Error as error:
        pytest.fail(f"PostgreSQL is not reachable at 127.0.0.1:5432 (user postgres): {error}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield name
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def mariadb_database() -> Iterator[str]:
    """A fresh MariaDB database on 127.0.0.1:3306 (root, empty password), dropped after."""
    import mysql.connector

    name = f"flo_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = mysql.connector.connect(
            host="127.0.0.1", port=3306, user="root", password="", connection_timeout=5
        )
    except mysql.connector.Error as error:
        pytest.fail(f"MariaDB/MySQL is not reachable at 127.0.0.1:3306 (user root): {error}")
    cursor = admin.cursor()
    cursor.execute(f"CREATE DATABASE `{name}`")
    try:
        yield name
    finally:
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


def _rows(
    driver: str, database: str, statement: str, *parameters: Any
) -> list[tuple[str, str, Any]]:
    rows: list[tuple[str, str, Any]] = [
        ("driver", "string", driver),
        ("database", "string", database),
        ("query", "text", statement),
        ("parameters", "object", list(parameters)),
    ]
    if driver == "postgres":
        rows += [("host", "string", "127.0.0.1"), ("port", "integer", 5432)]
        rows += [("username", "string", "postgres"), ("password", "string", "")]
    elif driver == "mysql":
        rows += [("host", "string", "127.0.0.1"), ("port", "integer", 3306)]
        rows += [("username", "string", "root"), ("password", "string", "")]
    return rows


def _exercise(make_ctx: MakeContext, driver: str, database: str, placeholders: list[str]) -> None:
    first, second = placeholders

    def run(statement: str, *parameters: Any) -> dict[str, Any]:
        return query.run(make_ctx(*_rows(driver, database, statement, *parameters)))

    created = run("CREATE TABLE people (name VARCHAR(100), age INTEGER)")
    assert created == {"results": None, "row_count": 0}
    inserted = run(f"INSERT INTO people (name, age) VALUES ({first}, {second})", HOSTILE, 41)
    assert inserted == {"results": None, "row_count": 1}
    run(f"INSERT INTO people (name, age) VALUES ({first}, {second})", "Ada", 36)
    selected = run(f"SELECT name, age FROM people WHERE age > {first} ORDER BY age", 30)
    assert selected == {
        "results": [{"name": "Ada", "age": 36}, {"name": HOSTILE, "age": 41}],
        "row_count": 2,
    }
    with_query = run(
        f"WITH t AS (SELECT name FROM people WHERE name = {first}) SELECT * FROM t", HOSTILE
    )
    assert with_query["results"] == [{"name": HOSTILE}]
    updated = run(f"UPDATE people SET age = age + 1 WHERE age < {first}", 100)
    assert updated == {"results": None, "row_count": 2}
    empty = run(f"SELECT name FROM people WHERE name = {first}", "nobody")
    assert empty == {"results": [], "row_count": 0}


def test_postgres_parameters_are_bound(make_ctx: MakeContext, postgres_database: str) -> None:
    """PostgreSQL: $1/$2 placeholders bound; a hostile value is stored verbatim."""
    _exercise(make_ctx, "postgres", postgres_database, ["$1", "$2"])


def test_mariadb_parameters_are_bound(make_ctx: MakeContext, mariadb_database: str) -> None:
    """MariaDB/MySQL: ? placeholders bound server-side; a hostile value is stored verbatim."""
    _exercise(make_ctx, "mysql", mariadb_database, ["?", "?"])


def test_sqlite_parameters_are_bound(make_ctx: MakeContext, tmp_path: Path) -> None:
    """SQLite: a file in the work directory; ? placeholders bound."""
    (tmp_path / "data").mkdir()
    _exercise(make_ctx, "sqlite", "data/app.db", ["?", "?"])
    assert (tmp_path / "data" / "app.db").is_file()


def test_sqlite_database_outside_the_work_dir_is_refused(make_ctx: MakeContext) -> None:
    """A SQLite path escaping the work directory is a hard error."""
    with pytest.raises(HardError) as caught:
        query.run(make_ctx(*_rows("sqlite", "../elsewhere.db", "SELECT 1")))
    assert caught.value.message == "file path escapes the execution directory"


def test_postgres_value_types(make_ctx: MakeContext, postgres_database: str) -> None:
    """Column values arrive as JSON-ready values: exact numerics and JSON as text, NULL as null."""
    out = query.run(
        make_ctx(
            *_rows(
                "postgres",
                postgres_database,
                "SELECT 1.50::numeric AS n, 2.5::float8 AS f, true AS b, NULL AS z, "
                "'{\"a\": 1}'::jsonb AS j, 'x'::bytea AS raw, DATE '2026-12-06' AS d",
            )
        )
    )
    assert out["results"] == [
        {"n": "1.50", "f": 2.5, "b": True, "z": None, "j": '{"a":1}', "raw": "x", "d": "2026-12-06"}
    ]


def test_errors_name_the_failure(make_ctx: MakeContext, postgres_database: str) -> None:
    """Connection and statement failures are hard errors with upstream's prefixes."""
    with pytest.raises(HardError) as bad_sql:
        query.run(make_ctx(*_rows("postgres", postgres_database, "SELEC nonsense")))
    assert bad_sql.value.message.startswith("query execution failed: ")
    rows = _rows("postgres", postgres_database, "SELECT 1")
    rows = [row if row[0] != "port" else ("port", "integer", 1) for row in rows]
    with pytest.raises(HardError) as refused:
        query.run(make_ctx(*rows))
    assert refused.value.message.startswith("failed to ping database: ")
    with pytest.raises(HardError) as unknown:
        query.run(make_ctx(*_rows("oracle", "x", "SELECT 1")))
    assert unknown.value.message == "unsupported driver: oracle"


def test_password_is_masked(tmp_path: Path, mariadb_database: str) -> None:
    """A wrong password is masked in the node's inputs, error and log lines."""
    password = "Wr0ng-secret-pw"
    inputs = [
        value("driver", "mysql"),
        value("host", "127.0.0.1"),
        value("port", 3306, "integer"),
        value("username", password),
        value("password", password),
        value("database", mariadb_database),
        value("query", "SELECT 1"),
    ]
    document = flow_document(
        [node("t", "trigger/manual", 1), node("x", "sql/query", inputs=inputs)], [edge("t", "x")]
    )
    run = run_engine(tmp_path, document)
    record = run.result.records["x"]
    assert record.status == "failed" and record.error.startswith("failed to ping database: ")
    assert "********" in record.error
    assert password not in record.to_json() + str(run.events) + str(run.logs)
