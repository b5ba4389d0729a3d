"""Group commit (bot/core/group_commit.py): on SQLite, updates waiting for the writer share one transaction.

Every promise of one-update-one-transaction still holds per update: nothing is acknowledged (``Core.handle``
returns, the delivery worker is woken) before its commit; a failing update leaves no trace and costs the other
updates of its batch nothing; a redelivery of the failed one is handled. On PostgreSQL an update whose chat
another node's transaction holds is left out of its batch and waits alone: the others do not wait for it.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import event, func, select

from bot.app.runtime import Runtime
from bot.channels.console import ConsoleSender
from bot.core.clock import utcnow
from bot.core.context import Context
from bot.core.group_commit import GroupCommit
from bot.core.locks import lock_across_processes
from bot.core.model import Incoming
from bot.core.router import Router
from bot.storage.models import Conversation, Outbox, ProcessedUpdate, Subscriber
from bot.texts import t
from tests.support.helpers import until_a_lock_is_awaited, until_an_advisory_lock_is_awaited

N = 12


def _router(bad: set[str]) -> Router:
    router = Router()

    async def work(ctx: Context) -> None:
        chat = ctx.incoming.chat_id
        ctx.reply(f"selesai {chat}")
        ctx.session.add(Subscriber(channel="console", addr_key=f"k-{chat}", addr_enc="x", role="publik",
                                   region_code="64", active=True, created_at=ctx.now, updated_at=ctx.now))
        await ctx.session.flush()
        if chat in bad:
            raise RuntimeError("bug after the first writes")

    router.command("kerja", work)
    slow_entered, slow_release = asyncio.Event(), asyncio.Event()

    async def slow(ctx: Context) -> None:  # an update that takes long inside its transaction (an export, say)
        slow_entered.set()
        await slow_release.wait()
        ctx.reply("lambat selesai")

    router.command("lambat", slow)
    router.slow = (slow_entered, slow_release)  # type: ignore[attr-defined]
    return router


@pytest.fixture
async def rt(settings: Any) -> AsyncIterator[tuple[Runtime, ConsoleSender, set[str]]]:
    sender = ConsoleSender(io.StringIO())
    runtime = Runtime.create(settings, {"console": sender})
    bad: set[str] = set()
    runtime.core.router = _router(bad)
    try:
        yield runtime, sender, bad
    finally:
        await runtime.stop()


def _inc(chat: str, key: str | None = None) -> Incoming:
    return Incoming(channel="console", chat_id=chat, user_id=chat, text="/kerja", update_key=key or f"u-{chat}")


async def _count(rt: Runtime, model: Any, *where: Any) -> int:
    async with rt.services.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


@asynccontextmanager
async def _events(rt: Runtime, log: list[str]) -> AsyncIterator[None]:
    engine = rt.engine.sync_engine

    def on_commit(_conn: Any) -> None:
        log.append("commit")

    event.listen(engine, "commit", on_commit)
    try:
        yield
    finally:
        event.remove(engine, "commit", on_commit)


async def _handle_all(rt: Runtime, incs: list[Incoming], log: list[str]) -> None:
    async def one(inc: Incoming) -> None:
        await rt.core.handle(inc)
        log.append(f"done {inc.chat_id}")

    await asyncio.gather(*(one(i) for i in incs))


async def test_updates_waiting_together_share_one_commit_and_none_returns_before_it(
    rt: tuple[Runtime, ConsoleSender, set[str]],
) -> None:
    runtime, sender, _bad = rt
    log: list[str] = []
    async with _events(runtime, log):
        await _handle_all(runtime, [_inc(f"c{i}") for i in range(N)], log)
    assert log.count("commit") < N // 2, log  # they queued up behind the first: one or two transactions, not N
    # nothing acknowledged before its commit: every "done" comes after a commit that can hold it
    for i, entry in enumerate(log):
        if entry.startswith("done"):
            assert log[:i].count("commit") >= 1
    assert log.index("commit") < min(i for i, e in enumerate(log) if e.startswith("done"))
    assert await _count(runtime, ProcessedUpdate) == N
    assert await _count(runtime, Subscriber) == N
    await runtime.worker.drain()
    assert sorted(r.text for _c, r in sender.delivered) == sorted(f"selesai c{i}" for i in range(N))


async def test_a_failing_update_costs_the_others_of_its_batch_nothing(
    rt: tuple[Runtime, ConsoleSender, set[str]],
) -> None:
    runtime, sender, bad = rt
    bad.add("c5")
    await _handle_all(runtime, [_inc(f"c{i}") for i in range(N)], [])
    await runtime.worker.drain()
    texts = sorted(r.text for _c, r in sender.delivered)
    assert texts == sorted([f"selesai c{i}" for i in range(N) if i != 5] + [t("error.generic")])
    assert await _count(runtime, ProcessedUpdate) == N - 1  # the failed one's redelivery must be handled
    assert await _count(runtime, Subscriber) == N - 1  # its flushed write was rolled back
    assert await _count(runtime, Subscriber, Subscriber.addr_key == "k-c5") == 0
    async with runtime.services.sessions() as s:
        queued = [p["text"] for p in (await s.scalars(select(Outbox.payload))).all()]
    assert "selesai c5" not in queued and len(queued) == N  # one reply each, nothing twice
    assert runtime.core._batches.stats["retried_alone"] >= 2  # the failed batch was done again, one at a time

    bad.clear()
    await runtime.core.handle(_inc("c5"))  # the platform's redelivery, now handled
    await runtime.worker.drain()
    assert await _count(runtime, Subscriber, Subscriber.addr_key == "k-c5") == 1
    assert sum(1 for _c, r in sender.delivered if r.text == "selesai c5") == 1


async def test_a_cancelled_batch_leaves_no_caller_waiting() -> None:
    """Shutdown cancels the batch's task: its callers and the ones queued behind it are cancelled too."""
    entered = asyncio.Event()
    release = asyncio.Event()
    done: list[int] = []

    @asynccontextmanager
    async def transaction() -> AsyncIterator[None]:
        yield None

    async def run_alone(job: int) -> None:
        entered.set()
        await release.wait()
        done.append(job)

    async def run_in(_session: Any, jobs: list[int]) -> list[int]:
        for job in jobs:
            await run_alone(job)
        return []

    gc: GroupCommit[int] = GroupCommit(transaction, run_in, run_alone)
    callers = [asyncio.create_task(gc.submit(n)) for n in range(3)]
    await entered.wait()
    later = asyncio.create_task(gc.submit(99))  # queued behind the running batch
    await asyncio.sleep(0)
    assert len(gc._tasks) == 1
    next(iter(gc._tasks)).cancel()
    results = await asyncio.gather(*callers, later, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results), results
    assert done == [] and not gc._tasks

    release.set()  # the next submission starts a new batch
    await gc.submit(7)
    assert done == [7]


async def test_a_redelivered_update_in_a_batch_is_dropped_and_the_rest_handled(
    rt: tuple[Runtime, ConsoleSender, set[str]],
) -> None:
    """A batch's de-duplication rows are written in one statement before its updates run: one already handled
    is recognised there and skipped, the others are handled."""
    runtime, sender, _bad = rt
    await runtime.core.handle(_inc("c0"))
    log: list[str] = []
    async with _events(runtime, log):
        await _handle_all(runtime, [_inc("c0"), *(_inc(f"c{i}") for i in range(1, N))], log)
    assert log.count("commit") < N // 2, log
    await runtime.worker.drain()
    texts = sorted(r.text for _c, r in sender.delivered)
    assert texts == sorted(f"selesai c{i}" for i in range(N))  # c0 once: its redelivery was dropped
    assert await _count(runtime, ProcessedUpdate) == N
    assert await _count(runtime, Subscriber) == N


async def test_an_update_whose_chat_another_node_holds_waits_alone_and_holds_up_no_one(
    rt: tuple[Runtime, ConsoleSender, set[str]], make_settings: Any,
) -> None:
    """PostgreSQL: a batch takes its chats' locks without waiting (``pg_try_advisory_xact_lock``). Another node
    holds c3's lock: the other updates are committed and answered while it still waits (seen in pg_locks), and
    c3 runs, once, when the lock is released."""
    runtime, sender, _bad = rt
    if runtime.settings.is_sqlite:
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE; there is no advisory lock")
    async with _another_node(make_settings) as node2:
        async with _chat_held_by(node2, runtime, "c3"):
            tasks = {f"c{i}": asyncio.create_task(runtime.core.handle(_inc(f"c{i}"))) for i in range(N)}
            waiting = tasks.pop("c3")
            await asyncio.wait_for(asyncio.gather(*tasks.values()), 30)  # guard only: they must not wait for c3
            assert not waiting.done()
            assert await _count(runtime, ProcessedUpdate) == N - 1
            await until_an_advisory_lock_is_awaited(node2, waiting)
            assert not waiting.done()
        await asyncio.wait_for(waiting, 30)
    assert runtime.core._batches.stats["left_out"] == 1
    await runtime.worker.drain()
    assert sorted(r.text for _c, r in sender.delivered) == sorted(f"selesai c{i}" for i in range(N))
    assert await _count(runtime, ProcessedUpdate) == N
    assert await _count(runtime, Subscriber) == N


@asynccontextmanager
async def _another_node(make_settings: Any) -> AsyncIterator[Runtime]:
    """A second node on the same database (its own engine and core), stopped afterwards."""
    node = Runtime.create(make_settings(), {"console": ConsoleSender(io.StringIO())})
    try:
        yield node
    finally:
        await node.stop()


@asynccontextmanager
async def _chat_held_by(node: Runtime, runtime: Runtime, chat: str) -> AsyncIterator[Any]:
    """Another node's open transaction holds ``chat``'s lock (the advisory lock ``runtime``'s updates of that chat
    take) until the block ends."""
    async with node.services.sessions() as other, other.begin():
        await lock_across_processes(other, runtime.core.lock_key(_inc(chat)))
        yield other


@asynccontextmanager
async def _row_written_by(node: Runtime, addr_key: str) -> AsyncIterator[Any]:
    """Another node's open transaction has written the subscriber row ``addr_key``, not committed: an update
    that inserts the same key waits for its outcome (the caller rolls it back)."""
    async with node.services.sessions() as other:
        await other.begin()
        other.add(Subscriber(channel="console", addr_key=addr_key, addr_enc="x", role="publik",
                             region_code="64", active=True, created_at=utcnow(), updated_at=utcnow()))
        await other.flush()
        yield other


async def test_a_batch_waits_for_a_row_another_node_holds_only_briefly(
    rt: tuple[Runtime, ConsoleSender, set[str]], make_settings: Any,
) -> None:
    """PostgreSQL: another node's open transaction has written the row c3's update must write (the same unique
    key). The batch waits at most its lock timeout, is rolled back and done one update at a time: the other 11
    are answered while that transaction is still open, and c3 once it ends."""
    runtime, sender, _bad = rt
    if runtime.settings.is_sqlite:
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE; no other writer holds a row")
    runtime.core.batch_lock_timeout_ms = 200
    async with _another_node(make_settings) as node2:
        async with _row_written_by(node2, "k-c3") as other:
            tasks = {f"c{i}": asyncio.create_task(runtime.core.handle(_inc(f"c{i}"))) for i in range(N)}
            waiting = tasks.pop("c3")
            await asyncio.wait_for(asyncio.gather(*tasks.values()), 30)  # guard only: they must not wait for c3
            assert not waiting.done()
            assert runtime.core._batches.stats["retried_alone"] >= 2
            await other.rollback()
        await asyncio.wait_for(waiting, 30)
    await runtime.worker.drain()
    assert sorted(r.text for _c, r in sender.delivered) == sorted(f"selesai c{i}" for i in range(N))
    assert await _count(runtime, ProcessedUpdate) == N
    assert await _count(runtime, Subscriber) == N


async def test_a_slow_update_holds_up_only_its_own_batch(rt: tuple[Runtime, ConsoleSender, set[str]]) -> None:
    """PostgreSQL: while one update's transaction takes long, the updates that arrive meanwhile run in another
    batch beside it (SQLite's single writer takes transactions in turn, so there they wait)."""
    runtime, sender, _bad = rt
    if runtime.settings.is_sqlite:
        pytest.skip("SQLite admits one writer at a time: the others wait for it there")
    entered, release = runtime.core.router.slow  # type: ignore[attr-defined]
    slow = asyncio.create_task(runtime.core.handle(
        Incoming(channel="console", chat_id="s", user_id="s", text="/lambat", update_key="u-s")))
    await asyncio.wait_for(entered.wait(), 30)
    await asyncio.wait_for(_handle_all(runtime, [_inc(f"c{i}") for i in range(N)], []), 30)  # guard only
    assert not slow.done()
    release.set()
    await asyncio.wait_for(slow, 30)
    await runtime.worker.drain()
    assert sorted(r.text for _c, r in sender.delivered) == sorted([f"selesai c{i}" for i in range(N)]
                                                                  + ["lambat selesai"])


async def test_an_update_on_its_own_waits_for_a_row_as_long_as_the_server_lets_it(
    rt: tuple[Runtime, ConsoleSender, set[str]], make_settings: Any,
) -> None:
    """PostgreSQL: the batch's lock timeout bounds batches of several updates only. An update on its own that
    waits for a row another node holds longer than that is not failed: it runs once the row is free."""
    runtime, sender, _bad = rt
    if runtime.settings.is_sqlite:
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE; no other writer holds a row")
    runtime.core.batch_lock_timeout_ms = 100
    async with _another_node(make_settings) as node2:
        async with _row_written_by(node2, "k-c3") as other:
            task = asyncio.create_task(runtime.core.handle(_inc("c3")))
            await until_a_lock_is_awaited(runtime, task, "transactionid")  # c3's INSERT waits for node 2's row
            await asyncio.sleep(0.5)  # five times the batch bound: a bounded wait would have failed by now
            assert not task.done()
            await other.rollback()
        await asyncio.wait_for(task, 30)
    await runtime.worker.drain()
    assert [r.text for _c, r in sender.delivered] == ["selesai c3"]
    assert runtime.core._batches.stats["retried_alone"] == 0


async def test_a_failed_batch_retries_its_updates_beside_the_next_batches(
    rt: tuple[Runtime, ConsoleSender, set[str]], make_settings: Any,
) -> None:
    """PostgreSQL: a batch fails (c5's bug) while another node holds c3's chat. Its updates are done again each
    in a task of its own: c3 waits there for its chat, and no batch slot waits with it."""
    runtime, sender, bad = rt
    if runtime.settings.is_sqlite:
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE; there is no advisory lock")
    bad.add("c5")
    async with _another_node(make_settings) as node2:
        async with _chat_held_by(node2, runtime, "c3"):
            tasks = {f"c{i}": asyncio.create_task(runtime.core.handle(_inc(f"c{i}"))) for i in range(N)}
            waiting = tasks.pop("c3")
            await asyncio.wait_for(asyncio.gather(*tasks.values()), 30)  # guard only: they must not wait for c3
            await until_an_advisory_lock_is_awaited(node2, waiting)
            assert runtime.core._batches.stats["retried_alone"] >= 2
            assert not runtime.core._batches._tasks  # no batch loop is left waiting for c3
            assert not waiting.done()
        await asyncio.wait_for(waiting, 30)
    await runtime.worker.drain()
    assert sorted(r.text for _c, r in sender.delivered) == sorted(
        [f"selesai c{i}" for i in range(N) if i != 5] + [t("error.generic")])


async def test_a_chat_whose_earlier_caller_stopped_waiting_is_not_twice_in_one_batch(settings: Any) -> None:
    """A caller that stops waiting (cancelled) lets go of its chat's lock while its update is still queued; the
    chat's next update may then queue beside it. Both must be applied, one after the other (here: a counter
    in the conversation's state, three increments)."""
    runtime = Runtime.create(settings, {"console": ConsoleSender(io.StringIO())})
    router = Router()
    busy, release = [0], asyncio.Event()
    entered = asyncio.Event()

    async def slow(ctx: Context) -> None:  # keeps a batch slot busy
        busy[0] += 1
        entered.set()
        await release.wait()

    async def inc(ctx: Context) -> None:
        ctx.state.flow = "hitung"
        ctx.state.data["n"] = ctx.state.data.get("n", 0) + 1

    router.command("lambat", slow)
    router.command("tambah", inc)
    runtime.core.router = router

    def upd(chat: str, text: str, key: str) -> Incoming:
        return Incoming(channel="console", chat_id=chat, user_id=chat, text=text, update_key=key)

    try:
        await runtime.core.handle(upd("a", "/tambah", "a0"))
        slows = []
        for i in range(runtime.core._batches.concurrency):  # every batch slot busy
            entered.clear()
            slows.append(asyncio.create_task(runtime.core.handle(upd(f"s{i}", "/lambat", f"s{i}"))))
            await asyncio.wait_for(entered.wait(), 30)
        first = asyncio.create_task(runtime.core.handle(upd("a", "/tambah", "a1")))
        while not runtime.core._batches._queue:
            assert not first.done()
            await asyncio.sleep(0)
        first.cancel()  # its caller stops waiting; its update stays queued
        await asyncio.gather(first, return_exceptions=True)
        second = asyncio.create_task(runtime.core.handle(upd("a", "/tambah", "a2")))
        while len(runtime.core._batches._queue) < 2:  # both of chat a's updates queued for the next batch
            assert not second.done()
            await asyncio.sleep(0)
        release.set()
        await asyncio.wait_for(asyncio.gather(*slows, second), 30)  # the second: alone, after the batch
        async with runtime.services.sessions() as s:
            rows = [r for r in (await s.scalars(select(Conversation))).all() if r.flow == "hitung"]
        assert len(rows) == 1 and rows[0].data["n"] == 3, [(r.flow, r.data) for r in rows]
    finally:
        await runtime.stop()


async def test_stopping_lets_the_batch_in_flight_finish(rt: tuple[Runtime, ConsoleSender, set[str]]) -> None:
    """Shutdown waits for the updates whose transaction runs (a bounded wait), instead of disposing of the
    engine under them: the slow update commits and its caller returns normally."""
    runtime, _sender, _bad = rt
    entered, release = runtime.core.router.slow  # type: ignore[attr-defined]
    slow = asyncio.create_task(runtime.core.handle(
        Incoming(channel="console", chat_id="s", user_id="s", text="/lambat", update_key="u-s")))
    await asyncio.wait_for(entered.wait(), 30)
    stopping = asyncio.create_task(runtime.stop())
    await asyncio.sleep(0.2)  # a bounded look: stop must still be waiting for the batch
    assert not stopping.done() and not slow.done()
    release.set()
    await asyncio.wait_for(stopping, 30)
    assert slow.done() and slow.exception() is None
    assert not runtime.core._batches._tasks and not runtime.core._batches._aside
    assert await _count(runtime, ProcessedUpdate) == 1  # committed (the engine opens a new pool for this)
