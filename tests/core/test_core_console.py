"""The core through the console channel: commands, errors, numbered buttons, persisted flow state."""

from __future__ import annotations

import io
from typing import Any

from sqlalchemy import func, select

from bot.app.runtime import Runtime
from bot.channels.console import ConsoleSender, render
from bot.core.context import Context
from bot.core.model import Button, Incoming, Reply
from bot.core.router import Router
from bot.storage.models import Outbox
from bot.texts import t


async def test_start_explains_the_bot(console: Any) -> None:
    replies = await console.say("/start")
    text = console.text(replies)
    assert "JagaNetral" in text and "/lapor" in text and "/langganan" in text


async def test_help_lists_admin_commands_only_for_admins(make_settings: Any) -> None:
    from tests.support.helpers import ConsoleHarness

    admin = ConsoleHarness(make_settings(console_admin=True))
    user = ConsoleHarness(make_settings(console_admin=False))
    try:
        assert "/siaran" in admin.text(await admin.say("/bantuan"))
        assert "/siaran" not in user.text(await user.say("/bantuan"))
        assert user.text(await user.say("/pertanyaan")) == t("error.admin_only")
    finally:
        await admin.close()
        await user.close()


async def test_unknown_command_gets_a_clear_reply(console: Any) -> None:
    replies = await console.say("/terbang sekarang")
    assert console.text(replies) == t("error.unknown_command", command="terbang")


async def test_command_with_bot_suffix_and_case(console: Any) -> None:
    replies = await console.say("/START@JagaNetralBot")
    assert "JagaNetral" in console.text(replies)


async def test_every_reply_goes_through_the_outbox(console: Any) -> None:
    await console.say("/start")
    await console.say("/bantuan")
    async with console.rt.services.sessions() as s:
        rows = (await s.execute(select(Outbox.status, func.count()).group_by(Outbox.status))).all()
    assert dict(rows) == {"sent": 2}


async def test_long_text_is_cut_and_user_told(console: Any) -> None:
    inc = Incoming(channel="console", chat_id="u1", user_id="u1", text="a" * 10, truncated=True)
    replies = await console.deliver(inc)
    assert t("error.too_long") in console.text(replies)


def _flow_router() -> Router:
    """A two-step flow used to test the core's state persistence (not a product feature)."""
    router = Router()

    async def begin(ctx: Context) -> None:
        ctx.state.start("demo", "name")
        ctx.reply(Reply(text="Pilih:", buttons=[[Button("Satu", "demo:1"), Button("Dua", "demo:2")]]))

    async def pick(ctx: Context) -> None:
        ctx.state.data["pick"] = ctx.incoming.callback
        ctx.reply("Tulis nama")

    async def step(ctx: Context) -> None:
        ctx.reply(f"{ctx.state.data.get('pick')} / {ctx.incoming.text}")
        ctx.state.clear()

    router.command("mulai", begin)
    router.callback("demo", pick)
    router.flow("demo", step)
    return router


async def test_flow_state_survives_restart(settings: Any) -> None:
    out = io.StringIO()
    sender = ConsoleSender(out)

    async def say(rt: Runtime, text: str) -> str:
        before = len(sender.delivered)
        await rt.core.handle(Incoming(channel="console", chat_id="u9", user_id="u9", text=text))
        await rt.worker.drain()
        return "\n".join(render(r) for _c, r in sender.delivered[before:])

    rt1 = Runtime.create(settings, {"console": sender})
    rt1.core.router = _flow_router()
    assert "1. Satu" in await say(rt1, "/mulai")
    assert await say(rt1, "2") == "Tulis nama"  # "2" pressed the second button
    await rt1.stop()

    rt2 = Runtime.create(settings, {"console": sender})  # a restart: new process state, same database
    rt2.core.router = _flow_router()
    try:
        assert await say(rt2, "Budi") == "demo:2 / Budi"
    finally:
        await rt2.stop()


async def test_handler_crash_rolls_back_and_answers(settings: Any) -> None:
    out = io.StringIO()
    sender = ConsoleSender(out)
    rt = Runtime.create(settings, {"console": sender})
    router = Router()

    async def boom(ctx: Context) -> None:
        ctx.reply("tidak boleh terkirim")
        raise RuntimeError("bug")

    router.command("boom", boom)
    rt.core.router = router
    try:
        await rt.core.handle(Incoming(channel="console", chat_id="u", user_id="u", text="/boom"))
        await rt.worker.drain()
        texts = [r.text for _c, r in sender.delivered]
        assert texts == [t("error.generic")]
    finally:
        await rt.stop()


async def test_duplicate_update_is_processed_once(console: Any) -> None:
    inc = Incoming(channel="console", chat_id="d", user_id="d", text="/start", update_key="42")
    first = await console.deliver(inc)
    second = await console.deliver(inc)
    assert len(first) == 1 and second == []


async def test_html_from_user_is_not_interpreted(console: Any) -> None:
    replies = await console.say("/<b>x</b>")
    assert replies[0].html is False
