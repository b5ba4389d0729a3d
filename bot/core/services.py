"""Shared services handed to every handler through the Context."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from bot.config import Settings
from bot.core.identity import Identity
from bot.core.model import CONSOLE_PRIVATE_CHAT, Incoming
from bot.storage.db import SessionMaker

if TYPE_CHECKING:
    from bot.outbox.store import OutboxStore

# Fetches a media reference of a channel: returns (bytes, content type). Raises on failure.
MediaFetcher = Callable[[str], Awaitable[tuple[bytes, str]]]



class SchedulerPort(Protocol):
    """What handlers may ask of the running scheduler (set on ``Services`` while one runs in this process)."""

    def schedule_broadcast(self, broadcast_id: int, at: datetime) -> None: ...

    def unschedule_broadcast(self, broadcast_id: int) -> None: ...


@dataclass
class Services:
    settings: Settings
    identity: Identity
    sessions: SessionMaker
    outbox: OutboxStore
    media_fetchers: dict[str, MediaFetcher] = field(default_factory=dict)
    # The scheduler running in this process, if any (the leader's; None elsewhere: the tick picks new
    # broadcasts up from the table within ``TICK_SECONDS``).
    scheduler: SchedulerPort | None = None

    async def load_media(self, media_id: int) -> tuple[bytes, str, str]:
        """Stored (metadata-stripped) evidence: (bytes, content type, neutral file name)."""
        from bot.storage.models import TipMedia

        async with self.sessions() as session:
            row = await session.get(TipMedia, media_id)
            if row is None or row.content is None:
                raise LookupError(f"tip media {media_id} is gone")
            return row.content, row.content_type, row.filename

    @property
    def group_channel(self) -> str:
        """Where Bawaslu groups live: Telegram when configured, else the console's simulated group."""
        return "telegram" if self.settings.telegram.enabled else "console"

    def is_admin(self, inc: Incoming) -> bool:
        if inc.channel == "telegram":
            try:
                return int(inc.user_id) in self.settings.telegram.admin_ids
            except ValueError:
                return False
        if inc.channel == "whatsapp":
            admins = self.settings.whatsapp.admin_numbers
            return inc.user_id in admins or f"whatsapp:{inc.user_id}" in admins
        if inc.channel == "console":
            return self.settings.console_admin
        return False

    def admin_targets(self, channels: Iterable[str]) -> list[tuple[str, str]]:
        """(channel, chat id) of every configured admin on the given channels (those with a sender)."""
        reachable = set(channels)
        out: list[tuple[str, str]] = []
        if "telegram" in reachable:
            out += [("telegram", str(a)) for a in self.settings.telegram.admin_ids]
        if "whatsapp" in reachable:
            out += [("whatsapp", n.removeprefix("whatsapp:")) for n in self.settings.whatsapp.admin_numbers]
        if "console" in reachable and self.settings.console_admin:
            out.append(("console", CONSOLE_PRIVATE_CHAT))
        return out
