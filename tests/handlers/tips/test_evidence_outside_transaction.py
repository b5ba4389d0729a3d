"""Evidence is downloaded and stripped before the update's transaction, and Pillow runs off the event loop
(review C6): a slow download holds no pooled database connection, a big image does not stall other chats.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import select

from bot.core.model import MediaIn
from bot.storage.models import TipMedia
from handlers.tips import evidence_fetch
from tests.handlers.tips.conftest import TipConsole, code_of, jpeg_with_gps


def _checked_out(h: TipConsole) -> int:
    return int(h.rt.engine.sync_engine.pool.checkedout())  # type: ignore[attr-defined]


async def test_evidence_is_fetched_outside_the_transaction_and_stripped_in_a_thread(
    tipcon: TipConsole, monkeypatch: Any
) -> None:
    photos = {f"ref-{i}": jpeg_with_gps(size=(30 + i, 20)) for i in range(2)}
    connections_during_fetch: list[int] = []

    async def fetch(ref: str) -> tuple[bytes, str]:
        connections_during_fetch.append(_checked_out(tipcon))
        return photos[ref], "image/jpeg"

    strip_threads: list[bool] = []
    real_prepare = evidence_fetch.prepare

    def recording_prepare(*args: Any) -> Any:
        strip_threads.append(threading.current_thread() is threading.main_thread())
        return real_prepare(*args)

    monkeypatch.setattr(evidence_fetch, "prepare", recording_prepare)
    tipcon.rt.services.media_fetchers["console"] = fetch
    media = tuple(MediaIn("photo", ref, "image/jpeg", len(data)) for ref, data in photos.items())
    code = code_of(await _tip_with(tipcon, media))
    assert connections_during_fetch == [0, 0]  # no connection (and so no transaction) open while downloading
    assert strip_threads == [False, False]  # Pillow ran in a worker thread
    tip = await tipcon.tip_by_code(code)
    async with tipcon.rt.services.sessions() as s:
        rows = (await s.scalars(select(TipMedia).where(TipMedia.tip_id == tip.id))).all()
    assert len(rows) == 2 and all(r.stripped for r in rows)


async def _tip_with(h: TipConsole, media: tuple[MediaIn, ...]) -> Any:
    await h.send("/lapor")
    await h.send("Kukar")
    await h.send(callback="lapor:c:medsos")
    await h.send(callback="lapor:skip")
    await h.send("Kantor")
    await h.send("Kejadian")
    for m in media:
        await h.send(media=(m,))
    await h.send(callback="lapor:done")
    return await h.send("1")  # "✅ Kirim" typed as its number (console): prefetched as well
