"""Routing: commands, button presses and free text to handlers; the per-update Context handlers get."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.model import Incoming, Reply
from bot.texts import t

if TYPE_CHECKING:
    from bot.core.services import Services

log = logging.getLogger(__name__)

Handler = Callable[["Context"], Awaitable[None]]


@dataclass
class FlowState:
    """Where a user is in a multi-step flow; persisted in the ``conversations`` table."""

    flow: str | None = None
    step: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def start(self, flow: str, step: str, data: dict[str, Any] | None = None) -> None:
        self.flow, self.step, self.data = flow, step, dict(data or {})

    def clear(self) -> None:
        self.flow, self.step, self.data = None, None, {}


@dataclass
class Context:
    incoming: Incoming
    session: AsyncSession
    state: FlowState
    services: Services
    now: datetime
    replies: list[Reply] = field(default_factory=list)
    sent: list[tuple[str, str, Reply]] = field(default_factory=list)  # (channel, chat_id, reply) via send_to

    # --- who -----------------------------------------------------------------------------------
    @property
    def channel(self) -> str:
        return self.incoming.channel

    @property
    def is_group(self) -> bool:
        return self.incoming.chat_type == "group"

    @property
    def is_admin(self) -> bool:
        return self.services.is_admin(self.incoming)

    @property
    def user_key(self) -> str:
        """Pseudonym of the person (HMAC of channel and user id)."""
        return self.services.identity.key("user", self.incoming.channel, self.incoming.user_id)

    @property
    def chat_key(self) -> str:
        return self.services.identity.key("addr", self.incoming.channel, self.incoming.chat_id)

    # --- output --------------------------------------------------------------------------------
    def reply(self, reply: Reply | str) -> None:
        """Answer in the chat the update came from (queued in the outbox with this transaction)."""
        reply = Reply(text=reply) if isinstance(reply, str) else reply
        _check_html(reply)
        self.replies.append(reply)

    async def send_to(
        self,
        channel: str,
        chat_id: str,
        reply: Reply,
        *,
        is_group: bool = False,
        purpose: str = "notice",
        idem_key: str | None = None,
        tip_id: int | None = None,
        priority: int = 0,
    ) -> None:
        """Queue a message to another chat (e.g. a Bawaslu group) in this transaction."""
        _check_html(reply)
        self.sent.append((channel, chat_id, reply))
        await self.services.outbox.enqueue(
            self.session,
            channel=channel,
            chat_id=chat_id,
            reply=reply,
            is_group=is_group,
            purpose=purpose,
            idem_key=idem_key,
            tip_id=tip_id,
            priority=priority,
        )


def _check_html(reply: Reply) -> None:
    """HTML replies must be built with ``bot.texts.html_t`` (escaped by construction), never by hand."""
    if reply.html and not isinstance(reply.text, Markup):
        raise TypeError("an HTML reply needs Markup text (bot.texts.html_t)")


@dataclass
class _Command:
    handler: Handler
    admin: bool
    where: str  # private | group | any
    ends_flow: bool = False  # the command ends the current flow itself (/batal): not interrupted first


@dataclass
class _Flow:
    handler: Handler
    cancel: Handler | None  # how the flow ends on /batal (or when interrupted); None: clear + "Dibatalkan"
    transient: bool  # any command, or a button not in ``keeps``, ends the flow before it is handled
    keeps: tuple[str, ...]  # callback data (or data prefixes before ":") that belong to a transient flow


class Router:
    def __init__(self) -> None:
        self._commands: dict[str, _Command] = {}
        self._callbacks: dict[str, Handler] = {}
        self._flows: dict[str, _Flow] = {}
        self._fallback: Handler | None = None
        self._group_fallback: Handler | None = None

    def command(
        self, name: str, handler: Handler, *, admin: bool = False, where: str = "private", ends_flow: bool = False
    ) -> None:
        self._commands[name] = _Command(handler, admin, where, ends_flow)

    def callback(self, prefix: str, handler: Handler) -> None:
        """Buttons whose data is ``prefix`` or starts with ``prefix:``."""
        self._callbacks[prefix] = handler

    def flow(
        self,
        name: str,
        handler: Handler,
        *,
        cancel: Handler | None = None,
        transient: bool = False,
        keeps: tuple[str, ...] = (),
    ) -> None:
        """Free text while ``ctx.state.flow == name`` goes to ``handler``.

        ``cancel`` ends the flow on /batal (see ``cancel_flow``). A ``transient`` flow (e.g. a question that
        must not catch a later, unrelated message) is also ended, through ``cancel``, by any command and by
        any button whose data is not one of ``keeps`` (exactly, or as a prefix before ":")."""
        self._flows[name] = _Flow(handler, cancel, transient, keeps)

    async def cancel_flow(self, ctx: Context) -> bool:
        """End the current flow the way it asks to be cancelled; False when no flow was active."""
        if ctx.state.flow is None:
            return False
        flow = self._flows.get(ctx.state.flow)
        if flow is not None and flow.cancel is not None:
            await flow.cancel(ctx)
        else:
            ctx.state.clear()
            ctx.reply(t("common.cancelled"))
        return True

    def _interrupts(self, ctx: Context, callback: str | None) -> bool:
        flow = self._flows.get(ctx.state.flow) if ctx.state.flow is not None else None
        if flow is None or not flow.transient:
            return False
        if callback is None:
            return True
        return not any(callback == k or callback.startswith(k + ":") for k in flow.keeps)

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
            if self._interrupts(ctx, inc.callback):
                await self.cancel_flow(ctx)
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
            if not cmd.ends_flow and self._interrupts(ctx, None):
                await self.cancel_flow(ctx)
            await cmd.handler(ctx)
            return
        if ctx.state.flow is not None and ctx.state.flow in self._flows:
            await self._flows[ctx.state.flow].handler(ctx)
            return
        if ctx.is_group:
            if self._group_fallback is not None:
                await self._group_fallback(ctx)
            return
        if self._fallback is not None:
            await self._fallback(ctx)
