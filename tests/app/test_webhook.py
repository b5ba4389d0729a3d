"""Telegram webhook mode end to end: ``serve()`` with uvicorn + the fake Bot API, graceful shutdown."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot.app.serve import serve
from bot.config import Settings
from bot.storage.db import create_engine
from bot.storage.models import Outbox
from bot.texts import t
from tests.support.fakes.telegram_server import FakeTelegramServer, make_message
from tests.support.telegram_harness import telegram_overrides

SECRET = "webhook-secret-0123456789"
HEADER = "X-Telegram-Bot-Api-Secret-Token"
WELCOME = t("start.welcome")[:40]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    def __init__(self, settings: Settings, server: FakeTelegramServer) -> None:
        self.settings = settings
        self.server = server
        self.stop = asyncio.Event()
        self.url = f"http://127.0.0.1:{settings.web.port}"
        self.task: asyncio.Task[None] | None = None
        self.http = httpx.AsyncClient(base_url=self.url, timeout=10)

    async def start(self) -> None:
        self.task = asyncio.create_task(serve(self.settings, self.stop))
        for _ in range(200):
            assert not self.task.done(), self.task.exception() if self.task.done() else None
            try:
                if (await self.http.get("/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
        raise TimeoutError("web server did not come up")

    async def post_update(self, update: Any, secret: str | None = SECRET, *, raw: bytes | None = None) -> int:
        headers = {HEADER: secret} if secret is not None else {}
        if raw is not None:
            headers["Content-Type"] = "application/json"
            resp = await self.http.post("/telegram", content=raw, headers=headers)
        else:
            resp = await self.http.post("/telegram", json=update, headers=headers)
        return resp.status_code

    async def shutdown(self) -> None:
        self.stop.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, 20)
        await self.http.aclose()


@pytest.fixture
async def served(make_settings: Callable[..., Settings], tg_server: FakeTelegramServer) -> AsyncIterator[Served]:
    settings = make_settings(
        **telegram_overrides(tg_server, mode="webhook", webhook_url="https://bot.example.org/telegram",
                             webhook_secret=SECRET),
        web={"host": "127.0.0.1", "port": free_port()},
    )
    s = Served(settings, tg_server)
    await s.start()
    try:
        yield s
    finally:
        if not s.stop.is_set():
            await s.shutdown()


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
    await asyncio.sleep(0.3)
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
