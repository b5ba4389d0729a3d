"""What a handler gets for one update: the incoming message, the open transaction, the flow state, the services."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.model import Incoming, Reply

if TYPE_CHECKING:
    from bot.core.services import Services

Handler = Callable[["Context"], Awaitable[None]]
# Runs before the update's transaction (network, CPU): (incoming, flow state, services) -> Context.prepared
Preparer = Callable[[Incoming, "FlowState", "Services"], Awaitable[Any]]


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
    prepared: Any = None  # what a ``Router.prepare`` hook fetched for this update before the transaction

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
