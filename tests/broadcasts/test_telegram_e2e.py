"""End to end through python-telegram-bot and the fake Bot API server: subscribe, broadcast, blocked user."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.core.clock import utcnow
from bot.storage.models import Broadcast, Subscriber

fake = pytest.importorskip("tests.support.fakes.telegram_server", reason="fake Telegram server not written yet")

ADMIN_ID = 4242


@pytest.fixture
async def telegram(make_settings: Any) -> AsyncIterator[Any]:
    from tests.support.telegram_harness import TelegramHarness, telegram_overrides

    server = fake.FakeTelegramServer()
    await server.start()
    harness = TelegramHarness(make_settings(**telegram_overrides(server, admin_ids=[ADMIN_ID])), server)
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()
        await server.stop()


async def test_subscribe_broadcast_and_blocked_user(telegram: Any) -> None:
    alice, bob = 1001, 1002
    for user in (alice, bob):
        telegram.text(user, "/langganan Kukar")
        await telegram.wait_text(user, "Anda berlangganan sebagai")
        telegram.press(user, "sub:role:asn")
        await telegram.wait_text(user, "Terima kasih")
    rt = telegram.rt
    async with rt.services.sessions() as s:
        subs = (await s.scalars(select(Subscriber))).all()
    assert sorted(s.region_code for s in subs) == ["64.02", "64.02"]
    assert all(s.channel == "telegram" and s.active for s in subs)

    telegram.server.block_user(bob)
    now = utcnow()
    async with rt.services.sessions() as s, s.begin():
        s.add(Broadcast(text="Uji siaran", audience="all", scheduled_at=now, creator_channel="telegram",
                        creator_enc=rt.services.identity.seal("telegram", str(ADMIN_ID)), creator_label="t"))
    sched = await rt.start_scheduler(timelines=[])
    try:
        await telegram.wait_text(alice, "Uji siaran")
        bob_key = rt.services.identity.key("addr", "telegram", str(bob))
        for _ in range(100):
            async with rt.services.sessions() as s:
                bob_sub = await s.scalar(select(Subscriber).where(Subscriber.addr_key == bob_key))
            if bob_sub is not None and not bob_sub.active:
                break
            await asyncio.sleep(0.05)
        assert bob_sub is not None and not bob_sub.active and bob_sub.blocked
        await sched.run_due(utcnow())
        report = await telegram.wait_text(ADMIN_ID, "Laporan siaran #1")
        text = str(report.params.get("text", ""))
        assert "Terkirim: 1" in text and "Memblokir bot: 1" in text
    finally:
        await sched.shutdown()
