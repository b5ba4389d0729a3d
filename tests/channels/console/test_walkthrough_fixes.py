"""Walkthrough (2026-12) problems fixed in the subscription, region picker, broadcast and help flows."""

from __future__ import annotations

from typing import Any

from bot.core.model import Reply
from bot.texts import t
from handlers.widgets import region_picker


def numbered(reply: Reply) -> dict[int, str]:
    flat = [b for row in reply.buttons for b in row]
    return {i: b.label for i, b in enumerate(flat, 1)}


def test_next_page_keeps_its_number_on_every_page() -> None:  # problem 26
    first = region_picker.province_keyboard("sub", 0, [])
    n_next = next(i for i, label in numbered(Reply(buttons=first)).items() if label == t("button.page_next"))
    pages = 0
    page = 0
    while True:
        labels = numbered(Reply(buttons=region_picker.province_keyboard("sub", page, [])))
        if t("button.page_next") not in labels.values():
            break
        assert labels[n_next] == t("button.page_next"), f"page {page + 1}: {labels}"
        page += 1
        pages += 1
    assert pages >= 3  # 38 provinces, 10 a page


async def test_typing_the_same_next_number_pages_forward(console: Any) -> None:  # problem 26
    replies = await console.say("/langganan")
    seen = []
    for _ in range(3):
        first = numbered(replies[-1])[1]
        seen.append(first)
        n_next = next(i for i, label in numbered(replies[-1]).items() if label == t("button.page_next"))
        replies = await console.say(str(n_next))
    assert len(set(seen)) == 3, seen  # three different pages, never back to the first


async def test_typed_province_asks_for_the_kabkota_like_its_button(console: Any) -> None:  # problem 20
    typed = console.text(await console.say("/langganan jatim"))
    assert "Jawa Timur: pilih kabupaten/kota Anda" in typed and "Seluruh Jawa Timur" in typed
    await console.say("/batal")
    await console.say("/langganan")
    replies = await console.say("Kaltim")
    assert "Kalimantan Timur: pilih kabupaten/kota" in console.text(replies)
    replies = await console.press("Seluruh Kalimantan Timur", replies)
    assert "Daerah: Kalimantan Timur. Anda berlangganan sebagai" in console.text(replies)


async def test_batal_at_the_role_step_cancels(console: Any) -> None:  # problem 24
    await console.say("/langganan samarinda")
    out = console.text(await console.say("batal"))
    assert out == t("sub.cancelled")
    assert console.text(await console.say("/berhenti")) == t("sub.not_subscribed")  # nothing was saved


async def test_stop_points_to_mulai_and_help_lists_it(console: Any) -> None:  # problem 24
    await console.say("/langganan samarinda")
    await console.say("1")
    assert "/mulai" in console.text(await console.say("/berhenti"))
    assert "/mulai" in console.text(await console.say("/bantuan"))
    assert "Langganan Anda aktif kembali: Kota Samarinda" in console.text(await console.say("/mulai"))


async def test_tahapan_without_schedule_names_the_next_election(console: Any) -> None:  # problem 23
    out = console.text(await console.say("/tahapan kukar"))
    assert "Belum ada tahapan pemilu yang dijadwalkan untuk Kabupaten Kutai Kartanegara" in out
    assert "Pemilu berikutnya: Pemilu 2029" in out


async def test_tahapan_in_a_group_and_with_an_unknown_region(console: Any) -> None:  # problem 20
    out = console.text(await console.say("/tahapan", group=True))
    assert out == t("sub.stage.need_region_group") and "/langganan" not in out
    out = console.text(await console.say("/tahapan xyzabc"))
    assert "xyzabc" in out and "tombol" not in out


async def test_batal_with_nothing_running_says_so(console: Any) -> None:  # problem 25
    assert console.text(await console.say("/batal")) == t("common.nothing_to_cancel")
    await console.say("/siaran")
    assert console.text(await console.say("/batal")) == t("common.cancelled")  # a running flow is cancelled


async def test_siaran_echoes_the_region_and_hints_at_the_level(console: Any) -> None:  # problem 27
    await console.say("/siaran")
    replies = await console.say("Uji siaran")
    await console.press("Satu kabupaten/kota", replies)
    out = console.text(await console.say("kaltim"))
    assert out == t("bc.region_is_province", text="kaltim", region="Kalimantan Timur")
    out = console.text(await console.say("smd"))
    assert out.startswith("Tujuan: Kota Samarinda.") and "Kapan dikirim" in out  # echoed at once, not at the end
    out = console.text(await console.say("sekarang"))
    assert out.startswith(t("bc.no_recipients"))  # nobody subscribed in Samarinda yet
    assert "(0 pelanggan aktif saat ini)" in out


async def test_siaran_to_the_public_only(console: Any) -> None:  # problem 27
    for user, role in (("warga-1", "2"), ("asn-1", "1")):
        await console.say("/langganan samarinda", user_id=user)
        await console.say(role, user_id=user)
    await console.say("/siaran")
    replies = await console.say("Untuk masyarakat")
    replies = await console.press("Masyarakat umum saja", replies)
    out = console.text(await console.say("sekarang"))
    assert "Tujuan: pelanggan masyarakat umum (1 pelanggan aktif saat ini)" in out
    assert t("bc.no_recipients") not in out


async def test_help_lists_admin_reports_and_the_group_buttons(console: Any) -> None:  # problem 34
    admin_help = console.text(await console.say("/bantuan"))
    assert "/statistik" in admin_help and "/ekspor" in admin_help
    assert t("group.stats_empty", scope=t("group.scope_all")) == console.text(await console.say("/statistik"))
    group_help = console.text(await console.say("/bantuan", group=True))
    assert "tombol status" in group_help and "Tanya pelapor" in group_help


async def test_jkt_is_jakarta(console: Any) -> None:  # problem 20
    assert "Jakarta: pilih kabupaten/kota Anda" in console.text(await console.say("/langganan jkt"))
