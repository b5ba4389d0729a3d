"""Telegram webhook mode end to end: ``serve()`` with uvicorn + the fake Bot API, graceful shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.storage.db import create_engine, session_maker
from bot.storage.models import Outbox
from bot.texts import t
from tests.support.drain import drained
from tests.support.fakes.telegram_server import FakeTelegramServer, make_message
from tests.support.webhook_harness import SECRET, Served

WELCOME = t("start.welcome")[:40]


def _sent_to(server: FakeTelegramServer, chat_id: int) -> Callable[[Any], bool]:
    return lambda c: c.method == "sendMessage" and str(c.chat_id) == str(chat_id) and WELCOME in (c.text or "")


async def _outbox(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(select(Outbox.status, func.count()).group_by(Outbox.status))
            return {status: int(n) for status, n in rows.all()}
    finally:
        await engine.dispose()


async def test_webhook_mode_end_to_end(served: Served, tg_server: FakeTelegramServer) -> None:
    hooks = tg_server.calls_of("setWebhook")
    assert len(hooks) == 1 and hooks[0].ok
    assert hooks[0].params["url"] == "https://bot.example.org/telegram"
    assert hooks[0].params["secret_token"] == SECRET
    assert tg_server.calls_of("getUpdates") == []  # no polling in webhook mode

    assert await served.post_update(make_message(5001, 5001, "/start")) == 200
    await tg_server.wait_for(_sent_to(tg_server, 5001), timeout=10)

    intruder = make_message(5002, 5002, "/start")
    assert await served.post_update(intruder, secret=None) == 403
    assert await served.post_update(intruder, secret="wrong-secret") == 403
    assert await served.post_update(None, raw=b"{not json") == 400
    assert await served.post_update({"message": {}}) == 400  # JSON but not an update
    engine = create_engine(served.settings.database.url)
    try:  # the same database as the served bot: nothing left to send, so nothing more can reach 5002
        await drained(session_maker(engine))
    finally:
        await engine.dispose()
    assert not [c for c in tg_server.calls if str(c.chat_id) == "5002"]  # rejected updates reached nobody

    health = await served.http.get("/health")
    assert health.status_code == 200
    assert health.headers["content-type"].startswith("application/json")
    assert health.json()["status"] == "ok" and isinstance(health.json()["outbox_pending"], int)


async def test_graceful_shutdown_finishes_the_send_in_flight(served: Served, tg_server: FakeTelegramServer) -> None:
    tg_server.set_latency(0.5)
    assert await served.post_update(make_message(5003, 5003, "/start")) == 200
    db = served.settings.database.url
    for _ in range(200):  # wait until the reply is claimed and its request is on the wire
        if (await _outbox(db)).get("sending"):
            break
        await asyncio.sleep(0.02)
    else:
        pytest.fail("the reply was never claimed")
    await served.shutdown()  # stop_event set while the send is in flight
    assert await _outbox(db) == {"sent": 1}
    assert [c for c in tg_server.calls if _sent_to(tg_server, 5003)(c)]
