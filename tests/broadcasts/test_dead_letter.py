"""Attempt caps, the dead letter and the admin alerts about them (review C7, C3).

Every purpose but tips is given up (``dead``) after ``delivery.max_attempts``; tips keep retrying but a tip
not delivered in time, or failed, is reported to the admins once, and ``doctor`` shows all of it.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.app.alerts import delivery_problems
from bot.app.doctor import check_delivery
from bot.app.runtime import Runtime
from bot.channels.console import CONSOLE_PRIVATE_CHAT, ConsoleSender
from bot.core.clock import utcnow
from bot.core.model import Reply
from bot.outbox.ports import Claimed, OutboxStatus, Purpose, SendResult
from bot.storage.models import Outbox, Tip
from bot.texts import t


class FailingSender:
    """Telegram that never gets through (e.g. a network outage)."""

    channel = "telegram"

    def __init__(self) -> None:
        self.attempts = 0

    async def send(self, msg: Claimed, reply: Reply) -> SendResult:
        self.attempts += 1
        return SendResult("retry", error="network: NetworkError")


@pytest.fixture
async def rt(make_settings: Any) -> AsyncIterator[Runtime]:
    settings = make_settings(delivery={"max_attempts": 3, "tip_alert_minutes": 30})
    runtime = Runtime.create(settings, {"telegram": FailingSender(), "console": ConsoleSender(io.StringIO())})
    try:
        yield runtime
    finally:
        await runtime.stop()


def _console(rt: Runtime) -> ConsoleSender:
    sender = rt.worker.senders["console"]
    assert isinstance(sender, ConsoleSender)
    return sender


async def _tip(rt: Runtime, code: str = "JN-TEST-DEAD") -> int:
    now = utcnow()
    async with rt.services.sessions() as s, s.begin():
        tip = Tip(code=code, region_code="64.02", category="medsos", description="x", channel="console",
                  reporter_key="r", group_chat_id=-1001, created_at=now, updated_at=now)
        s.add(tip)
        await s.flush()
        return tip.id


async def _enqueue(rt: Runtime, purpose: Purpose, *, attempts: int, tip_id: int | None = None,
                   age: timedelta = timedelta()) -> None:
    async with rt.services.sessions() as s, s.begin():
        await rt.services.outbox.enqueue(s, channel="telegram", chat_id="-1001", reply=Reply(text="x"),
                                         purpose=purpose, tip_id=tip_id, idem_key=f"{purpose}:{tip_id}")
        await s.execute(update(Outbox).values(attempts=attempts, created_at=utcnow() - age))


async def _rows(rt: Runtime) -> dict[str, tuple[str, int]]:
    async with rt.services.sessions() as s:
        rows = (await s.execute(select(Outbox.purpose, Outbox.status, Outbox.attempts))).all()
    return {r.purpose: (r.status, r.attempts) for r in rows}


async def test_notice_is_given_up_at_the_cap_and_admins_get_one_summary(rt: Runtime) -> None:
    await _enqueue(rt, Purpose.NOTICE, attempts=2)  # two failed attempts already
    await rt.worker.drain()
    assert (await _rows(rt))[Purpose.NOTICE] == (OutboxStatus.DEAD, 3)
    assert rt.worker.stats["dead"] == 1

    report = await rt.watch.check()
    assert report.given_up == {"notice": 1}
    await rt.worker.drain()
    alerts = [r.text for chat, r in _console(rt).delivered if chat == CONSOLE_PRIVATE_CHAT]
    assert alerts == [t("alert.given_up", n=1, by_purpose="notice: 1")]
    assert (await rt.watch.check()).given_up == {}  # reported once
    await rt.worker.drain()
    assert len(_console(rt).delivered) == 1


async def test_tip_keeps_retrying_past_the_cap_and_is_reported_stuck(rt: Runtime) -> None:
    tip_id = await _tip(rt)
    await _enqueue(rt, Purpose.TIP, attempts=5, tip_id=tip_id)
    await rt.worker.step()
    await rt.worker.stop()
    status, attempts = (await _rows(rt))[Purpose.TIP]
    assert (status, attempts) == (OutboxStatus.PENDING, 6)  # never dead

    async with rt.services.sessions() as s:
        assert (await delivery_problems(s, rt.settings))["tips_stuck"] == 1
    check = await check_delivery(rt.settings)
    assert not check.ok and "1 tip(s) not delivered" in check.detail

    report = await rt.watch.check()
    assert report.stuck == ["JN-TEST-DEAD"]
    rt.worker._stopping = False
    await rt.worker.step()
    while rt.worker._inflight:
        await next(iter(rt.worker._inflight))
    await rt.worker.step()
    alerts = [r.text for chat, r in _console(rt).delivered if chat == CONSOLE_PRIVATE_CHAT]
    assert len(alerts) == 1 and "JN-TEST-DEAD" in alerts[0] and "terus mencoba" in alerts[0]
    assert (await rt.watch.check()).stuck == []  # once per tip


async def test_young_tip_is_not_stuck_but_an_old_one_is(rt: Runtime) -> None:
    tip_id = await _tip(rt)
    await _enqueue(rt, Purpose.TIP, attempts=1, tip_id=tip_id, age=timedelta(minutes=5))
    assert (await rt.watch.check()).stuck == []
    async with rt.services.sessions() as s, s.begin():
        await s.execute(update(Outbox).values(created_at=utcnow() - timedelta(minutes=31)))
    assert (await rt.watch.check()).stuck == ["JN-TEST-DEAD"]


async def test_doctor_is_clean_without_problems_and_warns_about_given_up(rt: Runtime) -> None:
    check = await check_delivery(rt.settings)
    assert check.ok and not check.warning
    await _enqueue(rt, Purpose.REPLY, attempts=3)
    async with rt.services.sessions() as s, s.begin():
        await s.execute(update(Outbox).values(status=OutboxStatus.DEAD.value))
    check = await check_delivery(rt.settings)
    assert check.ok and check.warning and "1 other message(s) given up" in check.detail
