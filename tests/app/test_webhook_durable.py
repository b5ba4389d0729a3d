"""Telegram webhook mode answers 200 only once the update is handled and durable (review C10).

Telegram redelivers an update whose webhook call failed; ``processed_updates`` makes the redelivery a no-op.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from bot.storage.db import create_engine
from bot.storage.models import Outbox, ProcessedUpdate
from tests.support.fakes.telegram_server import FakeTelegramServer, make_callback
from tests.support.webhook_harness import Served


async def _count(url: str, model: Any) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(model)) or 0)
    finally:
        await engine.dispose()


async def test_webhook_answers_after_the_update_is_stored(served: Served, tg_server: FakeTelegramServer) -> None:
    db = served.settings.database.url
    # answering the callback query (the first thing the handler does) is slow: a 200 sent before the
    # handling would come back before anything is in the database
    tg_server.set_latency(0.5, methods=["answerCallbackQuery"])
    update = make_callback(6001, 6001, "faq:hak-pilih")
    assert await served.post_update(update) == 200
    assert await _count(db, ProcessedUpdate) == 1
    assert await _count(db, Outbox) == 1  # the reply is queued, durable

    assert await served.post_update(update) == 200  # Telegram's redelivery of the same update
    assert await _count(db, ProcessedUpdate) == 1 and await _count(db, Outbox) == 1

