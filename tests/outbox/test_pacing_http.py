"""The delivery engine over real HTTP (python-telegram-bot, our aiohttp transport) against the fake Bot API,
which enforces Telegram's limits the way Telegram counts them: on arrival, over exact sliding windows, 30
per second globally and 1 per second per chat, answering 429 + retry_after to any send over them.

Event-driven: the test waits until the outbox is drained and then checks what the server counted; it asserts
no time or rate (``benchmarks/broadcast.py`` measures those).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.app.runtime import Runtime
from bot.core.model import Reply
from bot.storage.models import Outbox
from tests.support.fakes.telegram_server import FakeTelegramServer
from tests.support.telegram_harness import sending_runtime

FIRST_CHAT = 7_000_000
SAME_CHAT = 6_999_999


@pytest.fixture(params=[None, (0.1, 0.3)], ids=["no-latency", "latency-100-300ms"])
async def limited(request: Any, make_settings: Any) -> AsyncIterator[tuple[Runtime, FakeTelegramServer]]:
    server = FakeTelegramServer()
    await server.start()
    server.enforce_limits(global_per_sec=30, per_chat_per_sec=1, per_group_per_min=20)
    if request.param is not None:
        server.set_latency(request.param[0], max_seconds=request.param[1])
    settings = make_settings(rate_limits={"telegram_global_per_sec": 30, "telegram_per_chat_per_sec": 1})
    try:
        async with sending_runtime(settings, server) as rt:
            yield rt, server
    finally:
        await server.stop()


async def test_a_broadcast_over_http_gets_no_429_with_telegram_limits_enforced(
    limited: tuple[Runtime, FakeTelegramServer],
) -> None:
    rt, server = limited
    n = 75  # 2.5 s at 30/s: several full windows
    async with rt.services.sessions() as s, s.begin():
        rows = [
            rt.services.outbox.row_values(channel="telegram", chat_id=str(FIRST_CHAT + i),
                                          reply=Reply(text=f"siaran {i}"), purpose="broadcast", idem_key=f"bc:5:{i}")
            for i in range(n)
        ] + [  # and three replies to one chat: 1 per second in that chat
            rt.services.outbox.row_values(channel="telegram", chat_id=str(SAME_CHAT), reply=Reply(text=f"balasan {i}"),
                                          purpose="reply")
            for i in range(3)
        ]
        await rt.services.outbox.enqueue_many(s, rows)
    await rt.worker.drain(timeout=60, retries=True)
    assert server.stats.rate_limited_429 == 0  # the server never had to refuse a send
    assert server.stats.max_global_per_sec <= 30
    received = Counter(str(c.chat_id) for c in server.sent_messages())
    assert received == Counter({**{str(FIRST_CHAT + i): 1 for i in range(n)}, str(SAME_CHAT): 3})
    assert server.texts(SAME_CHAT) == ["balasan 0", "balasan 1", "balasan 2"]
    async with rt.services.sessions() as s:
        assert Counter((await s.scalars(select(Outbox.status))).all()) == {"sent": n + 3}
