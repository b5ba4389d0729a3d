"""Per-conversation serialisation: updates of one chat are handled one at a time (review C1).

In one process an ``asyncio.Lock`` per key (kept only while someone holds or waits for it); across processes on
PostgreSQL a transaction-scoped advisory lock on a 64-bit hash of the same key, released by the commit (for an
update with a de-duplication key the dispatcher takes it inside that INSERT: ``_LOCKED_FIRST_DELIVERY``). SQLite
needs no second lock: every transaction there starts with ``BEGIN IMMEDIATE`` (``bot.storage.db``), so writers
are serialised by the database itself.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


class KeyedLocks:
    """``async with locks.hold(key):`` — one holder per key at a time, first come first served."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock_now, users_now = self._locks[key]
            if users_now <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock_now, users_now - 1)

    def __len__(self) -> int:
        return len(self._locks)


def advisory_key(key: str) -> int:
    """A signed 64-bit number for ``pg_advisory_xact_lock`` (stable across processes and restarts)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


async def lock_across_processes(session: AsyncSession, key: str) -> None:
    """Inside the caller's transaction: wait until no other process's transaction holds ``key`` (PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": advisory_key(key)})
