"""The channel-agnostic core: one unit of work per incoming update.

``Core.handle(incoming)`` runs in a single database transaction: de-duplicate the update, load the
conversation state, dispatch to a handler, save state and queue every reply in the outbox. Only after
the commit is the delivery worker woken — so nothing is shown to a user that is not already durable.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.core.clock import utcnow
from bot.core.context import Context, FlowState
from bot.core.identity import short
from bot.core.model import Incoming, Reply
from bot.core.router import Router
from bot.core.services import Services
from bot.storage.models import ChatWindow, Conversation, ProcessedUpdate
from bot.texts import t

log = logging.getLogger(__name__)

NUMBERED_CHANNELS = frozenset({"console", "whatsapp"})
CHOICES_KEY = "_choices"


class Core:
    def __init__(self, services: Services, router: Router) -> None:
        self.services = services
        self.router = router
        self._wake: list[Any] = []

    def on_committed(self, callback: Any) -> None:
        """Register a zero-argument callable run after each commit (wakes the delivery worker)."""
        self._wake.append(callback)

    def _notify(self) -> None:
        for cb in self._wake:
            cb()

    def conv_key(self, inc: Incoming) -> str:
        return self.services.identity.key("conv", inc.channel, inc.chat_id, inc.user_id)

    async def handle(self, inc: Incoming) -> None:
        inc = _without_nul(inc)
        try:
            await self._handle(inc)
        except Exception:
            log.exception(
                "handler failed", extra={"channel": inc.channel, "conv": short(self.conv_key(inc))}
            )
            await self._enqueue_error(inc)
        self._notify()

    async def _handle(self, inc: Incoming) -> None:
        svc = self.services
        now = utcnow()
        async with svc.sessions() as session:
            async with session.begin():
                if inc.update_key is not None:
                    try:
                        async with session.begin_nested():
                            session.add(ProcessedUpdate(key=f"{inc.channel}:{inc.update_key}", created_at=now))
                    except IntegrityError:
                        log.info("duplicate update ignored", extra={"channel": inc.channel})
                        return
                key = self.conv_key(inc)
                conv = await session.scalar(select(Conversation).where(Conversation.conv_key == key))
                if conv is None:
                    conv = Conversation(conv_key=key, data={}, updated_at=now)
                    session.add(conv)
                state = FlowState(conv.flow, conv.step, copy.deepcopy(conv.data or {}))
                if inc.channel in NUMBERED_CHANNELS:
                    inc = self._numbered_choice(inc, await self._load_choices(session, inc.channel, inc.chat_id))
                ctx = Context(incoming=inc, session=session, state=state, services=svc, now=now)
                if inc.truncated:
                    ctx.reply(t("error.too_long"))
                await self.router.dispatch(ctx)
                conv.flow, conv.step, conv.data = state.flow, state.step, state.data
                conv.updated_at = now
                await self._remember_choices(
                    session, now, [(inc.channel, inc.chat_id, r) for r in ctx.replies] + ctx.sent
                )
                if inc.chat_type == "private":
                    await self._touch_window(session, inc, now)
                for reply in ctx.replies:
                    await svc.outbox.enqueue(
                        session,
                        channel=inc.channel,
                        chat_id=inc.chat_id,
                        reply=reply,
                        is_group=inc.chat_type == "group",
                        purpose="reply",
                    )

    async def _touch_window(self, session: Any, inc: Incoming, now: Any) -> None:
        addr_key = self.services.identity.key("addr", inc.channel, inc.chat_id)
        window = await session.get(ChatWindow, addr_key)
        if window is None:
            session.add(ChatWindow(addr_key=addr_key, last_inbound_at=now))
        else:
            window.last_inbound_at = now

    def _choices_key(self, channel: str, chat_id: str) -> str:
        return self.services.identity.key("choices", channel, chat_id)

    async def _load_choices(self, session: Any, channel: str, chat_id: str) -> list[str] | None:
        row = await session.scalar(
            select(Conversation).where(Conversation.conv_key == self._choices_key(channel, chat_id))
        )
        return (row.data or {}).get(CHOICES_KEY) if row is not None else None

    async def _remember_choices(self, session: Any, now: Any, messages: list[tuple[str, str, Reply]]) -> None:
        """Chats without real buttons: remember the buttons of the last message sent to each chat."""
        latest: dict[tuple[str, str], list[str]] = {}
        for channel, chat_id, reply in messages:
            if channel in NUMBERED_CHANNELS and reply.buttons:
                latest[(channel, chat_id)] = [b.data for row in reply.buttons for b in row]
        for (channel, chat_id), choices in latest.items():
            key = self._choices_key(channel, chat_id)
            row = await session.scalar(select(Conversation).where(Conversation.conv_key == key))
            if row is None:
                session.add(Conversation(conv_key=key, data={CHOICES_KEY: choices}, updated_at=now))
            else:
                row.data = {CHOICES_KEY: choices}
                row.updated_at = now

    @staticmethod
    def _numbered_choice(inc: Incoming, choices: list[str] | None) -> Incoming:
        """On channels without real buttons, "2" picks the second button of the last message."""
        if not choices or inc.callback is not None:
            return inc
        text = inc.text.strip().rstrip(".")
        if text.isdecimal() and 1 <= int(text) <= len(choices):
            return replace(inc, text="", callback=choices[int(text) - 1])
        return inc

    async def _enqueue_error(self, inc: Incoming) -> None:
        try:
            async with self.services.sessions() as session, session.begin():
                await self.services.outbox.enqueue(
                    session,
                    channel=inc.channel,
                    chat_id=inc.chat_id,
                    reply=Reply(text=t("error.generic")),
                    is_group=inc.chat_type == "group",
                    purpose="reply",
                )
        except Exception:
            log.exception("could not queue the error reply")


def _without_nul(inc: Incoming) -> Incoming:
    """NUL characters cannot be stored in PostgreSQL text columns (the update would fail): drop them."""
    fields = {"text": inc.text, "callback": inc.callback, "update_key": inc.update_key}
    if not any(v and "\x00" in v for v in fields.values()):
        return inc
    return replace(inc, **{k: v.replace("\x00", "") if v else v for k, v in fields.items()})
