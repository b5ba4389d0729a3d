"""One update is one database transaction, on SQLite as on PostgreSQL (review C2).

A handler that fails leaves nothing behind: no de-duplication row (so the platform's redelivery is handled),
no conversation state and no queued reply other than the generic error.
"""

from __future__ import annotations

import io
from typing import Any

from sqlalchemy import func, select

from bot.app.runtime import Runtime
from bot.channels.console import ConsoleSender
from bot.core.context import Context
from bot.core.model import Incoming
from bot.core.router import Router
from bot.storage.models import Conversation, Outbox, ProcessedUpdate, Subscriber
from bot.texts import t


def _router(fail: dict[str, bool]) -> Router:
    router = Router()

    async def work(ctx: Context) -> None:
        ctx.state.start("demo", "one")
        ctx.state.data["written"] = True
        ctx.reply("selesai")
        ctx.session.add(
            Subscriber(
                channel="console", addr_key="partial-write", addr_enc="x", role="publik", region_code="64",
                active=True, created_at=ctx.now, updated_at=ctx.now,
            )
        )
        await ctx.session.flush()  # the write reaches the database inside the transaction ...
        if fail["now"]:
            raise RuntimeError("bug after the first writes")  # ... and must be rolled back with the rest

    router.command("kerja", work)
    return router


async def _count(rt: Runtime, model: Any) -> int:
    async with rt.services.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_failed_handler_leaves_no_trace_and_redelivery_is_handled(settings: Any) -> None:
    sender = ConsoleSender(io.StringIO())
    rt = Runtime.create(settings, {"console": sender})
    fail = {"now": True}
    rt.core.router = _router(fail)
    inc = Incoming(channel="console", chat_id="u", user_id="u", text="/kerja", update_key="42")
    try:
        await rt.core.handle(inc)
        await rt.worker.drain()
        assert [r.text for _c, r in sender.delivered] == [t("error.generic")]
        assert await _count(rt, ProcessedUpdate) == 0  # the platform's retry must not look like a duplicate
        assert await _count(rt, Subscriber) == 0  # the flushed write was rolled back
        async with rt.services.sessions() as s:
            assert (await s.scalars(select(Conversation))).all() == []
            texts = [p["text"] for p in (await s.scalars(select(Outbox.payload))).all()]
        assert texts == [t("error.generic")]  # "selesai" was queued in the failed transaction: gone

        fail["now"] = False  # the same update again (Twilio's / Telegram's redelivery), now handled
        await rt.core.handle(inc)
        await rt.worker.drain()
        assert [r.text for _c, r in sender.delivered] == [t("error.generic"), "selesai"]
        assert await _count(rt, ProcessedUpdate) == 1
        assert await _count(rt, Subscriber) == 1
        async with rt.services.sessions() as s:
            conv = (await s.scalars(select(Conversation))).one()
        assert (conv.flow, conv.step, conv.data) == ("demo", "one", {"written": True})

        await rt.core.handle(inc)  # a third delivery is a duplicate now
        await rt.worker.drain()
        assert len(sender.delivered) == 2
    finally:
        await rt.stop()
