"""Outbox and delivery worker: idempotency, retries, blocked recipients, crash recovery, rate limits."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.app.runtime import Runtime
from bot.core.model import Reply
from bot.outbox.ports import Claimed, SendResult
from bot.outbox.ratelimit import ChannelLimiter, Limit
from bot.storage.models import Outbox, Subscriber


class ScriptedSender:
    """A channel double: records sends and answers with scripted results (default: sent)."""

    channel = "telegram"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, float]] = []
        self.script: list[SendResult] = []

    async def send(self, msg: Claimed, reply: Reply) -> SendResult:
        result = self.script.pop(0) if self.script else SendResult("sent", external_id="1")
        if result.status == "sent":
            self.sent.append((msg.chat_id, reply.text, time.monotonic()))
        return result


@pytest.fixture
async def rt(settings: Any) -> AsyncIterator[Runtime]:
    runtime = Runtime.create(settings, {"telegram": ScriptedSender()})
    yield runtime
    await runtime.stop()


def sender(rt: Runtime) -> ScriptedSender:
    s = rt.worker.senders["telegram"]
    assert isinstance(s, ScriptedSender)
    return s


async def enqueue(rt: Runtime, chat: str, text: str, **kw: Any) -> None:
    async with rt.services.sessions() as s, s.begin():
        await rt.services.outbox.enqueue(s, channel="telegram", chat_id=chat, reply=Reply(text=text), **kw)


async def statuses(rt: Runtime) -> list[str]:
    async with rt.services.sessions() as s:
        return list((await s.scalars(select(Outbox.status).order_by(Outbox.id))).all())


async def test_idempotency_key_prevents_double_enqueue(rt: Runtime) -> None:
    for _ in range(3):
        await enqueue(rt, "1", "halo", idem_key="bc:1:1", purpose="broadcast")
    await rt.worker.drain()
    assert [c for c, _t, _ in sender(rt).sent] == ["1"]


async def test_addresses_are_encrypted_at_rest(rt: Runtime) -> None:
    await enqueue(rt, "555000111", "x")
    async with rt.services.sessions() as s:
        row = (await s.scalars(select(Outbox))).one()
    assert "555000111" not in row.addr_enc and "555000111" not in row.addr_key
    assert rt.services.identity.open(row.addr_enc) == ("telegram", "555000111")


async def test_retry_after_then_success(rt: Runtime) -> None:
    sender(rt).script = [SendResult("retry", retry_after=0.3, error="429")]
    await enqueue(rt, "1", "a")
    start = time.monotonic()
    await rt.worker.drain(retries=True)
    assert len(sender(rt).sent) == 1
    assert sender(rt).sent[0][2] - start >= 0.3  # retry_after honoured
    async with rt.services.sessions() as s:
        row = (await s.scalars(select(Outbox))).one()
    assert row.status == "sent" and row.attempts == 1  # a 429 does not count as a failed attempt


async def test_network_error_backs_off_and_retries(rt: Runtime) -> None:
    sender(rt).script = [SendResult("retry", error="network"), SendResult("retry", error="network")]
    await enqueue(rt, "1", "a")
    await rt.worker.drain(timeout=15, retries=True)
    assert len(sender(rt).sent) == 1
    assert await statuses(rt) == ["sent"]


async def test_blocked_user_is_marked_not_retried(rt: Runtime) -> None:
    ident = rt.services.identity
    async with rt.services.sessions() as s, s.begin():
        s.add(Subscriber(channel="telegram", addr_key=ident.key("addr", "telegram", "77"),
                         addr_enc=ident.seal("telegram", "77"), region_code="64.02", role="asn"))
    sender(rt).script = [SendResult("blocked", error="403")]
    await enqueue(rt, "77", "a")
    await rt.worker.drain()
    assert await statuses(rt) == ["blocked"]
    async with rt.services.sessions() as s:
        sub = (await s.scalars(select(Subscriber))).one()
    assert sub.active is False and sub.blocked is True
    assert sender(rt).sent == []


async def test_permanent_failure_is_final(rt: Runtime) -> None:
    sender(rt).script = [SendResult("failed", error="bad request: chat not found")]
    await enqueue(rt, "1", "a")
    await rt.worker.drain()
    assert await statuses(rt) == ["failed"]


async def test_crash_recovery_resends_tips_but_not_broadcasts(rt: Runtime) -> None:
    await enqueue(rt, "g", "tip", purpose="tip", is_group=True)
    await enqueue(rt, "u", "siaran", purpose="broadcast", idem_key="bc:9:1")
    async with rt.services.sessions() as s, s.begin():
        for row in (await s.scalars(select(Outbox))).all():
            row.status = "sending"  # as if the process died mid-send
            row.lease_until = None
    async with rt.services.sessions() as s, s.begin():
        result = await rt.services.outbox.recover_expired(s)
    assert result == {"unknown": 1, "resend": 1}
    await rt.worker.drain()
    assert [t for _c, t, _ in sender(rt).sent] == ["tip"]
    assert sorted(await statuses(rt)) == ["sent", "unknown"]


async def test_per_chat_limit_spaces_messages(make_settings: Any) -> None:
    settings = make_settings(rate_limits={"telegram_per_chat_per_sec": 5})
    rt = Runtime.create(settings, {"telegram": ScriptedSender()})
    try:
        for i in range(4):
            await enqueue(rt, "same", f"m{i}")
        await rt.worker.drain()
        times = [ts for _c, _t, ts in sender(rt).sent]
        assert len(times) == 4
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert min(gaps) >= 0.19  # 5 per second in one chat
    finally:
        await rt.stop()


async def test_replies_go_before_bulk_broadcasts(rt: Runtime) -> None:
    for i in range(5):
        await enqueue(rt, f"b{i}", "siaran", purpose="broadcast", priority=10, idem_key=f"bc:1:{i}")
    await enqueue(rt, "u", "jawaban", purpose="reply", priority=0)
    await rt.worker.drain()
    assert sender(rt).sent[0][1] == "jawaban"


def test_sliding_window_never_exceeds_limit() -> None:
    now = [0.0]
    lim = ChannelLimiter(Limit(30, 1.0), Limit(1, 1.0), Limit(20, 60.0), clock=lambda: now[0])
    sent: list[float] = []
    for i in range(3000):
        now[0] = i * 0.001
        if lim.reserve(f"c{i}", False) == 0.0:
            sent.append(now[0])
    for i, ts in enumerate(sent):
        window = [x for x in sent[i:] if x - ts < 1.0]
        assert len(window) <= 30
    assert len(sent) >= 85  # ~30/s over 3 s


def test_group_limit_twenty_per_minute() -> None:
    now = [0.0]
    lim = ChannelLimiter(None, None, Limit(20, 60.0), clock=lambda: now[0])
    ok = 0
    for i in range(100):
        now[0] = i * 0.5
        ok += lim.reserve("group", True) == 0.0
    assert ok == 20  # within 50 s only 20 posts


def test_pause_blocks_channel() -> None:
    now = [0.0]
    lim = ChannelLimiter(Limit(30, 1.0), None, None, clock=lambda: now[0])
    lim.pause(2.0)
    assert lim.reserve("x", False) == pytest.approx(2.0)
    now[0] = 2.01
    assert lim.reserve("x", False) == 0.0


class HeldSender(ScriptedSender):
    """Each send waits for ``release``; ``entered`` counts the sends begun."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.entered = 0
        self.first = asyncio.Event()

    async def send(self, msg: Claimed, reply: Reply) -> SendResult:
        self.entered += 1
        self.first.set()
        await self.release.wait()
        return await super().send(msg, reply)


async def test_a_send_under_way_when_the_loop_starts_is_not_sent_again(settings: Any) -> None:
    """The start-up recovery (SQLite: every "sending" row is a dead process's) runs before this worker's first
    claim, whoever steps first. It ran at the top of the delivery loop, so a drain that had claimed a row
    before the loop's task first ran (the console, a test harness) saw it reset to pending and sent twice."""
    held = HeldSender()
    runtime = Runtime.create(settings, {"telegram": held})
    steps = 0
    two_steps = asyncio.Event()
    real_step = runtime.worker.step

    async def counted_step() -> float:
        nonlocal steps
        wait = await real_step()
        steps += 1
        if steps >= 2:
            two_steps.set()
        return wait

    runtime.worker.step = counted_step  # type: ignore[method-assign]
    try:
        await enqueue(runtime, "7", "halo")
        draining = asyncio.create_task(runtime.worker.drain())
        await held.first.wait()  # claimed by the drain: "sending", its send under way
        loop_task = asyncio.create_task(runtime.worker.run())
        await two_steps.wait()  # the drain's first step, then the loop's
        held.release.set()
        await draining
        await runtime.worker.drain()
        assert held.entered == 1 and [text for _c, text, _ in held.sent] == ["halo"]
        assert await statuses(runtime) == ["sent"]
        loop_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop_task
    finally:
        await runtime.stop()
