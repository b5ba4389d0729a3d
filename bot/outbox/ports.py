"""The port channel adapters implement: what the delivery loop hands a sender and what it gets back.

Adapters (``bot/channels/``) import only this module, ``bot.core.model`` and ``bot.config``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from bot.core.model import Reply


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



@dataclass(frozen=True)
class SendResult:
    status: Literal["sent", "retry", "blocked", "failed"]
    retry_after: float | None = None
    error: str = ""
    external_id: str | None = None


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
