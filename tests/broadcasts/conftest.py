"""Fixtures for subscriptions, reminders and broadcasts: a console-channel runtime with a recording sender."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from bot.app.runtime import Runtime
from bot.channels.console import render
from bot.config import Settings
from bot.core.clock import set_clock
from bot.core.model import Incoming, Reply
from bot.outbox.ports import Claimed, SendResult
from bot.storage.models import Subscriber

ADMIN = "console-user"


class RecordingSender:
    """Console-channel double: records (chat_id, reply, purpose); chats in ``blocked`` answer 403."""

    channel = "console"

    def __init__(self) -> None:
        self.delivered: list[tuple[str, Reply, str]] = []
        self.blocked: set[str] = set()

    async def send(self, msg: Claimed, reply: Reply) -> SendResult:
        if msg.chat_id in self.blocked:
            return SendResult("blocked", error="403")
        self.delivered.append((msg.chat_id, reply, msg.purpose))
        return SendResult("sent", external_id=str(len(self.delivered)))

    def to(self, chat_id: str) -> list[str]:
        return [render(r) for c, r, _p in self.delivered if c == chat_id]

    def purposes(self, purpose: str) -> list[str]:
        return [c for c, _r, p in self.delivered if p == purpose]


class Harness:
    """A Runtime on the console channel; ``say`` acts as a console user (admin when console_admin)."""

    def __init__(self, settings: Settings, sender: RecordingSender | None = None) -> None:
        self.settings = settings
        self.sender = sender or RecordingSender()
        self.rt = Runtime.create(settings, {"console": self.sender})
        self._seen: dict[str, int] = {}

    async def say(self, text: str, user: str = ADMIN) -> str:
        await self.rt.core.handle(Incoming(channel="console", chat_id=user, user_id=user, text=text))
        await self.rt.worker.drain()
        msgs = self.sender.to(user)
        start = self._seen.get(user, 0)
        self._seen[user] = len(msgs)
        return "\n".join(msgs[start:])

    async def subscribers(self) -> list[Subscriber]:
        async with self.rt.services.sessions() as s:
            return list((await s.scalars(select(Subscriber).order_by(Subscriber.id))).all())

    async def add_subscribers(self, n: int, region: str, role: str = "asn", prefix: str = "u") -> list[str]:
        ident = self.rt.services.identity
        chats = [f"{prefix}{i}" for i in range(n)]
        async with self.rt.services.sessions() as s, s.begin():
            for chat in chats:
                s.add(
                    Subscriber(
                        channel="console",
                        addr_key=ident.key("addr", "console", chat),
                        addr_enc=ident.seal("console", chat),
                        region_code=region,
                        role=role,
                        active=True,
                    )
                )
        return chats

    async def close(self) -> None:
        await self.rt.stop()


@pytest.fixture
async def harness(settings: Settings) -> AsyncIterator[Harness]:
    h = Harness(settings)
    try:
        yield h
    finally:
        await h.close()


def freeze(at: datetime) -> None:
    set_clock(lambda: at)


def any_settings(make_settings: Any, **kw: Any) -> Settings:
    return make_settings(**kw)  # type: ignore[no-any-return]
