"""The throw-away PostgreSQL server used by the test-suite (tests/support/pg_server.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support import pg_server
from tests.support.pg_server import ExternalPostgres, PostgresUnavailable, TempPostgres, find_pg_bin

ROOT = Path(__file__).resolve().parents[2]


def _require_binaries() -> None:
    if find_pg_bin() is not None:
        return
    if os.environ.get("CI"):
        pytest.fail("CI: PostgreSQL server binaries (initdb/pg_ctl) are missing; scripts/test.sh installs them")
    pytest.skip("PostgreSQL server binaries not installed (apt-get install postgresql)")


@pytest.fixture(scope="module")
def temp_pg() -> Iterator[TempPostgres]:
    _require_binaries()
    server = TempPostgres()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _wait_gone(path: Path, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not path.exists():
            return True
        time.sleep(0.05)
    return not path.exists()


async def _scalar(url: str, sql: str) -> object:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text(sql))).scalar()
    finally:
        await engine.dispose()


def test_find_pg_bin_points_at_server_binaries() -> None:
    _require_binaries()
    bin_dir = find_pg_bin()
    assert bin_dir is not None
    for name in ("initdb", "pg_ctl", "postgres"):
        assert os.access(bin_dir / name, os.X_OK), name


async def test_url_shape_and_select_1(temp_pg: TempPostgres) -> None:
    url = temp_pg.url
    assert url == f"postgresql+asyncpg://{temp_pg.user}@127.0.0.1:{temp_pg.port}/jaganetral"
    assert await _scalar(url, "select 1") == 1
    settings = await _scalar(url, "select current_setting('fsync') || ',' || current_setting('synchronous_commit')"
                             " || ',' || current_setting('full_page_writes')")
    assert settings == "off,off,off"
    assert temp_pg.socket_dir is not None and any(p.name.startswith(".s.PGSQL") for p in temp_pg.socket_dir.iterdir())


async def test_skip_locked_and_advisory_locks(temp_pg: TempPostgres) -> None:
    url = temp_pg.create_database("locks_db")
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("create table jobs (id int primary key)"))
            await conn.execute(text("insert into jobs values (1), (2), (3)"))
        async with engine.connect() as a, engine.connect() as b:
            await a.begin()
            await b.begin()
            first = (await a.execute(text("select id from jobs order by id limit 1 for update skip locked"))).scalar()
            second = (await b.execute(text("select id from jobs order by id limit 1 for update skip locked"))).scalar()
            assert (first, second) == (1, 2)
            rest = (await b.execute(text("select id from jobs order by id for update skip locked"))).scalars().all()
            assert rest == [2, 3]  # b already holds 2; 1 stays invisible to b while a holds it
            await a.rollback()
            await b.rollback()

            assert (await a.execute(text("select pg_try_advisory_lock(4242)"))).scalar() is True
            assert (await b.execute(text("select pg_try_advisory_lock(4242)"))).scalar() is False
            assert (await a.execute(text("select pg_advisory_unlock(4242)"))).scalar() is True
            assert (await b.execute(text("select pg_try_advisory_lock(4242)"))).scalar() is True
            await b.execute(text("select pg_advisory_unlock_all()"))
            await a.commit()
            await b.commit()
    finally:
        await engine.dispose()


async def test_databases_are_isolated_and_templates_copy(temp_pg: TempPostgres) -> None:
    url_one = temp_pg.create_database("iso_one")
    url_two = temp_pg.create_database("iso_two")
    assert url_one.endswith("/iso_one") and url_two.endswith("/iso_two")
    engine = create_async_engine(url_one)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("create table marker (v text)"))
            await conn.execute(text("insert into marker values ('satu')"))
    finally:
        await engine.dispose()
    assert await _scalar(url_two, "select to_regclass('public.marker') is null") is True
    copy_url = temp_pg.create_database("iso_copy", template="iso_one")
    assert await _scalar(copy_url, "select v from marker") == "satu"
    temp_pg.drop_database("iso_copy")
    assert await _scalar(temp_pg.url, "select count(*) from pg_database where datname = 'iso_copy'") == 0


def test_invalid_database_names_rejected(temp_pg: TempPostgres) -> None:
    for bad in ("x; drop database postgres", "1abc", "a" * 64, 'a"b', ""):
        with pytest.raises(ValueError):
            temp_pg.create_database(bad)


async def test_external_wrapper_creates_and_drops(temp_pg: TempPostgres) -> None:
    ext = ExternalPostgres(temp_pg.url_for("postgres"))
    assert ext.start() == temp_pg.url_for("postgres")
    url = ext.create_database("ext_db")
    assert url == temp_pg.url_for("ext_db")
    assert await _scalar(url, "select current_database()") == "ext_db"
    ext.stop()
    assert await _scalar(temp_pg.url, "select count(*) from pg_database where datname = 'ext_db'") == 0


async def test_stop_removes_everything_and_is_idempotent() -> None:
    _require_binaries()
    port = pg_server.free_port()
    with TempPostgres(port=port) as server:
        url = server.url
        assert url == f"postgresql+asyncpg://jaganetral@127.0.0.1:{port}/jaganetral"
        assert server.port == port
        base = server.base_dir
        assert base is not None and (base / "data" / "PG_VERSION").exists()
        assert await _scalar(url, "select 2") == 2
    assert not base.exists()
    assert not server.running and server.base_dir is None
    server.stop()  # second stop is a no-op
    with pytest.raises(RuntimeError):
        server.create_database("after_stop")
    with pytest.raises((OSError, asyncio.TimeoutError)):  # noqa: PT012 (a connection that succeeds is closed)
        _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 2)
        writer.close()


def test_missing_binaries_raise_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg_server, "find_pg_bin", lambda: None)
    server = TempPostgres()
    with pytest.raises(PostgresUnavailable) as info:
        server.start()
    assert "initdb" in info.value.reason and "apt-get install postgresql" in info.value.reason
    assert server.base_dir is None


def test_find_pg_bin_honours_env_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("initdb", "pg_ctl", "postgres"):
        exe = tmp_path / name
        exe.write_text("#!/bin/sh\nexit 1\n")
        exe.chmod(0o755)
    monkeypatch.setenv("JAGANETRAL_PG_BIN", str(tmp_path))
    assert find_pg_bin() == tmp_path
    (tmp_path / "pg_ctl").unlink()  # incomplete directory: fall through to the real locations
    assert find_pg_bin() != tmp_path


def _start_cli() -> tuple[subprocess.Popen[str], str, Path]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.pg_server"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None and proc.stderr is not None
    url = proc.stdout.readline().strip()
    info = proc.stderr.readline().strip()
    assert url.startswith("postgresql+asyncpg://"), (url, info, proc.poll())
    data_dir = Path(info.split()[1])
    assert data_dir.is_dir()
    return proc, url, data_dir


async def test_cli_prints_url_and_stops_on_sigterm() -> None:
    _require_binaries()
    proc, url, data_dir = _start_cli()
    try:
        assert await _scalar(url, "select 3") == 3
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert not data_dir.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_watchdog_cleans_up_after_owner_is_killed() -> None:
    _require_binaries()
    proc, _url, data_dir = _start_cli()
    proc.kill()  # SIGKILL: no atexit, no finally
    proc.wait(10)
    assert _wait_gone(data_dir.parent), "cluster left behind after its owner died"
