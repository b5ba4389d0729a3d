"""Scheduler leadership: exactly one process runs timed work (broadcasts, reminders, purges).

On PostgreSQL the leader is whoever holds a session-level advisory lock (``pg_try_advisory_lock``) on a
DEDICATED connection (not from the pool: the lock lives exactly as long as that connection). When the
leader process dies or its connection drops, PostgreSQL releases the lock and a standby that retries
every few seconds takes over. The leader re-checks its connection at the same pace and stops leading
as soon as the connection is gone (another node may already hold the lock by then).

On SQLite there is only ever one process (single writer), so it is always the leader, in-process.

Use :func:`run_as_leader` to run something (the scheduler) only while leading::

    await run_as_leader(rt.start_scheduler, lambda s: s.shutdown(), Leadership(url), stop_event=stop)

``Runtime.start()`` leads the scheduler with :func:`start_as_leader`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_LOCK_NAME = "jaganetral:scheduler"
CONNECT_TIMEOUT = 10.0
CHECK_TIMEOUT = 5.0


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``name``.

    Not ``bot.core.locks.advisory_key`` (a different hash, for the per-chat transaction locks): the two key spaces
    are independent, and changing this hash would let a process of the old release and one of the new both hold
    "the" scheduler lock during a rolling upgrade, so both would run the scheduler."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def asyncpg_dsn(url: str) -> str:
    """``postgresql+asyncpg://…`` (SQLAlchemy) → ``postgresql://…`` (asyncpg)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Leadership:
    """Holds (or not) the advisory lock ``name`` of the database at ``url``."""

    def __init__(self, url: str, *, name: str = DEFAULT_LOCK_NAME) -> None:
        self.url = url
        self.name = name
        self.key = lock_key(name)
        self.is_postgres = make_url(url).get_backend_name() == "postgresql"
        self.is_leader = False
        self._conn: Any = None  # asyncpg.Connection while leading (PostgreSQL)

    async def acquire(self) -> bool:
        """Try once, without blocking. True when this object is (now or already) the leader."""
        if self.is_leader and await self.check():
            return True
        if not self.is_postgres:
            self.is_leader = True
            return True
        import asyncpg

        conn = None
        try:
            conn = await asyncpg.connect(asyncpg_dsn(self.url), timeout=CONNECT_TIMEOUT)
            got = bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", self.key, timeout=CHECK_TIMEOUT))
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("leadership: database unreachable", extra={"lock": self.name, "error": type(exc).__name__})
            if conn is not None:
                await _close(conn)
            return False
        if not got:
            await _close(conn)
            return False
        self._conn = conn
        self.is_leader = True
        log.info("leadership acquired", extra={"lock": self.name})
        return True

    async def check(self) -> bool:
        """While leading: is the lock connection still alive? (If not, we are no longer the leader.)"""
        if not self.is_leader:
            return False
        if not self.is_postgres:
            return True
        conn = self._conn
        try:
            if conn is None or conn.is_closed():
                raise ConnectionError("lock connection closed")
            await conn.fetchval("SELECT 1", timeout=CHECK_TIMEOUT)
        except Exception as exc:
            log.warning("leadership lost: lock connection failed",
                        extra={"lock": self.name, "error": type(exc).__name__})
            self.is_leader = False
            self._conn = None
            if conn is not None:
                await _close(conn)
            return False
        return True

    async def release(self) -> None:
        """Give up leadership (unlock and close the dedicated connection). Safe to call when not leading."""
        was = self.is_leader
        self.is_leader = False
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if not conn.is_closed():
                await conn.fetchval("SELECT pg_advisory_unlock($1)", self.key, timeout=CHECK_TIMEOUT)
        except Exception as exc:  # closing the connection releases the lock anyway
            log.info("leadership: unlock failed, closing", extra={"lock": self.name, "error": type(exc).__name__})
        finally:
            await _close(conn)
        if was:
            log.info("leadership released", extra={"lock": self.name})

    async def wait_until_acquired(self, retry_seconds: float, stop_event: asyncio.Event | None = None) -> bool:
        """Retry :meth:`acquire` every ``retry_seconds`` until it succeeds (True) or ``stop_event`` is set."""
        while not (stop_event is not None and stop_event.is_set()):
            if await self.acquire():
                return True
            if await _wait(stop_event, retry_seconds):
                break
        return False

    async def hold(self, retry_seconds: float, stop_event: asyncio.Event | None = None) -> bool:
        """While leading, re-check the lock connection every ``retry_seconds``.

        Returns True when ``stop_event`` was set (still leading), False when leadership was lost.
        """
        while await self.check():
            if await _wait(stop_event, retry_seconds):
                return True
        return False


async def _close(conn: Any) -> None:
    try:
        await asyncio.wait_for(conn.close(), CHECK_TIMEOUT)
    except Exception:
        conn.terminate()


async def _wait(stop_event: asyncio.Event | None, seconds: float) -> bool:
    """Sleep up to ``seconds``; True as soon as ``stop_event`` is set."""
    if stop_event is None:
        await asyncio.sleep(seconds)
        return False
    try:
        await asyncio.wait_for(stop_event.wait(), seconds)
    except TimeoutError:
        return False
    return True


_NOT_STARTED: Any = object()


async def run_as_leader(
    start: Callable[[], Awaitable[T]],
    stop: Callable[[T], Awaitable[object]],
    leadership: Leadership,
    *,
    retry_seconds: float = 5.0,
    stop_event: asyncio.Event | None = None,
) -> None:
    """Run ``start()`` whenever this process becomes the leader and ``stop(result)`` when it stops leading.

    Loops until ``stop_event`` is set or the task is cancelled: standby → (lock acquired) → leading →
    (connection lost) → standby … Always stops what it started and releases the lock on the way out.
    After losing the lock the old leader may still run for up to ``retry_seconds`` before it notices, so
    the work must be idempotent (the scheduler's is: idem keys on every outbox row).
    """
    await _lead(start, stop, leadership, retry_seconds, stop_event, _NOT_STARTED)


async def start_as_leader(
    start: Callable[[], Awaitable[T]],
    stop: Callable[[T], Awaitable[object]],
    leadership: Leadership,
    *,
    retry_seconds: float = 5.0,
    name: str = "leader",
) -> asyncio.Task[None]:
    """Like :func:`run_as_leader` in a background task, but tries once first: when the lock is free,
    ``start()`` has run before this returns (a single node behaves exactly as without leadership).
    Cancel the returned task to stop what was started and release the lock."""
    started: Any = _NOT_STARTED
    if await leadership.acquire():
        try:
            started = await start()
        except BaseException:
            await leadership.release()
            raise
    return asyncio.create_task(_lead(start, stop, leadership, retry_seconds, None, started), name=name)


async def _lead(
    start: Callable[[], Awaitable[T]],
    stop: Callable[[T], Awaitable[object]],
    leadership: Leadership,
    retry_seconds: float,
    stop_event: asyncio.Event | None,
    started: Any,
) -> None:
    try:
        while not (stop_event is not None and stop_event.is_set()):
            if started is _NOT_STARTED:
                if not await leadership.wait_until_acquired(retry_seconds, stop_event):
                    break
                try:
                    started = await start()
                except Exception:
                    log.exception("leader: start failed; giving up leadership for now",
                                  extra={"lock": leadership.name})
                    await leadership.release()
                    if await _wait(stop_event, retry_seconds):
                        break
                    continue
            try:
                stopped = await leadership.hold(retry_seconds, stop_event)
            finally:
                current, started = started, _NOT_STARTED
                with contextlib.suppress(Exception):
                    await asyncio.shield(_stop_quietly(stop, current, leadership.name))
            if stopped:
                break
            log.warning("leader: lost leadership; back to standby", extra={"lock": leadership.name})
            if await _wait(stop_event, retry_seconds):  # let a healthy standby take over first
                break
    finally:
        await asyncio.shield(leadership.release())


async def _stop_quietly(stop: Callable[[T], Awaitable[object]], started: T, name: str) -> None:
    try:
        await stop(started)
    except Exception:
        log.exception("leader: stop failed", extra={"lock": name})
