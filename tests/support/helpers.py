"""Test helpers: drive the real core through the console channel."""

from __future__ import annotations

import asyncio
import io
from typing import Any

from sqlalchemy import text

from bot.app.runtime import Runtime
from bot.channels.console import CONSOLE_GROUP_CHAT, ConsoleSender, render
from bot.config import Settings
from bot.core.model import Incoming, Reply


class ConsoleHarness:
    """A console user (and a simulated Bawaslu group) talking to a real Runtime."""

    def __init__(self, settings: Settings, user_id: str = "console-user") -> None:
        self.out = io.StringIO()
        self.sender = ConsoleSender(self.out)
        self.rt = Runtime.create(settings, {"console": self.sender})
        self.user_id = user_id
        self._seen = 0

    async def say(self, text: str, *, group: bool = False, user_id: str | None = None) -> list[Reply]:
        uid = user_id or self.user_id
        inc = Incoming(
            channel="console",
            chat_id=CONSOLE_GROUP_CHAT if group else uid,
            user_id=uid,
            chat_type="group" if group else "private",
            text=text,
        )
        return await self.deliver(inc)

    async def deliver(self, inc: Incoming) -> list[Reply]:
        await self.rt.core.handle(inc)
        await self.rt.worker.drain()
        new = self.sender.delivered[self._seen :]
        self._seen = len(self.sender.delivered)
        return [r for _chat, r in new]

    async def press(self, label_fragment: str, replies: list[Reply], **kw: Any) -> list[Reply]:
        """Press the button whose label contains ``label_fragment`` (by typing its number)."""
        for reply in reversed(replies):
            flat = [b for row in reply.buttons for b in row]
            for i, b in enumerate(flat, 1):
                if label_fragment.lower() in b.label.lower():
                    return await self.say(str(i), **kw)
        raise AssertionError(f"no button {label_fragment!r} in {[render(r) for r in replies]}")

    def text(self, replies: list[Reply]) -> str:
        return "\n".join(render(r) for r in replies)

    async def close(self) -> None:
        await self.rt.stop()


async def until_an_advisory_lock_is_awaited(runtime: Runtime, task: asyncio.Task[Any]) -> None:
    """PostgreSQL: until some transaction waits for an advisory lock (seen in ``pg_locks``); ``task`` must not
    end meanwhile (it is the one that should be waiting)."""
    await until_a_lock_is_awaited(runtime, task, "advisory")


async def until_a_lock_is_awaited(runtime: Runtime, task: asyncio.Task[Any], locktype: str) -> None:
    """PostgreSQL: until some transaction waits for a lock of ``locktype`` (``pg_locks``: advisory, relation,
    ...); ``task`` must not end meanwhile (it is the one that should be waiting)."""
    async with runtime.services.sessions() as probe:
        while not await probe.scalar(text(
            "SELECT count(*) FROM pg_locks WHERE locktype = :t AND NOT granted"
        ), {"t": locktype}):
            assert not task.done()
            await asyncio.sleep(0.01)
            await probe.rollback()  # a fresh snapshot of pg_locks
