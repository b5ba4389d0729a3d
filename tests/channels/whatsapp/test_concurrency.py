"""Several WhatsApp webhooks of one chat at once (an album of photos plus links) are all kept (review C1).

WhatsApp sends each photo of an album as its own webhook; uvicorn handles them concurrently. Each one is
answered "tersimpan", so each one must really be in the tip that reaches the group.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.storage.models import Tip, TipMedia
from bot.texts import t
from handlers.tips.cases import category_label
from tests.channels.whatsapp.conftest import KAB, WhatsAppHarness
from tests.handlers.tips.conftest import CODE_RE, jpeg_with_gps


async def test_album_and_links_at_once_are_all_kept(wa_tg: WhatsAppHarness) -> None:
    wa, tg = wa_tg, wa_tg.tg
    assert tg is not None and wa.rt is not None
    await wa.say("/lapor Kukar")
    await wa.press(category_label("medsos"))
    await wa.say("Kasubag Umum dinas X")
    await wa.say("Kantor bupati, Senin pagi")
    [body] = await wa.say("Membagikan poster paslon di grup kantor")
    assert "Langkah 6/6" in body

    urls = [wa.twilio.add_media(jpeg_with_gps(size=(30 + i, 20)), "image/jpeg") for i in range(3)]
    posts = [wa.post("", media=[(u, "image/jpeg")]) for u in urls]
    posts += [wa.post(f"https://www.facebook.com/share/p/{i}") for i in range(2)]
    responses = await asyncio.gather(*posts)
    assert [r.status_code for r in responses] == [200] * 5
    await wa.drain()

    await wa.say("selesai")
    bodies = await wa.press(t("tips.btn_send"))
    code = next(m.group(0) for b in bodies for m in [CODE_RE.search(b)] if m)
    async with wa.rt.services.sessions() as s:
        tip = await s.scalar(select(Tip).where(Tip.code == code))
        assert tip is not None
        media = (await s.scalars(select(TipMedia).where(TipMedia.tip_id == tip.id))).all()
    assert len(media) == 3
    assert len(tip.links) == 2 and all("facebook.com/share/p/" in str(link) for link in tip.links)
    await tg.wait_for(lambda c: str(c.chat_id) == str(KAB) and c.method == "sendPhoto", timeout=10, count=3)
