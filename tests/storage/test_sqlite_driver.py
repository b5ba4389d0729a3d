"""bot/storage/sqlite_driver.py: aiosqlite with one thread hand-off per statement, results unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.storage import sqlite_driver
from bot.storage.db import create_engine

pytestmark = pytest.mark.asyncio


def _count_handoffs(conn: sqlite_driver.Connection) -> list[str]:
    """Wrap this connection's ``_execute`` (aiosqlite's hand-off to its thread): records each call's function."""
    calls: list[str] = []
    real = conn._execute

    async def counting(fn: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(getattr(fn, "__name__", repr(fn)))
        return await real(fn, *args, **kwargs)

    conn._execute = counting  # type: ignore[method-assign]
    return calls


async def test_rows_are_served_as_sqlite3_would(tmp_path: Path) -> None:
    conn = await sqlite_driver.connect(str(tmp_path / "d.db"))
    try:
        async with conn.cursor() as cur:
            await cur.execute("CREATE TABLE t (n INTEGER)")
            await cur.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(250)])
            assert cur.rowcount == 250
            await cur.execute("INSERT INTO t VALUES (?)", (999,))
            assert cur.lastrowid == 251 and cur.rowcount == 1
            await cur.execute("SELECT n FROM t WHERE n < 250 ORDER BY n")
            assert await cur.fetchone() == (0,)
            assert await cur.fetchmany(3) == [(1,), (2,), (3,)]
            assert len(list(await cur.fetchmany())) == cur.arraysize  # the default size, as sqlite3's
            rest = list(await cur.fetchall())
            assert rest[0] == (4 + cur.arraysize,) and rest[-1] == (249,)
            assert await cur.fetchone() is None and await cur.fetchall() == []
            await cur.execute("SELECT n FROM t WHERE n = 999")
            assert [r async for r in cur] == [(999,)]
    finally:
        await conn.close()


async def test_a_rollback_inside_a_transaction_still_rolls_back(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}")
    try:
        async with engine.begin() as c:
            await c.execute(text("CREATE TABLE t (n INTEGER)"))
        async with engine.connect() as c:
            await c.execute(text("INSERT INTO t VALUES (1)"))
            await c.rollback()
            assert (await c.execute(text("SELECT count(*) FROM t"))).scalar() == 0
            await c.execute(text("INSERT INTO t VALUES (2)"))
        # left without commit: the row is gone (Connection.close rolls back, then the pool resets)
        async with engine.connect() as c:
            assert (await c.execute(text("SELECT count(*) FROM t"))).scalar() == 0
    finally:
        await engine.dispose()


async def test_errors_come_back_and_the_connection_still_works(tmp_path: Path) -> None:
    conn = await sqlite_driver.connect(str(tmp_path / "e.db"))
    try:
        async with conn.cursor() as cur:
            with pytest.raises(Exception, match="no such table"):
                await cur.execute("SELECT * FROM missing")
            await cur.execute("SELECT 41 + 1")
            assert await cur.fetchall() == [(42,)]
    finally:
        await conn.close()


async def test_one_handoff_per_statement_through_sqlalchemy(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 's.db'}")
    try:
        async with engine.connect() as c:
            raw = (await c.get_raw_connection()).driver_connection
            assert isinstance(raw, sqlite_driver.Connection)
            calls = _count_handoffs(raw)
            await c.execute(text("CREATE TABLE t (n INTEGER)"))
            await c.execute(text("INSERT INTO t VALUES (1), (2)"))
            rows = (await c.execute(text("SELECT n FROM t ORDER BY n"))).all()
            await c.commit()
        assert [r.n for r in rows] == [1, 2]
        # BEGIN IMMEDIATE and three statements: one hand-off each (aiosqlite made four per statement), + COMMIT;
        # the pool's reset (a rollback) of the connection given back after the commit makes none
        assert calls == ["_execute_and_fetch"] * 4 + ["commit"]
    finally:
        await engine.dispose()
