"""/start and /bantuan."""

from __future__ import annotations

from bot.core.context import Context
from bot.texts import t


async def start(ctx: Context) -> None:
    ctx.state.clear()
    ctx.reply(t("start.welcome"))


async def help_(ctx: Context) -> None:
    if ctx.is_group:
        ctx.reply(t("help.group"))
        return
    text = t("help.text")
    if ctx.is_admin:
        text += t("help.admin")
    ctx.reply(text)
