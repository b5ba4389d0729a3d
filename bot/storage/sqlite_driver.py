"""aiosqlite with fewer hand-offs to its thread: one per statement instead of four.

aiosqlite runs every sqlite3 call on its own thread and hands each result back to the event loop. SQLAlchemy's
adapter makes four such calls per statement (open a cursor, execute, fetch all rows, close the cursor), and on
a busy loop each hand-off costs more CPU than SQLite takes to run a small statement. Here the cursor is opened
and closed in the loop's thread (cheap, and never at the same time as the thread uses the connection: every
call is awaited in turn), and execute + fetch run in one hand-off. The rows are then served from memory, as
SQLAlchemy's buffered cursor does anyway (it reads every row at once; nothing here streams results). The
pool's rollback of a connection it gets back after a commit needs no hand-off either.

Measured with ``benchmarks/inbound.py``; see docs/performance.md.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Iterable
from functools import partial
from typing import Any

import aiosqlite
from aiosqlite.context import contextmanager


def _execute_and_fetch(cursor: sqlite3.Cursor, sql: str, parameters: Any) -> list[Any] | None:
    cursor.execute(sql, parameters)
    return cursor.fetchall() if cursor.description else None


class _Cursor(aiosqlite.Cursor):
    _rows: deque[Any] | None = None

    async def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> _Cursor:
        rows = await self._execute(_execute_and_fetch, self._cursor, sql, () if parameters is None else parameters)
        self._rows = deque(rows) if rows is not None else None
        return self

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> _Cursor:
        self._rows = None
        await super().executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        if self._rows is None:
            return await super().fetchone()
        return self._rows.popleft() if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        if self._rows is None:
            return list(await super().fetchmany(size))
        n = self._cursor.arraysize if size is None else size
        return [self._rows.popleft() for _ in range(min(n, len(self._rows)))]

    async def fetchall(self) -> list[Any]:
        if self._rows is None:
            return list(await super().fetchall())
        rows, self._rows = list(self._rows), deque()
        return rows

    async def close(self) -> None:
        self._rows = None
        self._cursor.close()


class Connection(aiosqlite.Connection):
    """An aiosqlite connection whose cursors are :class:`_Cursor`."""

    @contextmanager
    async def cursor(self) -> aiosqlite.Cursor:
        return _Cursor(self, self._conn.cursor())

    async def rollback(self) -> None:
        """No hand-off when no transaction is open: the pool's reset of every returned connection, after a
        commit, is then free."""
        if self._conn.in_transaction:
            await super().rollback()


async def connect(path: str) -> Connection:
    """Open ``path``. ``check_same_thread=False``: cursors are opened and closed in the loop's thread, while
    every other call runs on the connection's thread — one at a time, each awaited before the next."""
    conn = Connection(partial(sqlite3.connect, path, check_same_thread=False), 64)
    conn._thread.daemon = True  # as SQLAlchemy does for its own aiosqlite connections: never blocks exit
    await conn
    return conn
