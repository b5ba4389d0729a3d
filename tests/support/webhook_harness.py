"""``python -m bot run`` in Telegram webhook mode, served in-process (uvicorn) against the fake Bot API.

Used by the ``served`` fixture of ``tests/app/conftest.py``.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from bot.app.serve import serve
from bot.config import Settings
from tests.support.fakes.telegram_server import FakeTelegramServer
from tests.support.telegram_harness import telegram_overrides

SECRET = "webhook-secret-0123456789"
HEADER = "X-Telegram-Bot-Api-Secret-Token"


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


async def serve_webhook(
    make_settings: Callable[..., Settings], tg_server: FakeTelegramServer
) -> AsyncIterator[Served]:
    """The bot in webhook mode on a free local port, stopped afterwards (unless the test stopped it)."""
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
