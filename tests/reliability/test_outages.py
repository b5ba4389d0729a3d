"""Outages of the Telegram Bot API (fake server): connection refused, 5xx, 429 storms with retry_after —
during tips, FAQ replies and a broadcast. Nothing is lost, the backlog drains after recovery, and no
message is sent while Telegram's retry_after pause runs."""

from __future__ import annotations

import asyncio
import time

from bot.core.clock import utcnow
from tests.reliability import anon
from tests.reliability.conftest import ADMIN_ID, GROUP_KUKAR
from tests.reliability.flows import CODE_RE, add_broadcast, outbox_open, seed_subscribers, submit_tip
from tests.support.fakes.telegram_server import FakeTelegramServer, make_callback, make_message
from tests.support.telegram_harness import TelegramHarness

QUESTION = "boleh PNS like postingan capres di facebook?"
SUBSCRIBERS = [61_000_000 + i for i in range(60)]
BROADCAST = "Siaran uji gangguan"


def _asked(server: FakeTelegramServer, users: list[int]) -> None:
    for uid in users:
        server.inject_update(make_message(uid, uid, QUESTION))


async def _all_answered(server: FakeTelegramServer, users: list[int], since: int, timeout: float) -> None:
    pending = set(users)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while pending and loop.time() < deadline:
        with server._lock:
            calls = server.calls[since:]
        done = {c.chat_id for c in calls if c.ok and c.method == "sendMessage"}
        pending -= done
        await asyncio.sleep(0.1)
    assert not pending, f"{len(pending)} users never got an answer"


async def test_outages_lose_nothing_and_honour_retry_after(tg: TelegramHarness) -> None:
    server, rt = tg.server, tg.rt
    assert rt is not None
    reporter = anon.REPORTER_ID
    await submit_tip(server, reporter, confirm=False)
    await seed_subscribers(rt, SUBSCRIBERS)

    # 1. connection refused: the tip is confirmed, FAQ questions and a broadcast pile up meanwhile
    await server.stop()
    start = server.mark()  # (a long poll cut by stop() is recorded while stopping)
    down_at = time.monotonic()
    server.inject_update(make_callback(reporter, reporter, "lapor:ok", username=anon.USERNAME,
                                       first_name=anon.FIRST_NAME))
    wave1 = [62_000_000 + i for i in range(20)]
    _asked(server, wave1)
    await add_broadcast(rt, BROADCAST, ADMIN_ID)
    sched = rt.services.scheduler
    assert sched is not None
    await sched.run_due(utcnow())  # the broadcast is expanded and its sends start failing
    await asyncio.sleep(3.0)
    assert server.mark() == start  # really down: nothing reached the server
    await server.start()
    receipt = await server.wait_for(lambda c: c.chat_id == reporter and bool(CODE_RE.search(c.text or "")),
                                    timeout=40, since=start)
    code = CODE_RE.search(receipt.text or "").group(0)  # type: ignore[union-attr]
    await server.wait_for(lambda c: c.chat_id == GROUP_KUKAR and code in (c.text or ""), timeout=40, since=start)
    await _all_answered(server, wave1, start, 40)
    await _all_answered(server, SUBSCRIBERS, start, 60)
    recovered_in = time.monotonic() - down_at - 3.0

    # 2. 5xx errors: retried with backoff
    mark = server.mark()
    server.fail_next(25, 502)
    wave2 = [63_000_000 + i for i in range(10)]
    _asked(server, wave2)
    await _all_answered(server, wave2, mark, 40)
    assert sum(1 for c in server.calls[mark:] if c.status == 502) == 25

    # 3. a 429 storm: the whole channel pauses for retry_after, then everything goes out
    mark = server.mark()
    server.rate_limit_next(6, retry_after=2, methods=["sendMessage"])
    wave3 = [64_000_000 + i for i in range(10)]
    _asked(server, wave3)
    await _all_answered(server, wave3, mark, 40)
    calls = server.calls[mark:]
    limited = [c for c in calls if c.status == 429]
    assert len(limited) == 6
    sends = [c for c in calls if c.ok and c.method.startswith("send")]
    for c in limited:
        quiet = [s for s in sends if c.timestamp + 0.15 < s.timestamp < c.timestamp + (c.retry_after or 0)]
        assert quiet == [], f"{len(quiet)} sends during the retry_after pause"
    first_429 = min(c.timestamp for c in limited)
    assert max(s.timestamp for s in sends) >= first_429 + 2  # the retried ones went out after the pause

    # nothing lost, nothing twice, nothing stuck
    for _ in range(50):
        if await outbox_open(rt) == 0:
            break
        await asyncio.sleep(0.1)
    assert await outbox_open(rt) == 0
    assert server.duplicate_count() == 0, server.duplicates()
    assert sum(1 for c in server.sent_messages(GROUP_KUKAR) if code in (c.text or "")) == 1
    print({"recovery_seconds_after_outage": round(recovered_in, 1)})
