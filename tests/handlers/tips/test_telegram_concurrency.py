"""Telegram updates of one chat handled at the same time keep every piece of evidence (review C1).

Two ``run`` nodes in webhook mode (the documented HA set-up): each has its own real PTB ``Application`` and
``Core``, both on one database, and Telegram spreads one reporter's album over both. Only the database lock
can keep their writes apart.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.storage.models import Conversation, Tip, TipMedia
from tests.handlers.tips.conftest import jpeg_with_gps
from tests.support.fakes.telegram_server import FakeTelegramServer, make_callback, make_message
from tests.support.telegram_harness import TelegramHarness, telegram_overrides

GROUPS = {"64.02": -100511, "default": -100599}
REPORTER = 700700700
WEBHOOK = {"mode": "webhook", "webhook_url": "https://bot.example.id/telegram", "webhook_secret": "s" * 40}


@pytest.fixture
async def nodes(make_settings: Any) -> AsyncIterator[list[TelegramHarness]]:
    server = FakeTelegramServer()
    await server.start()
    fast = {"telegram_per_chat_per_sec": 100.0, "telegram_per_group_per_min": 6000.0}
    settings = make_settings(bawaslu_groups=GROUPS, rate_limits=fast, **telegram_overrides(server, **WEBHOOK))
    harnesses = [TelegramHarness(settings, server), TelegramHarness(settings, server)]
    try:
        for h in harnesses:
            await h.start()
        yield harnesses
    finally:
        for h in harnesses:
            await h.stop()
        await server.stop()


async def _post(h: TelegramHarness, update: dict[str, Any]) -> None:
    assert h.channel is not None
    await h.channel.process_webhook_update(update)


async def _step(h: TelegramHarness, update: dict[str, Any], needle: str) -> None:
    mark = h.mark()
    await _post(h, update)
    await h.wait_text(REPORTER, needle, since=mark)


def _to_reporter(call: Any) -> bool:
    return str(call.chat_id) == str(REPORTER)


async def test_album_over_two_nodes_is_kept_and_a_double_tap_files_one_tip(nodes: list[TelegramHarness]) -> None:
    a, b = nodes
    server = a.server
    await _step(a, make_message(REPORTER, REPORTER, "/lapor Kukar"), "Langkah 2/6")
    await _step(a, make_callback(REPORTER, REPORTER, "lapor:c:medsos"), "Langkah 3/6")
    await _step(a, make_message(REPORTER, REPORTER, "Kasubag Umum"), "Langkah 4/6")
    await _step(a, make_message(REPORTER, REPORTER, "Kantor bupati, Senin"), "Langkah 5/6")
    await _step(a, make_message(REPORTER, REPORTER, "Membagikan poster paslon"), "Langkah 6/6")

    updates = [server.make_photo_message(REPORTER, REPORTER, jpeg_with_gps(size=(30 + i, 20))) for i in range(3)]
    updates += [make_message(REPORTER, REPORTER, f"https://www.facebook.com/share/p/{i}") for i in range(2)]
    mark = a.mark()
    await asyncio.gather(*(_post(nodes[n % 2], u) for n, u in enumerate(updates)))
    await server.wait_for(_to_reporter, count=len(updates), since=mark, timeout=15)  # one answer each
    assert a.rt is not None
    async with a.rt.services.sessions() as s:
        conv = await s.scalar(select(Conversation).where(Conversation.flow == "lapor"))
    assert conv is not None
    assert len(conv.data["media"]) == 3 and len(conv.data["links"]) == 2

    await _step(a, make_callback(REPORTER, REPORTER, "lapor:done"), "INFORMASI AWAL")
    mark = a.mark()
    taps = [make_callback(REPORTER, REPORTER, "lapor:ok") for _ in range(2)]  # a double tap, one per node
    await asyncio.gather(_post(a, taps[0]), _post(b, taps[1]))
    await server.wait_for(_to_reporter, count=2, since=mark, timeout=15)
    async with a.rt.services.sessions() as s:
        assert int(await s.scalar(select(func.count()).select_from(Tip)) or 0) == 1
        assert int(await s.scalar(select(func.count()).select_from(TipMedia)) or 0) == 3
