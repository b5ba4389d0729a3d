"""The port channel adapters implement: what the delivery loop hands a sender and what it gets back.

Adapters (``bot/channels/``) import only this module, ``bot.core.model`` and ``bot.config``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, Protocol

from bot.core.model import Reply


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # permanent error (dead letter for at-most-once and reply purposes)
    BLOCKED = "blocked"  # the recipient blocked the bot / opted out
    UNKNOWN = "unknown"  # written, no answer: may or may not have arrived; never re-sent
    DEAD = "dead"  # attempt cap reached: given up (never for tips, which keep retrying)


class Purpose(StrEnum):
    REPLY = "reply"
    TIP = "tip"
    NOTICE = "notice"
    BROADCAST = "broadcast"
    REMINDER = "reminder"
    ALERT = "alert"  # a notice to the admins about delivery problems


# Fan-out to many people. A stopping worker leaves them for the next start (``DeliveryWorker.stop``), and they are
# sent at most once: a row whose send may or may not have happened is never sent again (see ``no_answer_fate``).
BULK = frozenset({Purpose.BROADCAST, Purpose.REMINDER})
AT_MOST_ONCE = BULK
@dataclass(frozen=True)
class Claimed:
    id: int
    channel: str
    chat_id: str
    addr_key: str
    is_group: bool
    payload: dict[str, Any]
    purpose: str
    attempts: int
    broadcast_id: int | None
    token: str = ""  # the claim token: results are recorded only while the row still carries it



@dataclass(frozen=True)
class SendResult:
    """What a sender reports. ``answered``: False when no answer came (timeout, connection lost) — whether the
    request had been written is known to the worker from the transport's hook. ``partial``: an earlier part
    of a multi-part message was delivered before this failure."""

    status: Literal["sent", "retry", "blocked", "failed", "unknown", "dead"]
    retry_after: float | None = None
    error: str = ""
    external_id: str | None = None
    answered: bool = True
    partial: bool = False
    moved_to: str | None = None  # the chat has a new id (Telegram group -> supergroup): re-target, send again


class ChannelSender(Protocol):
    channel: str

    async def send(self, msg: Claimed, reply: Reply) -> SendResult: ...


# Set by the rate limiter in each send's task (``ChannelLimiter.watch_wire``); the transport reports through it.
_on_wire: ContextVar[Callable[[], None] | None] = ContextVar("jaganetral_on_wire", default=None)


def request_on_wire() -> None:
    """Called by a sender's HTTP transport when the request's bytes are written (after any connection set-up).

    The send's slot is then counted from this moment rather than from when the send began: a request that
    first had to open a connection reaches the platform later than its slot said, and the window one period
    later would otherwise open too early."""
    hook = _on_wire.get()
    if hook is not None:
        hook()
