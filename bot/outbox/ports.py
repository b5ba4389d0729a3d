"""The port channel adapters implement: what the delivery loop hands a sender and what it gets back.

Adapters (``bot/channels/``) import only this module, ``bot.core.model`` and ``bot.config``.
"""

from __future__ import annotations

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
