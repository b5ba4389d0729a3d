"""Engine and sessions: SQLite (WAL, busy timeout) by default, PostgreSQL (asyncpg) in production.

SQLite transactions follow SQLAlchemy's documented pysqlite/aiosqlite recipe ("Serializable isolation /
Savepoints / Transactional DDL"): the driver's own transaction handling is switched off
(``isolation_level = None``) and every SQLAlchemy transaction emits ``BEGIN IMMEDIATE`` itself. Without it the
driver starts a transaction only before a write, so ``session.begin_nested()`` issued first became the outer
transaction and its RELEASE a COMMIT: the update's de-duplication row committed before the handler ran.
IMMEDIATE takes the write lock at the start (waiting up to the busy timeout): a transaction that reads and
then writes cannot fail on a lock upgrade because another connection committed in between.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from bot.storage import sqlite_driver

SessionMaker = async_sessionmaker[AsyncSession]


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()
    dbapi_conn.isolation_level = None  # the driver emits no BEGIN/COMMIT of its own (see module docstring)


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    u = make_url(url)
    # hide_parameters: an error's text (logged by "handler failed") never carries bound values such as a
    # conversation's draft tip or a sealed address.
    kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        if u.database and u.database != ":memory:":
            path = u.database

            async def connect() -> sqlite_driver.Connection:
                return await sqlite_driver.connect(path)

            kwargs["async_creator"] = connect  # one thread hand-off per statement (bot/storage/sqlite_driver.py)
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    kwargs.update(pool_pre_ping=True, pool_size=10, max_overflow=10)
    return create_async_engine(url, **kwargs)


def session_maker(engine: AsyncEngine) -> SessionMaker:
    return async_sessionmaker(engine, expire_on_commit=False)


_INSERTS = {"postgresql": pg_insert, "sqlite": sqlite_insert}  # the dialects' INSERTs with ON CONFLICT


def insert_ignore(session: AsyncSession, table: Any) -> Any:
    """INSERT … ON CONFLICT DO NOTHING for the session's dialect."""
    return _INSERTS.get(session.get_bind().dialect.name, sqlite_insert)(table)


def per_dialect_insert(table: Any, build: Callable[[Any], Any]) -> dict[str, Any]:
    """``build(insert)`` for each dialect's INSERT into ``table`` (ON CONFLICT clauses are dialect-specific), keyed
    by the dialect's name: built once, for statements run on every update (building one per call costs more
    than running it)."""
    return {name: build(make(table)) for name, make in _INSERTS.items()}


def insert_ignore_returning(table: Any, unique: str, returning: Any) -> dict[str, Any]:
    """``INSERT … ON CONFLICT (unique) DO NOTHING RETURNING returning``, per dialect (``per_dialect_insert``)."""
    return per_dialect_insert(
        table, lambda ins: ins.on_conflict_do_nothing(index_elements=[unique]).returning(returning)
    )


def rowcount(result: Any) -> int:
    """Rows an UPDATE or DELETE touched (``execute`` is typed as returning ``Result``; it is a ``CursorResult``)."""
    return int(cast(CursorResult[Any], result).rowcount or 0)
