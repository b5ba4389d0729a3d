"""Scheduler leadership through a PostgreSQL advisory lock (and the trivial SQLite case)."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from bot.app.leader import Leadership, asyncpg_dsn, lock_key, run_as_leader
from tests.app.conftest import PG_ONLY


def test_lock_key_is_stable_signed_64_bit() -> None:
    key = lock_key("jaganetral:scheduler")
    assert key == lock_key("jaganetral:scheduler")
    assert key != lock_key("jaganetral:other")
    assert -(2**63) <= key < 2**63


@PG_ONLY
async def test_only_one_leader_and_handover_on_release(db_url: str) -> None:
    a, b = Leadership(db_url), Leadership(db_url)
    try:
        assert await a.acquire() is True
        assert await b.acquire() is False
        assert await a.acquire() is True  # already leading: no second (re-entrant) lock taken
        assert await b.acquire() is False
        await a.release()
        assert a.is_leader is False
        assert await b.acquire() is True
        assert await a.acquire() is False
    finally:
        await a.release()
        await b.release()
    # after both released, a fresh object gets it (the re-entrant count went back to zero)
    c = Leadership(db_url)
    assert await c.acquire() is True
    await c.release()


@PG_ONLY
async def test_lock_is_freed_when_the_leaders_connection_dies(db_url: str) -> None:
    a, b = Leadership(db_url), Leadership(db_url)
    try:
        assert await a.acquire()
        assert not await b.acquire()
        admin = await asyncpg.connect(asyncpg_dsn(db_url))
        try:  # the leader's backend is killed (crashed node, dropped network)
            pid = a._conn.get_server_pid()
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await admin.close()
        for _ in range(50):
            if await b.acquire():
                break
            await asyncio.sleep(0.05)
        assert b.is_leader
        assert await a.check() is False  # the old leader notices
        assert a.is_leader is False
    finally:
        await a.release()
        await b.release()


@PG_ONLY
async def test_different_lock_names_are_independent(db_url: str) -> None:
    a, b = Leadership(db_url, name="x"), Leadership(db_url, name="y")
    try:
        assert await a.acquire() and await b.acquire()
    finally:
        await a.release()
        await b.release()


@PG_ONLY
async def test_run_as_leader_runs_once_and_standby_takes_over(db_url: str) -> None:
    events: list[str] = []

    def node(name: str, retry: float) -> tuple[asyncio.Event, Leadership, asyncio.Task[None]]:
        stop = asyncio.Event()
        lead = Leadership(db_url)

        async def start() -> str:
            events.append(f"start:{name}")
            return name

        async def stop_fn(started: str) -> None:
            events.append(f"stop:{started}")

        task = asyncio.create_task(run_as_leader(start, stop_fn, lead, retry_seconds=retry, stop_event=stop))
        return stop, lead, task

    # a re-checks / retries slowly, b quickly: after a loses its lock, b is the one to take over
    stop_a, lead_a, task_a = node("a", 0.4)
    await asyncio.sleep(0.5)
    stop_b, lead_b, task_b = node("b", 0.05)
    await asyncio.sleep(0.3)
    assert events == ["start:a"]
    assert lead_a.is_leader and not lead_b.is_leader

    # 1. the leader's connection is killed: it stops its work, the standby takes over
    admin = await asyncpg.connect(asyncpg_dsn(db_url))
    try:
        await admin.fetchval("SELECT pg_terminate_backend($1)", lead_a._conn.get_server_pid())
    finally:
        await admin.close()
    for _ in range(100):
        if "start:b" in events and "stop:a" in events:
            break
        await asyncio.sleep(0.05)
    # b may start before a notices (a re-checks every 0.4 s): the overlap is bounded by retry_seconds,
    # which is why the scheduler's work must be (and is) idempotent.
    assert events[0] == "start:a" and sorted(events[1:3]) == ["start:b", "stop:a"] and len(events) == 3
    assert lead_b.is_leader and not lead_a.is_leader

    # 2. the new leader shuts down cleanly: the old one (now standby) leads again
    stop_b.set()
    await asyncio.wait_for(task_b, 5)
    for _ in range(100):
        if events.count("start:a") == 2:
            break
        await asyncio.sleep(0.05)
    assert events[3:] == ["stop:b", "start:a"]

    # 3. cancellation (process shutdown without the event) still stops the work and releases the lock
    task_a.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task_a
    assert events[-1] == "stop:a"
    assert not lead_a.is_leader
    check = Leadership(db_url)
    assert await check.acquire()
    await check.release()
    stop_a.set()


async def test_sqlite_is_always_leader_in_process(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    a, b = Leadership(url), Leadership(url)
    assert await a.acquire() and await b.acquire()
    assert await a.check()
    await a.release()
    assert not a.is_leader

    stop = asyncio.Event()
    started: list[int] = []

    async def start() -> int:
        started.append(1)
        stop.set()
        return 1

    async def stop_fn(_: int) -> None:
        started.append(-1)

    await asyncio.wait_for(run_as_leader(start, stop_fn, Leadership(url), retry_seconds=10, stop_event=stop), 5)
    assert started == [1, -1]


@PG_ONLY
async def test_runtime_runs_the_scheduler_only_on_the_leader(make_settings: Any) -> None:
    from bot.app.runtime import Runtime

    settings = make_settings(scheduler={"leader_retry_seconds": 0.1})
    rt1, rt2 = Runtime.create(settings), Runtime.create(settings)
    try:
        await rt1.start()
        assert rt1.scheduler is not None  # the lock was free: started before start() returned
        await rt2.start()
        assert rt2.scheduler is None and rt2.leader_task is not None  # standby
        await asyncio.sleep(0.3)
        assert rt2.scheduler is None
        await rt1.stop()  # the leader shuts down: the standby takes over
        for _ in range(100):
            if rt2.scheduler is not None:
                break
            await asyncio.sleep(0.05)
        assert rt2.scheduler is not None
    finally:
        await rt1.stop()
        await rt2.stop()
    assert rt2.scheduler is None
    free = Leadership(settings.database.url)
    assert await free.acquire()  # Runtime.stop released the lock
    await free.release()
