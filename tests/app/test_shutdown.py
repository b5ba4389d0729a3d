"""Stopping cleanly: what was committed before or during the stop reaches people before the process exits.

``serve`` stops taking input first (each input waits for the updates it already took), then finishes the core's
transactions and the scheduler, then delivers for ``STOP_GRACE`` seconds what is due except bulk sends, and only
then closes the channels' HTTP clients (``bot/app/serve.py``, ``DeliveryWorker.stop``).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text

from bot.app.runtime import Runtime
from bot.app.serve import serve
from bot.app.startup import StartupError
from bot.core.clock import utcnow
from bot.core.locks import lock_across_processes
from bot.core.model import Incoming, Reply
from bot.outbox.delivery import STOP_GRACE
from bot.outbox.ports import Purpose
from bot.storage.models import Outbox
from bot.texts import t
from tests.support.fakes.telegram_server import FakeTelegramServer, RecordedCall, make_message
from tests.support.helpers import until_a_lock_is_awaited, until_an_advisory_lock_is_awaited
from tests.support.telegram_harness import TOKEN, sending_runtime, telegram_overrides

WELCOME = t("start.welcome")[:40]


async def _statuses(rt: Runtime) -> dict[tuple[str, str], int]:
    async with rt.services.sessions() as s:
        rows = await s.execute(select(Outbox.purpose, Outbox.status, func.count()).group_by(Outbox.purpose,
                                                                                               Outbox.status))
        return {(purpose, status): int(n) for purpose, status, n in rows.all()}


def _texts_to(server: FakeTelegramServer, chat_id: int) -> list[str]:
    return [c.text or "" for c in server.calls_of("sendMessage") if c.ok and str(c.chat_id) == str(chat_id)]


async def test_stopping_delivers_what_is_due_within_the_grace_and_leaves_bulk_sends(
    make_settings: Any, tg_server: FakeTelegramServer
) -> None:
    """Two replies to one chat: the second waits for the chat's 1 per second, so it is still pending when the
    stop begins, and is sent during the grace. A broadcast row due meanwhile stays pending for the next start."""
    settings = make_settings()
    async with sending_runtime(settings, tg_server) as rt:
        async with rt.services.sessions() as s, s.begin():
            for n in (1, 2):
                await rt.services.outbox.enqueue(s, channel="telegram", chat_id="7001", reply=Reply(f"balasan {n}"),
                                                 idem_key=f"r{n}")
            await rt.services.outbox.enqueue(s, channel="telegram", chat_id="7002", reply=Reply("siaran"),
                                             purpose=Purpose.BROADCAST, idem_key="b1",
                                             not_before=utcnow() + timedelta(seconds=0.3))
        await rt.start(scheduler=False)
        await tg_server.wait_for(lambda c: c.method == "sendMessage" and c.text == "balasan 1", timeout=10)
        assert ("reply", "pending") in await _statuses(rt)  # the second reply waits for its chat
        await asyncio.wait_for(rt.stop(grace=STOP_GRACE), 20)  # guard only
        assert _texts_to(tg_server, 7001) == ["balasan 1", "balasan 2"]
        assert _texts_to(tg_server, 7002) == []
        assert await _statuses(rt) == {("reply", "sent"): 2, ("broadcast", "pending"): 1}


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_an_update_in_flight_at_the_stop_is_answered_before_serve_returns(
    make_settings: Any, tg_server: FakeTelegramServer
) -> None:
    """PostgreSQL (the chat's advisory lock makes the update wait): another node holds chat 7101's lock, so its
    /start is still in its transaction when the stop begins; the lock is released only after polling has ended
    (PTB's last getUpdates). Its reply is committed after that, and must still be sent before ``serve``
    returns. (The delivery loop used to stop before the Telegram channel; the reply then waited for the next
    start.)"""
    settings = make_settings(**telegram_overrides(tg_server))
    node2 = Runtime.create(make_settings())
    stop = asyncio.Event()
    served = asyncio.create_task(serve(settings, stop))
    try:
        await tg_server.wait_for(lambda c: c.method == "getUpdates", timeout=20)
        key = node2.core.lock_key(Incoming(channel="telegram", chat_id="7101", user_id="7101"))
        async with node2.services.sessions() as other, other.begin():
            await lock_across_processes(other, key)
            tg_server.inject_update(make_message(7101, 7101, "/start"))
            await until_an_advisory_lock_is_awaited(node2, served)
            last_poll = max(c.seq for c in tg_server.calls_of("getUpdates"))
            stop.set()

            def final_poll(c: RecordedCall) -> bool:  # Updater.stop's clean-up call, which never waits
                return c.method == "getUpdates" and c.seq > last_poll and not float(c.params.get("timeout") or 0)

            await tg_server.wait_for(final_poll, timeout=20)
            assert not served.done()
        await asyncio.wait_for(served, 30)  # guard only
    finally:
        stop.set()
        if not served.done():
            served.cancel()
        await node2.stop()
    assert [x for x in _texts_to(tg_server, 7101) if WELCOME in x]
    statuses = await _statuses(node2)
    assert statuses and all(status == "sent" for _purpose, status in statuses), statuses


async def test_a_failed_start_sends_nothing_while_stopping(make_settings: Any) -> None:
    """Telegram rejects the token: ``serve`` fails at start, and its stop's grace delivers nothing (the delivery
    loop never ran; a reply already due stays pending, untouched, for a start that works)."""
    server = FakeTelegramServer(token=TOKEN)  # enforces its token: others get 401
    await server.start()
    settings = make_settings(**telegram_overrides(server, token="654321:WRONG-TOKEN"))
    setup = Runtime.create(settings)
    try:
        await setup.migrate()
        async with setup.services.sessions() as s, s.begin():
            await setup.services.outbox.enqueue(s, channel="telegram", chat_id="7201", reply=Reply("balasan"),
                                                idem_key="r1")
        with pytest.raises(StartupError, match="rejected the bot token"):
            await asyncio.wait_for(serve(settings), 20)  # guard only
        async with setup.services.sessions() as s:
            rows = (await s.execute(select(Outbox.status, Outbox.attempts))).all()
        assert [tuple(r) for r in rows] == [("pending", 0)]
    finally:
        await setup.stop()
        await server.stop()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_a_stop_waits_for_the_sends_a_step_under_way_starts(
    make_settings: Any, tg_server: FakeTelegramServer
) -> None:
    """PostgreSQL (another session locks the outbox, so a step is held inside its claim): ``stop`` begins while
    that step is under way; the sends it then starts are waited for and recorded before ``stop`` returns. (Found
    in review: ``stop`` waited only for the sends started before it, so the step's sends were left ``sending``,
    running under a closing HTTP client; a stop whose grace ran out with a backlog hit it about once in six.)"""
    tg_server.set_latency(0.3)
    settings = make_settings()
    async with sending_runtime(settings, tg_server) as rt:
        async with rt.services.sessions() as s, s.begin():
            for n in range(3):
                await rt.services.outbox.enqueue(s, channel="telegram", chat_id=str(7301 + n),
                                                 reply=Reply(f"balasan {n}"), idem_key=f"r{n}")
        async with rt.services.sessions() as other, other.begin():
            await other.execute(text("LOCK TABLE outbox IN EXCLUSIVE MODE"))
            step = asyncio.create_task(rt.worker.step())
            await until_a_lock_is_awaited(rt, step, "relation")
            stopping = asyncio.create_task(rt.worker.stop())
            await asyncio.sleep(0.2)  # time for a stop that does not wait for the step to return
        await asyncio.wait_for(step, 20)  # guard only
        await asyncio.wait_for(stopping, 20)  # guard only
        assert await _statuses(rt) == {("reply", "sent"): 3}
        assert sorted(_texts_to(tg_server, 7301 + n)[0] for n in range(3)) == [f"balasan {n}" for n in range(3)]
