"""At-most-once for broadcasts and reminders when an answer is lost (review C4, C5).

A request that was written but never answered may have been delivered: broadcast and reminder rows become
``unknown`` and are never sent again, on Telegram (read timeout, dropped connection, a later part failing) and
on WhatsApp. Tips keep at-least-once. Send results survive a failed recording transaction, and a claim token
fences a late writer out of another claim.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from bot.app.runtime import Runtime
from bot.core.model import MediaOut, Reply
from bot.outbox.delivery import no_answer_fate
from bot.outbox.ports import Claimed, OutboxStatus, Purpose, SendResult
from bot.storage.models import Outbox
from tests.support.fakes.telegram_server import FakeTelegramServer
from tests.support.fakes.twilio_server import DEFAULT_SENDER, FakeTwilioServer
from tests.support.telegram_harness import sending_runtime

CHAT = 4242


@pytest.fixture
async def tg(settings: Any) -> AsyncIterator[tuple[Runtime, FakeTelegramServer]]:
    server = FakeTelegramServer()
    await server.start()
    try:
        async with sending_runtime(settings, server, read_timeout=0.5) as rt:
            yield rt, server
    finally:
        await server.stop()


async def _enqueue(rt: Runtime, purpose: Purpose, reply: Reply, *, channel: str = "telegram",
                   chat: str = str(CHAT)) -> None:
    async with rt.services.sessions() as s, s.begin():
        await rt.services.outbox.enqueue(s, channel=channel, chat_id=chat, reply=reply, purpose=purpose,
                                         idem_key=f"{purpose}:1:1")


async def _row(rt: Runtime) -> Outbox:
    async with rt.services.sessions() as s:
        return (await s.scalars(select(Outbox))).one()


def _copies(server: FakeTelegramServer, method: str = "sendMessage") -> int:
    return sum(1 for c in server.calls if c.method == method and str(c.chat_id) == str(CHAT) and c.ok)


@pytest.mark.parametrize("mode", ["hold", "drop"])
async def test_broadcast_whose_answer_is_lost_is_unknown_and_sent_once(
    tg: tuple[Runtime, FakeTelegramServer], mode: str
) -> None:
    rt, server = tg
    server.lose_answer_next(methods=["sendMessage"], mode=mode, hold=5.0)
    await _enqueue(rt, Purpose.BROADCAST, Reply(text="Siaran"))
    await rt.worker.drain(timeout=30, retries=True)  # returns only when nothing is left to send
    row = await _row(rt)
    assert (row.status, row.attempts) == (OutboxStatus.UNKNOWN, 1)
    assert "no answer" in (row.last_error or "")
    assert _copies(server) == 1


async def test_reminder_partly_delivered_is_unknown_not_resent(tg: tuple[Runtime, FakeTelegramServer]) -> None:
    rt, server = tg
    server.fail_next(1, 500, methods=["sendMessage"])  # the photo went out, the text after it fails
    await _enqueue(rt, Purpose.REMINDER, Reply(text="Pengingat", media=[MediaOut("photo", ref="poster-1")]))
    await rt.worker.drain(timeout=30, retries=True)
    row = await _row(rt)
    assert row.status == OutboxStatus.UNKNOWN and "partly delivered" in (row.last_error or "")
    assert _copies(server, "sendPhoto") == 1 and _copies(server) == 0


async def test_tip_whose_answer_is_lost_is_sent_again(tg: tuple[Runtime, FakeTelegramServer]) -> None:
    rt, server = tg
    server.lose_answer_next(methods=["sendMessage"], mode="drop")
    await _enqueue(rt, Purpose.TIP, Reply(text="Laporan JN-TEST"))
    await rt.worker.drain(timeout=30, retries=True)
    row = await _row(rt)
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 2)
    assert _copies(server) == 2  # at-least-once: a visible duplicate rather than a lost tip


async def test_broadcast_not_written_is_retried(tg: tuple[Runtime, FakeTelegramServer]) -> None:
    rt, server = tg
    await server.stop()  # connection refused: nothing was written, so a retry cannot double-send
    await _enqueue(rt, Purpose.BROADCAST, Reply(text="Siaran"))
    await rt.worker.step()
    await rt.worker.stop()
    row = await _row(rt)
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 1)
    await server.start()
    rt.worker._stopping = False
    await rt.worker.drain(timeout=30, retries=True)
    assert (await _row(rt)).status == OutboxStatus.SENT and _copies(server) == 1


async def test_fake_rejects_malformed_html_like_telegram(tg: tuple[Runtime, FakeTelegramServer]) -> None:
    rt, server = tg
    await _enqueue(rt, Purpose.REPLY, Reply(text="<b>tebal tanpa penutup", html=True))
    await rt.worker.drain(timeout=10)
    row = await _row(rt)
    assert row.status == OutboxStatus.FAILED and "parse entities" in (row.last_error or "").lower()
    call = server.calls[-1]
    assert call.status == 400 and "can't parse entities" in (call.description or "")


async def test_whatsapp_broadcast_whose_answer_is_lost_is_unknown(make_settings: Any) -> None:
    from bot.channels.twilio_client import TwilioSender
    from bot.channels.whatsapp import WhatsAppSender
    from bot.core.clock import utcnow
    from bot.storage.models import ChatWindow

    server = FakeTwilioServer()
    await server.start()
    settings = make_settings(whatsapp={"account_sid": server.account_sid, "auth_token": server.auth_token,
                                       "sender": DEFAULT_SENDER, "api_base_url": server.url})
    twilio = TwilioSender(server.account_sid, server.auth_token, api_base_url=server.url)
    await twilio.start()
    rt = Runtime.create(settings)
    rt.add_sender(WhatsAppSender(settings, twilio, rt.services.sessions))
    number = "+6281300000001"
    try:
        async with rt.services.sessions() as s, s.begin():  # inside the 24-hour window: free-form text
            s.add(ChatWindow(addr_key=rt.services.identity.key("addr", "whatsapp", number), last_inbound_at=utcnow()))
        server.lose_answer_next()
        await _enqueue(rt, Purpose.BROADCAST, Reply(text="Siaran"), channel="whatsapp", chat=number)
        await rt.worker.drain(timeout=30, retries=True)
        row = await _row(rt)
        assert row.status == OutboxStatus.UNKNOWN
        assert len(server.messages) == 1
    finally:
        await rt.stop()
        await twilio.close()
        await server.stop()


def _claimed(purpose: Purpose) -> Claimed:
    return Claimed(id=1, channel="telegram", chat_id="1", addr_key="a", is_group=False, payload={},
                   purpose=purpose, attempts=1, broadcast_id=None)


def test_no_answer_fate_rules() -> None:
    lost = SendResult("retry", error="no answer", answered=False)
    assert no_answer_fate(_claimed(Purpose.BROADCAST), lost, written=True).status == "unknown"
    assert no_answer_fate(_claimed(Purpose.BROADCAST), lost, written=False).status == "retry"  # never written
    assert no_answer_fate(_claimed(Purpose.TIP), lost, written=True).status == "retry"
    answered_5xx = SendResult("retry", error="500")
    assert no_answer_fate(_claimed(Purpose.REMINDER), answered_5xx, written=True).status == "retry"
    part = SendResult("retry", error="500", partial=True)
    assert no_answer_fate(_claimed(Purpose.REMINDER), part, written=True).status == "unknown"


async def test_results_survive_a_failed_recording_transaction(tg: tuple[Runtime, FakeTelegramServer]) -> None:
    rt, server = tg
    await _enqueue(rt, Purpose.TIP, Reply(text="Laporan JN-TEST"))
    await rt.worker.step()  # claims and starts the send
    while rt.worker._inflight:
        await next(iter(rt.worker._inflight))
    real_due = rt.worker.store.due
    calls = {"n": 0}

    async def flaky_due(*args: Any, **kwargs: Any) -> Any:  # the database blips in the recording transaction
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("SELECT", {}, Exception("database is locked"))
        return await real_due(*args, **kwargs)

    rt.worker.store.due = flaky_due  # type: ignore[method-assign]
    with pytest.raises(OperationalError):
        await rt.worker.step()
    assert (await _row(rt)).status == OutboxStatus.SENDING  # not recorded yet ...
    await rt.worker.step()  # ... but kept, and recorded by the next transaction
    row = await _row(rt)
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 1)
    assert _copies(server) == 1 and rt.worker.stats["sent"] == 1


async def test_claim_token_fences_a_late_writer(settings: Any) -> None:
    rt = Runtime.create(settings, {})
    store = rt.services.outbox
    try:
        await _enqueue(rt, Purpose.TIP, Reply(text="x"))
        async with rt.services.sessions() as s, s.begin():
            [first] = await store.claim(s, [(await _row(rt)).id])
        async with rt.services.sessions() as s, s.begin():  # its lease expired: recovered, claimed again
            await store.recover_expired(s, all_leases=True)
        async with rt.services.sessions() as s, s.begin():
            [second] = await store.claim(s, [first.id])
        assert first.token != second.token
        async with rt.services.sessions() as s, s.begin():
            await store.mark_sent(s, [(first.id, first.token, "late")])  # the first process wakes up late
        row = await _row(rt)
        assert (row.status, row.external_id) == (OutboxStatus.SENDING, None)
        async with rt.services.sessions() as s, s.begin():
            await store.mark_sent(s, [(second.id, second.token, "ok")])
        row = await _row(rt)
        assert (row.status, row.external_id) == (OutboxStatus.SENT, "ok")
    finally:
        await rt.stop()
