"""Fixtures for the tips tests: a console harness with Bawaslu groups configured, evidence samples."""

from __future__ import annotations

import io
import re

from PIL import Image
from sqlalchemy import func, select

from bot.channels.console import CONSOLE_GROUP_CHAT
from bot.core.model import Incoming, MediaIn, Reply
from bot.storage.models import Tip
from tests.support.helpers import ConsoleHarness

GROUPS = {"64.02": -1001, "64": -1002, "default": -1009}
CODE_RE = re.compile(r"JN-[23456789A-HJKMNP-Z]{4}-[23456789A-HJKMNP-Z]{4}")


def jpeg_with_gps(orientation: int | None = None, size: tuple[int, int] = (40, 20)) -> bytes:
    """A JPEG carrying EXIF with a GPS position, an artist name and (optionally) an orientation."""
    img = Image.new("RGB", size, (200, 10, 10))
    exif = Image.Exif()
    exif[0x013B] = "Siti Rahasiawati"  # Artist
    exif[0x010F] = "KameraRahasia"  # Make
    if orientation:
        exif[0x0112] = orientation
    exif[0x8825] = {1: "S", 2: (0.0, 30.0, 0.0), 3: "E", 4: (117.0, 9.0, 0.0)}  # GPS IFD
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


class TipConsole(ConsoleHarness):
    """Console harness that also knows which chat each delivered message went to."""

    def mark(self) -> int:
        return len(self.sender.delivered)

    def to(self, chat: str, since: int = 0) -> list[Reply]:
        return [r for c, r in self.sender.delivered[since:] if c == chat]

    @staticmethod
    def incoming(text: str = "", *, user: str = "pelapor", callback: str | None = None, group: bool = False,
                 media: tuple[MediaIn, ...] = ()) -> Incoming:
        return Incoming(
            channel="console", chat_id=CONSOLE_GROUP_CHAT if group else user, user_id=user,
            chat_type="group" if group else "private", text=text, callback=callback, media=media,
        )

    async def send(self, text: str = "", *, user: str = "pelapor", callback: str | None = None,
                   group: bool = False, media: tuple[MediaIn, ...] = ()) -> list[Reply]:
        return await self.deliver(self.incoming(text, user=user, callback=callback, group=group, media=media))

    async def tip(self, *, user: str = "pelapor", region: str = "Kukar", category: str = "medsos",
                  who: str | None = "Pak Budi, Kasubag", place: str = "Kantor camat, Senin 10.00",
                  what: str = "Menyukai dan membagikan postingan paslon", links: str | None = None,
                  media: tuple[MediaIn, ...] = ()) -> list[Reply]:
        """Run the whole /lapor flow; returns the replies to the final confirmation."""
        await self.send("/lapor", user=user)
        await self.send(region, user=user)
        await self.send(callback=f"lapor:c:{category}", user=user)
        if who is None:
            await self.send(callback="lapor:skip", user=user)
        else:
            await self.send(who, user=user)
        await self.send(place, user=user)
        await self.send(what, user=user)
        if media:
            await self.send(media=media, user=user)
        if links:
            await self.send(links, user=user)
        await self.send(callback="lapor:done", user=user)
        return await self.send(callback="lapor:ok", user=user)

    async def tip_count(self) -> int:
        async with self.rt.services.sessions() as s:
            return int(await s.scalar(select(func.count()).select_from(Tip)) or 0)

    async def tip_by_code(self, code: str) -> Tip:
        async with self.rt.services.sessions() as s:
            tip = await s.scalar(select(Tip).where(Tip.code == code))
        assert tip is not None
        return tip


def code_of(replies: list[Reply]) -> str:
    for r in replies:
        m = CODE_RE.search(r.text)
        if m:
            return m.group(0)
    raise AssertionError(f"no receipt code in {[r.text for r in replies]}")
