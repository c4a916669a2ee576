"""The ``flomation-server`` console script as a real subprocess."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from flomation.server.admin_client import AdminClient
from flomation.server.store.migrations import HEAD_REVISION
from flomation.wire.jsontext import JsonObject

from .runner_client import SigningRunner

SCRIPT = Path(sys.executable).parent / "flomation-server"


def _start(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None, umask: int = -1
) -> subprocess.Popen[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FLOMATION_SERVER_")}
    environ.update(env or {})
    return subprocess.Popen(
        [str(SCRIPT), "--listen", "127.0.0.1:0", *args],
        cwd=tmp_path,
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        umask=umask,
    )


def _read_startup(process: subprocess.Popen[str]) -> tuple[str, list[JsonObject]]:
    """Read JSON log lines until the 'server listening' line; returns its URL and all lines."""
    assert process.stderr is not None
    lines: list[JsonObject] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        raw = process.stderr.readline()
        if not raw:
            raise AssertionError(f"server exited early: {process.wait()}")
        entry: JsonObject = json.loads(raw)
        lines.append(entry)
        if entry.get("event") == "server listening":
            return str(entry["url"]), lines
    raise AssertionError("server did not report its URL")


def _stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


async def test_console_script_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    """The script logs its bound URL and token once, serves, and exits 0 on SIGTERM promptly."""
    process = _start(tmp_path, "--poll-hold", "20")
    try:
        url, lines = _read_startup(process)
        generated = [line for line in lines if "admin_token" in line]
        assert len(generated) == 1
        token = str(generated[0]["admin_token"])
        token_file = tmp_path / ".flomation" / "admin-token"
        assert token_file.read_text().strip() == token
        assert token_file.stat().st_mode & 0o777 == 0o600
        async with aiohttp.ClientSession() as http, AdminClient(url, token) as admin:
            async with http.get(url + "/healthz") as response:
                assert response.status == 200
            queue = await admin.create_queue("q")
            runner = SigningRunner(url, http)
            assert (await runner.register(queue["registration_code"])).status == 200
            poll = asyncio.create_task(runner.poll())
            await asyncio.sleep(0.5)
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            answer = await poll
            assert answer.status == 204
            assert time.monotonic() - started < 5
        assert process.wait(timeout=15) == 0
    finally:
        _stop(process)

    second = _start(tmp_path)
    try:
        _, lines = _read_startup(second)
        assert not [line for line in lines if "admin_token" in line]
    finally:
        assert _stop(second) == 0


async def test_admin_token_from_environment(tmp_path: Path) -> None:
    """FLOMATION_SERVER_ADMIN_TOKEN is used as is and no token file is written."""
    process = _start(
        tmp_path,
        "--database",
        f"sqlite:///{tmp_path}/db/s.db",
        env={"FLOMATION_SERVER_ADMIN_TOKEN": "from-env"},
    )
    try:
        url, _ = _read_startup(process)
        async with AdminClient(url, "from-env") as admin:
            assert await admin.queues() == []
        assert not (tmp_path / "db" / "admin-token").exists()
        assert (tmp_path / "db" / "s.db").exists()
    finally:
        assert _stop(process) == 0


def test_bad_configuration_exits_non_zero(tmp_path: Path) -> None:
    """An invalid setting stops the script with exit status 2 and a message naming it."""
    result = subprocess.run(
        [str(SCRIPT), "--listen", "nowhere"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "listen" in result.stderr


def test_unusable_database_exits_1_with_reason(tmp_path: Path) -> None:
    """A corrupt SQLite file, an unsupported database, an unreachable PostgreSQL, or PostgreSQL
    without the secrets every replica shares, stop the script with 1 and the reason."""
    corrupt = tmp_path / "server.db"
    corrupt.write_bytes(b"not a database " * 20)
    key = "A" * 43 + "="
    cases = [
        (f"sqlite:///{corrupt}", {"FLOMATION_SERVER_SECRET_KEY": key}, "file is not a database"),
        ("mysql://db/flomation", {}, "unsupported database 'mysql'"),
        (
            "postgresql://postgres:hunter2@127.0.0.1:1/flomation",
            {"FLOMATION_SERVER_SECRET_KEY": key},
            "Connection refused",
        ),
        ("postgresql://postgres@127.0.0.1:1/flomation", {}, "FLOMATION_SERVER_SECRET_KEY"),
    ]
    for url, env, reason in cases:
        result = subprocess.run(
            [str(SCRIPT), "--listen", "127.0.0.1:0", "--database", url],
            cwd=tmp_path,
            env={**os.environ, "FLOMATION_SERVER_ADMIN_TOKEN": "t", **env},
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 1, result.stderr
        assert '"cannot start"' in result.stderr and reason in result.stderr, result.stderr
        assert "hunter2" not in result.stderr


async def test_database_files_are_private_even_with_umask_0(tmp_path: Path) -> None:
    """The database directory is created 0700 and the database, -wal, -shm and key files 0600."""
    process = _start(tmp_path, env={"FLOMATION_SERVER_ADMIN_TOKEN": "t0ken"}, umask=0)
    try:
        url, lines = _read_startup(process)
        async with AdminClient(url, "t0ken") as admin:
            await admin.create_queue("q")  # a registration code is now on disk
        state = tmp_path / ".flomation"
        modes = {path.name: path.stat().st_mode & 0o777 for path in state.iterdir()}
        assert state.stat().st_mode & 0o777 == 0o700
        assert modes == {
            name: 0o600 for name in ("server.db", "server.db-wal", "server.db-shm", "secret-key")
        }
        assert not [line for line in lines if "other users" in str(line.get("event"))]
    finally:
        assert _stop(process) == 0


async def test_start_warns_about_files_other_users_can_read(tmp_path: Path) -> None:
    """A database or directory left readable by others is named in a warning at start."""
    env = {"FLOMATION_SERVER_ADMIN_TOKEN": "t0ken"}
    process = _start(tmp_path, env=env)
    _read_startup(process)
    assert _stop(process) == 0
    state = tmp_path / ".flomation"
    state.chmod(0o755)
    (state / "server.db").chmod(0o644)

    process = _start(tmp_path, env=env)
    try:
        _, lines = _read_startup(process)
    finally:
        assert _stop(process) == 0
    warned = {
        str(line["path"]): line["mode"]
        for line in lines
        if line.get("level") == "warning" and "other users" in str(line.get("event"))
    }
    assert warned[str(state)] == "0755"
    assert warned[str(state / "server.db")] == "0644"
    assert str(state / "secret-key") not in warned


def _command(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.startswith("FLOMATION_")},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_migrate_and_backup_commands_work_on_the_database_without_serving(
    tmp_path: Path,
) -> None:
    """migrate brings a new SQLite database to the head and says so; backup copies it to a new
    0600 file, refuses an existing one and names pg_dump for PostgreSQL (exit 2 each)."""
    database = f"sqlite:///{tmp_path}/db/server.db"
    migrated = _command(tmp_path, "migrate", "--database", database)
    assert migrated.returncode == 0, migrated.stderr
    assert f"at revision {HEAD_REVISION} (was empty)" in migrated.stdout
    again = _command(tmp_path, "migrate", "--database", database)
    assert f"(was {HEAD_REVISION})" in again.stdout

    copy = tmp_path / "copy.db"
    backup = _command(tmp_path, "backup", str(copy), "--database", database)
    assert backup.returncode == 0, backup.stderr
    assert copy.stat().st_mode & 0o777 == 0o600
    with contextlib.closing(sqlite3.connect(copy)) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchone() == (HEAD_REVISION,)
    exists = _command(tmp_path, "backup", str(copy), "--database", database)
    assert (exists.returncode, "already exists" in exists.stderr) == (2, True)
    postgres = _command(tmp_path, "backup", "x.dump", "--database", "postgresql://h/db")
    assert (postgres.returncode, "pg_dump" in postgres.stderr) == (2, True)
    unsupported = _command(tmp_path, "migrate", "--database", "mysql://h/db")
    assert (unsupported.returncode, "unsupported database" in unsupported.stderr) == (2, True)
    unreachable = _command(tmp_path, "migrate", "--database", "postgresql://u@127.0.0.1:1/db")
    assert unreachable.returncode == 1 and "Traceback" not in unreachable.stderr
    missing = _command(tmp_path, "backup")
    assert missing.returncode == 2 and "path" in missing.stderr
