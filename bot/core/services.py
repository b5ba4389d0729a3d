"""Shared services handed to every handler through the Context."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.config import Settings
from bot.core.identity import Identity
from bot.core.model import Incoming
from bot.storage.db import SessionMaker

if TYPE_CHECKING:
    from bot.outbox.store import OutboxStore

# Fetches a media reference of a channel: returns (bytes, content type). Raises on failure.
MediaFetcher = Callable[[str], Awaitable[tuple[bytes, str]]]


@dataclass
class Services:
    settings: Settings
    identity: Identity
    sessions: SessionMaker
    outbox: OutboxStore
    media_fetchers: dict[str, MediaFetcher] = field(default_factory=dict)

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
