"""/langganan, /berhenti, /tahapan on the console channel."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core.model import Incoming
from handlers.subscriptions import kabkota_keyboard, province_keyboard
from tests.broadcasts.conftest import Harness, freeze


def _labels(kb: list) -> list[str]:  # type: ignore[type-arg]
    return [b.label for row in kb for b in row]


async def test_subscribe_typed_short_name_then_role(harness: Harness) -> None:
    out = await harness.say("/langganan")
    assert "Pilih provinsi" in out and "Aceh" in out
    out = await harness.say("Kukar")
    assert "Kabupaten Kutai Kartanegara" in out and "ASN" in out
    out = await harness.say("1")  # first button: ASN
    assert "Terima kasih" in out and "WITA" in out
    subs = await harness.subscribers()
    assert len(subs) == 1
    sub = subs[0]
    ident = harness.rt.services.identity
    assert sub.region_code == "64.02" and sub.role == "asn" and sub.active and sub.channel == "console"
    assert sub.addr_key == ident.key("addr", "console", "console-user")
    assert ident.open(sub.addr_enc) == ("console", "console-user")


async def test_change_region_and_unsubscribe(harness: Harness) -> None:
    await harness.say("/langganan Samarinda")
    await harness.say("publik")
    out = await harness.say("/langganan")
    assert "Langganan Anda saat ini: Kota Samarinda" in out
    await harness.say("Jakarta Pusat")
    out = await harness.say("2")  # Masyarakat umum
    assert "diperbarui" in out and "WIB" in out
    subs = await harness.subscribers()
    assert [(s.region_code, s.role, s.active) for s in subs] == [("31.71", "publik", True)]

    out = await harness.say("/berhenti")
    assert "berhenti berlangganan" in out
    assert [s.active for s in await harness.subscribers()] == [False]
    out = await harness.say("/berhenti")  # a second time: it says the subscription had already stopped
    assert "sudah berhenti sebelumnya" in out and "Jakarta Pusat" in out and "/mulai" in out

    await harness.say("/langganan Kukar")
    await harness.say("asn")
    subs = await harness.subscribers()
    assert [(s.region_code, s.active) for s in subs] == [("64.02", True)]


async def test_button_picker_paginated(harness: Harness) -> None:
    pages = []
    page = 0
    while True:
        kb = province_keyboard(page)
        pages.append(kb)
        if not any(b.data.startswith("sub:pp:") and b.data == f"sub:pp:{page + 1}" for row in kb for b in row):
            break
        page += 1
    provinces = [b.data for kb in pages for row in kb for b in row if b.data.startswith("sub:p:")]
    assert len(provinces) == 38 and len(set(provinces)) == 38
    for kb in pages + [kabkota_keyboard("35", p) for p in range(4)]:
        for row in kb:
            for b in row:
                assert len(b.data.encode()) <= 64

    await harness.say("/langganan")
    out = await harness.say(str(len(_labels(province_keyboard(0))) - 1))  # "Berikutnya" (before Batal)
    assert "Sebelumnya" in out and "Aceh" not in out
    # Kalimantan Timur's button (whatever page it is on) → its kabupaten/kota → whole province → ASN.
    await harness.say("/langganan")
    await harness.rt.core.handle(
        Incoming(channel="console", chat_id="console-user", user_id="console-user", callback="sub:p:64")
    )
    await harness.rt.worker.drain()
    out = "\n".join(harness.sender.to("console-user")[-1:])
    assert "Seluruh Kaltim" in out or "Seluruh Kalimantan Timur" in out
    assert "Kutai Kartanegara" in out
    await harness.rt.core.handle(
        Incoming(channel="console", chat_id="console-user", user_id="console-user", callback="sub:r:64")
    )
    await harness.rt.core.handle(
        Incoming(channel="console", chat_id="console-user", user_id="console-user", callback="sub:role:asn")
    )
    await harness.rt.worker.drain()
    subs = await harness.subscribers()
    assert [(s.region_code, s.role) for s in subs] == [("64", "asn")]


async def test_ambiguous_name_offers_choices_and_unknown_name(harness: Harness) -> None:
    await harness.say("/langganan")
    out = await harness.say("zzzz qqqq")
    assert "tidak kami temukan" in out
    assert await harness.subscribers() == []


async def test_tahapan_shows_current_and_next_stage(harness: Harness) -> None:
    freeze(datetime(2025, 4, 10, 3, 0, tzinfo=UTC))
    out = await harness.say("/tahapan")
    assert "/langganan" in out
    await harness.say("/langganan Kukar")
    out = await harness.say("asn")
    assert "Masa kampanye PSU" in out
    out = await harness.say("/tahapan")
    assert "Sedang berjalan: Masa kampanye PSU" in out
    assert "Berikutnya: Masa tenang PSU" in out
    out = await harness.say("/tahapan Samarinda")  # not covered by the Kukar PSU
    assert "Masa kampanye PSU" not in out
