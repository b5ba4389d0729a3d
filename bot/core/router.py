"""Routing: commands, button presses and free text to handlers (the Context they get: ``bot.core.context``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.core.context import Context, Handler
from bot.texts import t

log = logging.getLogger(__name__)

@dataclass
class _Command:
    handler: Handler
    admin: bool
    where: str  # private | group | any


class Router:
    def __init__(self) -> None:
        self._commands: dict[str, _Command] = {}
        self._callbacks: dict[str, Handler] = {}
        self._flows: dict[str, Handler] = {}
        self._fallback: Handler | None = None
        self._group_fallback: Handler | None = None

    def command(self, name: str, handler: Handler, *, admin: bool = False, where: str = "private") -> None:
        self._commands[name] = _Command(handler, admin, where)

    def callback(self, prefix: str, handler: Handler) -> None:
        """Buttons whose data is ``prefix`` or starts with ``prefix:``."""
        self._callbacks[prefix] = handler

    def flow(self, name: str, handler: Handler) -> None:
        self._flows[name] = handler

    def fallback(self, handler: Handler, *, group: Handler | None = None) -> None:
        self._fallback = handler
        self._group_fallback = group

    @property
    def commands(self) -> list[str]:
        return sorted(self._commands)

    async def dispatch(self, ctx: Context) -> None:
        inc = ctx.incoming
        if inc.callback is not None:
            prefix = inc.callback.split(":", 1)[0]
            handler = self._callbacks.get(prefix)
            if handler is None:
                ctx.reply(t("error.unknown_button"))
                return
            await handler(ctx)
            return
        name = inc.command
        if name is not None:
            cmd = self._commands.get(name)
            if cmd is None:
                if ctx.is_group:
                    return  # commands meant for other bots in the group
                ctx.reply(t("error.unknown_command", command=name[:32]))
                return
            if cmd.admin and not ctx.is_admin:
                log.info("admin command refused", extra={"command": name})
                ctx.reply(t("error.admin_only"))
                return
            if cmd.where == "private" and ctx.is_group:
                ctx.reply(t("error.private_only"))
                return
            if cmd.where == "group" and not ctx.is_group and not ctx.is_admin:
                ctx.reply(t("error.group_only"))
                return
            await cmd.handler(ctx)
            return
        if ctx.state.flow is not None and ctx.state.flow in self._flows:
            await self._flows[ctx.state.flow](ctx)
            return
        if ctx.is_group:
            if self._group_fallback is not None:
                await self._group_fallback(ctx)
            return
        if self._fallback is not None:
            await self._fallback(ctx)
