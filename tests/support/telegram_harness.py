"""End-to-end harness: the real Runtime + python-telegram-bot Application against the fake Bot API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from telegram import Bot

from bot.app.attach import attach_telegram
from bot.app.runtime import Runtime
from bot.channels.telegram import TelegramChannel, TelegramSender
from bot.channels.telegram_http import AiohttpRequest
from bot.config import Settings
from tests.support.drain import drained
from tests.support.fakes.telegram_server import FakeTelegramServer, make_callback, make_message

TOKEN = "123456:TEST-TOKEN"


def telegram_overrides(server: FakeTelegramServer, **telegram: Any) -> dict[str, Any]:
    return {
        "telegram": {
            "token": TOKEN,
            "base_url": server.base_url,
            "base_file_url": server.base_file_url,
            "poll_timeout": 0.5,
            **telegram,
        }
    }


@asynccontextmanager
async def sending_runtime(settings: Settings, server: FakeTelegramServer, **request: Any) -> AsyncIterator[Runtime]:
    """A Runtime whose only sender is Telegram, through the real PTB ``Bot`` and our aiohttp transport
    (``request``: its options), against ``server`` (started by the caller); no inbound channel."""
    bot = Bot(TOKEN, base_url=server.base_url, request=AiohttpRequest(**request))
    await bot.initialize()
    rt = Runtime.create(settings, {"telegram": TelegramSender(bot)})
    try:
        yield rt
    finally:
        await rt.stop()
        await bot.shutdown()


class TelegramHarness:
    def __init__(self, settings: Settings, server: FakeTelegramServer) -> None:
        self.settings = settings
        self.server = server
        self.rt: Runtime | None = None
        self.channel: TelegramChannel | None = None

    async def start(self) -> TelegramHarness:
        self.rt = Runtime.create(self.settings)
        self.channel = attach_telegram(self.rt)
        await self.channel.start()
        await self.rt.start()
        return self

    async def stop(self) -> None:
        if self.channel is not None:
            await self.channel.stop()
        if self.rt is not None:
            await self.rt.stop()
        self.channel = self.rt = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    # --- acting as users -------------------------------------------------------------------------
    def text(self, user_id: int, text: str, *, chat_id: int | None = None, **kw: Any) -> dict[str, Any]:
        update = make_message(chat_id if chat_id is not None else user_id, user_id, text, **kw)
        self.server.inject_update(update)
        return update

    def press(self, user_id: int, data: str, *, chat_id: int | None = None, message_id: int = 1) -> None:
        self.server.inject_update(make_callback(chat_id if chat_id is not None else user_id, user_id, data, message_id))

    def mark(self) -> int:
        """Position in the server's call log; pass as ``since`` to wait only for later calls."""
        return len(self.server.calls)

    async def wait_text(self, chat_id: int, needle: str, timeout: float = 10.0, *, since: int = 0) -> Any:
        """Wait until a message containing ``needle`` was sent to ``chat_id``; returns the recorded call."""
        def match(call: Any) -> bool:
            return str(call.chat_id) == str(chat_id) and needle in (
                str(call.params.get("text", "")) + str(call.params.get("caption", ""))
            )

        return await self.server.wait_for(match, timeout=timeout, since=since)

    async def settle(self, seconds: float = 0.3) -> None:
        await asyncio.sleep(seconds)

    async def drained(self, timeout: float = 20.0) -> None:
        """Wait until nothing more can be sent (``tests.support.drain``): absence checks are valid after it."""
        assert self.rt is not None
        await drained(self.rt.services.sessions, timeout)


async def wait_recorded(rt: Any, message_id: int, timeout: float = 10.0) -> None:
    """Wait until the delivery loop has recorded the bot message ``message_id`` as sent (its outbox row
    carries the platform id): a member's reply to it can only be matched from then on."""
    from sqlalchemy import select

    from bot.storage.models import Outbox

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        async with rt.services.sessions() as s:
            if await s.scalar(select(Outbox.id).where(Outbox.external_id == str(message_id))) is not None:
                return
        await asyncio.sleep(0.02)
    raise TimeoutError(f"message {message_id} not recorded as sent within {timeout}s")
