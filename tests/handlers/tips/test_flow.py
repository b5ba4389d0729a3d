"""The /lapor flow, /status, /hapus, group actions and limits through the console channel."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta
from typing import Any

from PIL import Image
from sqlalchemy import func, select, update

from bot.channels.console import CONSOLE_GROUP_CHAT
from bot.core.model import MediaIn
from bot.storage.models import Outbox, RateCounter, Tip, TipEvent, TipMedia
from bot.texts import html_t, t
from handlers.tips.cases import resolve_group
from handlers.tips.store import purge_expired
from tests.handlers.tips.conftest import GROUPS, TipConsole, code_of, jpeg_with_gps
from tests.support.helpers import ConsoleHarness

GROUP = CONSOLE_GROUP_CHAT


async def test_full_flow_routes_to_kabkota_group_with_receipt(tipcon: TipConsole) -> None:
    mark = tipcon.mark()
    replies = await tipcon.tip(what="Dia <b>x</b> & kawan", links="https://www.instagram.com/p/abc")
    code = code_of(replies)
    assert t("tips.sent", target="Kabupaten Kutai Kartanegara", code=code) == replies[-1].text
    tip = await tipcon.tip_by_code(code)
    assert tip.region_code == "64.02" and tip.group_chat_id == GROUPS["64.02"] and tip.category == "medsos"
    assert tip.reply_enc and tip.reporter_key == tipcon.rt.services.identity.key("reporter", "console", "pelapor")
    assert tip.links == [{"url": "https://www.instagram.com/p/abc", "label": "Instagram"}]
    group = tipcon.to(GROUP, mark)
    assert len(group) == 1
    msg = group[0]
    assert msg.html and msg.protect
    assert "&lt;b&gt;x&lt;/b&gt; &amp; kawan" in msg.text and "<b>x</b>" not in msg.text
    assert code in msg.text
    data = [b.data for row in msg.buttons for b in row]
    assert data == [f"tip:st:{tip.id}:{i}" for i in range(5)] + [f"tip:ask:{tip.id}"]
    async with tipcon.rt.services.sessions() as s:
        keys = (await s.scalars(select(Outbox.idem_key).where(Outbox.tip_id == tip.id))).all()
    assert keys == [f"tip:{tip.id}:text"]
    # the state is cleared: a new free text is not part of a flow any more
    assert (await tipcon.send("/status", user="pelapor"))[0].text.count(code) == 1


def test_catalog_privacy_texts_are_qualified() -> None:
    """No bare promise of anonymity anywhere; the entry points say what is and is not passed on."""
    from bot.texts import TEXTS

    assert [k for k, v in TEXTS.items() if "anonim" in v.lower()] == []
    for key in ("start.welcome", "help.text", "tips.intro"):
        assert "tanpa meneruskan identitas Anda" in t(key), key
    assert "salinan yang diteruskan ke Bawaslu" in t("tips.ask_evidence", max_media=3, max_links=10)
    # /hapus says what stays (the pseudonymous code, not the account) and for how long
    done = t("tips.hapus_done", code="JN-X", days=90)
    assert "Yang masih disimpan: kode samaran (kode acak, bukan nomor, nama, atau akun Anda)" in done
    assert "Kode samaran itu dihapus 90 hari setelah laporan ditutup" in done
    # ... and the notice before a tip says the same: the code stays after /hapus, until the purge, then goes
    intro = t("tips.intro")
    assert "tetap ada" not in intro
    assert "kode samaran yang menautkan laporan ke akun Anda (untuk /status) tidak ikut dihapus oleh /hapus" in intro
    assert "hanya disimpan sampai masa simpan itu berakhir, lalu dihapus juga" in intro
    assert "masa simpan berakhir setelah laporan ditutup" in intro


async def test_review_says_informasi_awal_and_formal_path(tipcon: TipConsole) -> None:
    intro = (await tipcon.send("/lapor"))[-1].text
    # privacy notice before anything is typed: what Bawaslu, the operator and the platforms can see
    assert "tanpa meneruskan identitas Anda ke Bawaslu" in intro and "anonim" not in intro.lower()
    assert "terenkripsi" in intro and "pengelola dapat membukanya" in intro and "kode samaran" in intro
    assert "Twilio" in intro and "metadata" in intro and "berkas asli" in intro
    await tipcon.send("PPU")
    await tipcon.send(callback="lapor:c:fasilitas")
    await tipcon.send(callback="lapor:skip")
    await tipcon.send("Kantor dinas")
    await tipcon.send("Mobil dinas dipakai kampanye")
    review = await tipcon.send(callback="lapor:done")
    text = review[-1].text
    assert "INFORMASI AWAL" in text and "bukan laporan resmi" in text
    assert "7 hari" in text and "SIGAP LAPOR" in text and "KTP" in text
    # syarat formil/materiil and the in-person step of a SIGAP LAPOR report (legal review 2026-12, section 5)
    assert "tanda tangan" in text and "pihak terlapor" in text and "waktu dan tempat" in text and "bukti" in text
    assert "diserahkan langsung" in text and "2 hari" in text
    assert "Penajam Paser Utara" in text
    assert await tipcon.tip_count() == 0  # nothing stored before the confirmation


async def test_routing_falls_back_to_province_then_default(tipcon: TipConsole, make_settings: Any) -> None:
    settings = tipcon.rt.settings
    assert resolve_group(settings, "64.02") == ("64.02", GROUPS["64.02"])
    assert resolve_group(settings, "64.01") == ("64", GROUPS["64"])
    assert resolve_group(settings, "65.71") == ("default", GROUPS["default"])
    assert resolve_group(make_settings(), "64.02") is None
    code_paser = code_of(await tipcon.tip(region="Paser"))
    code_tarakan = code_of(await tipcon.tip(region="Tarakan"))
    assert (await tipcon.tip_by_code(code_paser)).group_chat_id == GROUPS["64"]
    assert (await tipcon.tip_by_code(code_tarakan)).group_chat_id == GROUPS["default"]


async def test_no_group_configured_still_stores(make_settings: Any, caplog: Any) -> None:
    h = TipConsole(make_settings())
    try:
        replies = await h.tip()
        code = code_of(replies)
        assert replies[-1].text == t("tips.sent_unrouted", code=code)
        tip = await h.tip_by_code(code)
        assert tip.group_chat_id is None
        assert not h.to(GROUP)
        assert any("no Bawaslu group" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)
    finally:
        await h.close()


async def test_back_and_cancel_at_every_step(tipcon: TipConsole) -> None:
    r = await tipcon.send("/lapor")
    r = await tipcon.send(callback="lapor:p:64")  # province -> kab/kota list
    labels = [b.label for row in r[-1].buttons for b in row]
    assert "Kutai Kartanegara" in " ".join(labels) and t("button.back") in labels
    r = await tipcon.send(callback="lapor:back")
    assert t("tips.ask_province") in r[-1].text
    await tipcon.send(callback="lapor:pp:1")  # paging works
    await tipcon.send(callback="lapor:p:64")
    r = await tipcon.send(callback="lapor:r:64.72")  # Samarinda
    assert "Samarinda" in r[-1].text
    await tipcon.send(callback="lapor:c:kampanye")
    r = await tipcon.send(callback="lapor:back")  # who -> category
    assert "Apa jenis" in r[-1].text
    await tipcon.send(callback="lapor:c:kampanye")
    await tipcon.send("Kepala dinas")
    r = await tipcon.send(callback="lapor:back")  # place -> who
    assert "Siapa" in r[-1].text
    for step_text in ("Kepala dinas", "Lapangan", "Hadir kampanye"):
        r = await tipcon.send(step_text)
        assert {b.data for row in r[-1].buttons for b in row} >= {"lapor:back", "lapor:cancel"}
    r = await tipcon.send(callback="lapor:back")  # evidence -> what
    assert "Ceritakan" in r[-1].text
    r = await tipcon.send("kembali")  # typed back word works too
    assert "Di mana dan kapan" in r[-1].text
    r = await tipcon.send(callback="lapor:cancel")
    assert r[-1].text == t("tips.cancelled")
    r = await tipcon.send(callback="lapor:ok")  # stale button after cancel
    assert r[-1].text == t("tips.expired")
    assert await tipcon.tip_count() == 0


async def test_half_finished_flow_survives_restart(make_settings: Any) -> None:
    settings = make_settings(bawaslu_groups=GROUPS)
    first = TipConsole(settings)
    await first.send("/lapor")
    await first.send("Kukar")
    await first.send(callback="lapor:c:kades")
    await first.send("Kepala desa X")
    await first.close()  # process stops mid-flow
    second = TipConsole(settings)
    try:
        r = await second.send("Balai desa, Minggu")  # continues at "where and when"
        assert "Ceritakan" in r[-1].text
        await second.send("Mengumpulkan warga untuk mendukung calon")
        await second.send(callback="lapor:done")
        code = code_of(await second.send(callback="lapor:ok"))
        tip = await second.tip_by_code(code)
        assert (tip.category, tip.who, tip.place_time) == ("kades", "Kepala desa X", "Balai desa, Minggu")
    finally:
        await second.close()


async def test_links_are_validated(tipcon: TipConsole) -> None:
    await tipcon.send("/lapor")
    await tipcon.send("Bontang")
    await tipcon.send(callback="lapor:c:medsos")
    await tipcon.send(callback="lapor:skip")
    await tipcon.send("Facebook")
    await tipcon.send("Membagikan ajakan memilih")
    r = await tipcon.send("javascript:alert(1)")
    assert t("tips.link_invalid", link="javascript:alert(1)") in r[-1].text
    r = await tipcon.send("http://contoh-berita.example/x")
    assert "tidak bisa diterima" in r[-1].text
    r = await tipcon.send("lihat https://berita.example.id/a dan tiktok.com/@akun/video/1")
    assert t("tips.evidence_added", media=0, links=2) in r[-1].text
    code = code_of(await tipcon.send(callback="lapor:done") and await tipcon.send(callback="lapor:ok"))
    tip = await tipcon.tip_by_code(code)
    assert tip.links == [
        {"url": "https://berita.example.id/a", "label": "tautan lain"},
        {"url": "https://tiktok.com/@akun/video/1", "label": "TikTok"},
    ]


async def test_text_length_limit(make_settings: Any) -> None:
    h = TipConsole(make_settings(bawaslu_groups=GROUPS, tips={"max_text_chars": 40}))
    try:
        await h.send("/lapor")
        await h.send("Kukar")
        await h.send(callback="lapor:c:lain")
        await h.send(callback="lapor:skip")
        await h.send("Kantor")
        r = await h.send("x" * 41)
        assert r[-1].text == t("tips.text_too_long", n=41, max=40)
        r = await h.send("x" * 40)
        assert "Langkah 6/6" in r[-1].text
    finally:
        await h.close()


async def test_rate_limit_per_day(make_settings: Any) -> None:
    h = TipConsole(make_settings(bawaslu_groups=GROUPS, tips={"max_per_day": 2}))
    try:
        code_of(await h.tip())
        # a flow started while under the limit, the limit reached meanwhile: confirmation is refused
        await h.send("/lapor")
        await h.send("Kukar")
        await h.send(callback="lapor:c:lain")
        await h.send(callback="lapor:skip")
        await h.send("Kantor")
        await h.send("Kejadian")
        code_of(await h.tip(user="pelapor"))  # restarts the flow: second tip of the day
        r = await h.send("/lapor")
        assert r[-1].text == t("tips.rate_limited", max=2)
        assert await h.tip_count() == 2
        async with h.rt.services.sessions() as s:
            counters = (await s.scalars(select(RateCounter))).all()
        assert [c.count for c in counters] == [2]
        other = await h.tip(user="orang-lain")  # the limit is per reporter
        code_of(other)
    finally:
        await h.close()


async def test_rejected_at_confirmation_saves_nothing(make_settings: Any) -> None:
    h = TipConsole(make_settings(bawaslu_groups=GROUPS, tips={"max_per_day": 1}))
    try:
        await h.send("/lapor")
        await h.send("Kukar")
        await h.send(callback="lapor:c:lain")
        await h.send(callback="lapor:skip")
        await h.send("Kantor")
        await h.send("Kejadian")
        await h.send(callback="lapor:done")
        key = h.rt.services.identity.key("reporter", "console", "pelapor")
        async with h.rt.services.sessions() as s, s.begin():  # limit reached elsewhere meanwhile
            s.add(RateCounter(scope="tip", subject_key=key, day=_today(h), count=1))
        r = await h.send(callback="lapor:ok")
        assert r[-1].text == t("tips.rate_limited", max=1)
        assert await h.tip_count() == 0
        async with h.rt.services.sessions() as s:
            assert await s.scalar(select(func.count()).select_from(TipMedia)) == 0
    finally:
        await h.close()


def _today(h: ConsoleHarness) -> str:
    from zoneinfo import ZoneInfo

    from bot.core.clock import utcnow

    return utcnow().astimezone(ZoneInfo(h.rt.settings.timezone)).date().isoformat()


async def test_media_is_stripped_stored_and_sent_once(make_settings: Any) -> None:
    h = TipConsole(make_settings(bawaslu_groups=GROUPS, tips={"max_media": 2, "max_media_bytes": 200_000}))
    photo = jpeg_with_gps(orientation=6)
    pdf = b"catatan saksi; ditulis oleh Siti Rahasiawati"  # plain text: nothing to strip, named to the reporter
    files = {"ref-photo": (photo, "image/jpeg"), "ref-pdf": (pdf, "text/plain")}
    fetched: list[str] = []

    async def fetch(ref: str) -> tuple[bytes, str]:
        fetched.append(ref)
        return files[ref]

    h.rt.services.media_fetchers["console"] = fetch
    try:
        await h.send("/lapor")
        await h.send("Kukar")
        await h.send(callback="lapor:c:medsos")
        await h.send(callback="lapor:skip")
        await h.send("Kantor")
        await h.send("Kejadian")
        r = await h.send(media=(MediaIn("video", "ref-big", "video/mp4", 300_000),))
        assert t("tips.media_too_big", max_mb=0) in r[-1].text
        r = await h.send(media=(MediaIn("voice", "ref-voice", "audio/ogg", 10),))
        assert t("tips.media_unsupported") in r[-1].text
        await h.send(media=(MediaIn("photo", "ref-photo", "image/jpeg", len(photo)),))
        await h.send(media=(MediaIn("document", "ref-pdf", "text/plain", len(pdf)),))
        r = await h.send(media=(MediaIn("photo", "ref-photo", "image/jpeg", len(photo)),))
        assert t("tips.too_many_media", max=2) in r[-1].text
        review = await h.send(callback="lapor:done")
        named = t("tips.file_label", n=2, kind=t("tips.kind.document"))
        assert t("tips.review_unstripped", files=named) in review[-1].text
        assert "lapor:drop:2" in [b.data for row in review[-1].buttons for b in row]
        assert fetched == []  # nothing downloaded before the confirmation
        mark = h.mark()
        code = code_of(await h.send(callback="lapor:ok"))
        assert fetched == ["ref-photo", "ref-pdf"]
        tip = await h.tip_by_code(code)
        async with h.rt.services.sessions() as s:
            media = (await s.scalars(select(TipMedia).where(TipMedia.tip_id == tip.id).order_by(TipMedia.id))).all()
            keys = (await s.scalars(select(Outbox.idem_key).where(Outbox.tip_id == tip.id).order_by(Outbox.id))).all()
        assert [(m.kind, m.filename, m.stripped) for m in media] == [
            ("photo", "bukti-1.jpg", True), ("document", "bukti-2.txt", False)]
        assert media[0].sha256_original == hashlib.sha256(photo).hexdigest()
        clean = media[0].content
        assert clean is not None and b"Rahasiawati" not in clean and b"Exif" not in clean
        with Image.open(io.BytesIO(clean)) as img:
            assert len(img.getexif()) == 0 and img.size == (20, 40)  # orientation applied
        assert media[1].content == pdf and media[1].sha256_original == hashlib.sha256(pdf).hexdigest()
        assert keys == [f"tip:{tip.id}:text", f"tip:{tip.id}:media:1", f"tip:{tip.id}:media:2"]
        group = h.to(GROUP, mark)
        assert len(group) == 3
        assert "metadata 1 video/dokumen TIDAK dihapus" in group[0].text
        assert [m.caption for g in group[1:] for m in g.media] == [
            t("group.media_caption", n=1, total=2, code=code),
            t("group.media_caption", n=2, total=2, code=code) + t("group.media_caption_unstripped")]
        assert await h.rt.services.load_media(media[0].id) == (clean, "image/jpeg", "bukti-1.jpg")
    finally:
        await h.close()


async def test_failed_download_returns_to_evidence_without_saving(tipcon: TipConsole) -> None:
    async def broken(ref: str) -> tuple[bytes, str]:
        raise OSError("network down")

    tipcon.rt.services.media_fetchers["console"] = broken
    await tipcon.send("/lapor")
    await tipcon.send("Kukar")
    await tipcon.send(callback="lapor:c:lain")
    await tipcon.send(callback="lapor:skip")
    await tipcon.send("Kantor")
    await tipcon.send("Kejadian")
    await tipcon.send(media=(MediaIn("photo", "ref-x", "image/jpeg", 100),))
    await tipcon.send(callback="lapor:done")
    r = await tipcon.send(callback="lapor:ok")
    assert t("tips.fetch_failed", n=1, max_mb=20) in r[-1].text
    assert await tipcon.tip_count() == 0
    r = await tipcon.send(callback="lapor:done")  # the failed file was dropped; continue without it
    assert t("tips.evidence_summary", media=0, links=0) in r[-1].text
    code_of(await tipcon.send(callback="lapor:ok"))


async def test_status_only_for_the_reporter_and_hapus(tipcon: TipConsole) -> None:
    code = code_of(await tipcon.tip())
    r = await tipcon.send(f"/status {code.lower().replace('-', ' ')}")
    assert f"Laporan {code}" in r[-1].text and t("tips.status.diterima") in r[-1].text
    r = await tipcon.send(f"/status {code}", user="orang-lain")
    assert r[-1].text == t("tips.not_found")
    r = await tipcon.send("/status", user="orang-lain")
    assert r[-1].text == t("tips.my_list_empty")
    r = await tipcon.send(f"/hapus {code}", user="orang-lain")
    assert r[-1].text == t("tips.not_found")
    tip = await tipcon.tip_by_code(code)
    r = await tipcon.send(callback=f"hapus:ok:{tip.id}", user="orang-lain")  # forged confirmation
    assert r[-1].text == t("tips.not_found")
    assert (await tipcon.tip_by_code(code)).reply_enc is not None
    r = await tipcon.send(f"/hapus {code}")  # asks first: it cannot be undone
    assert r[-1].text == t("tips.hapus_confirm", code=code)
    assert [b.data for row in r[-1].buttons for b in row] == [f"hapus:ok:{tip.id}", "hapus:x"]
    r = await tipcon.send(callback="hapus:x")
    assert r[-1].text == t("tips.hapus_kept") and (await tipcon.tip_by_code(code)).reply_enc is not None
    await tipcon.send(f"/hapus {code}")
    r = await tipcon.send(callback=f"hapus:ok:{tip.id}")
    assert r[-1].text == t("tips.hapus_done", code=code, days=90)
    tip = await tipcon.tip_by_code(code)
    assert tip.reply_enc is None
    # Bawaslu can no longer reach the reporter
    mark = tipcon.mark()
    r = await tipcon.send(callback=f"tip:ask:{tip.id}", user="anggota", group=True)
    assert "tidak bisa dihubungi lagi" in r[-1].text
    r = await tipcon.send(callback=f"tip:st:{tip.id}:1", user="anggota", group=True)
    assert "tidak dapat diberi tahu" in r[-1].text
    assert not tipcon.to("pelapor", mark)


async def test_status_change_notifies_reporter_and_closing_sets_purge(tipcon: TipConsole) -> None:
    code = code_of(await tipcon.tip())
    tip = await tipcon.tip_by_code(code)
    mark = tipcon.mark()
    await tipcon.send(callback=f"tip:st:{tip.id}:1", user="anggota", group=True)
    notes = tipcon.to("pelapor", mark)
    assert [n.text for n in notes] == [t("tips.status_notice", code=code, status=t("tips.status.ditelaah"))]
    assert "anggota" not in notes[0].text
    mark = tipcon.mark()
    await tipcon.send(callback=f"tip:st:{tip.id}:4", user="anggota", group=True)
    assert t("tips.status_closed_note", days=90) in tipcon.to("pelapor", mark)[0].text
    tip = await tipcon.tip_by_code(code)
    assert tip.status == "selesai" and tip.closed_at is not None and tip.purge_after is not None
    assert tip.purge_after - tip.closed_at == timedelta(days=90)
    r = await tipcon.send(f"/status {code}")
    assert "status: Sedang ditelaah" in r[-1].text and "status: Selesai" in r[-1].text
    async with tipcon.rt.services.sessions() as s, s.begin():
        assert await purge_expired(s, tip.purge_after - timedelta(seconds=1), tipcon.rt.services.identity) == 0
    async with tipcon.rt.services.sessions() as s, s.begin():
        assert await purge_expired(s, tip.purge_after, tipcon.rt.services.identity) == 1
    assert (await tipcon.tip_by_code(code)).reply_enc is None


async def test_purge_removes_old_generated_media_only(tipcon: TipConsole) -> None:
    from bot.core.clock import utcnow
    from bot.storage.retention import purge

    now = utcnow()
    async with tipcon.rt.services.sessions() as s, s.begin():
        s.add_all([
            TipMedia(tip_id=None, kind="document", content=b"old", sha256_original="x",
                     created_at=now - timedelta(days=8)),
            TipMedia(tip_id=None, kind="document", content=b"new", sha256_original="y", created_at=now),
        ])
    async with tipcon.rt.services.sessions() as s, s.begin():
        await purge(s, now, tipcon.rt.settings.retention)
    async with tipcon.rt.services.sessions() as s:
        left = (await s.scalars(select(TipMedia.content))).all()
    assert left == [b"new"]


async def test_tanya_pelapor_relay_both_ways(tipcon: TipConsole) -> None:
    code = code_of(await tipcon.tip())
    tip = await tipcon.tip_by_code(code)
    # the reporter has started another tip meanwhile: answering must not lose it
    await tipcon.send("/lapor")
    await tipcon.send("Berau")
    r = await tipcon.send(callback=f"tip:ask:{tip.id}", user="anggota-bawaslu", group=True)
    assert "Tulis pertanyaan" in r[-1].text  # console: no replies, so a confirm step
    mark = tipcon.mark()
    r = await tipcon.send("Jam berapa tepatnya <kejadian>?", user="anggota-bawaslu", group=True)
    assert r[-1].text == html_t("group.ask_confirm", question="Jam berapa tepatnya <kejadian>?")
    assert "&lt;kejadian&gt;" in r[-1].text
    assert not tipcon.to("pelapor", mark)  # nothing leaves before the confirmation
    await tipcon.send(callback="tip:askok", user="anggota-bawaslu", group=True)
    question = tipcon.to("pelapor", mark)
    assert len(question) == 1
    assert question[0].text == t("tips.question", code=code, question="Jam berapa tepatnya <kejadian>?")
    assert "anggota-bawaslu" not in str(question[0].to_payload())
    assert [b.data for row in question[0].buttons for b in row] == [f"tip:ans:{tip.id}"]
    # someone else cannot answer in the reporter's place (forged data)
    r = await tipcon.send(callback=f"tip:ans:{tip.id}", user="penyusup")
    assert r[-1].text == t("tips.answer_unavailable")
    r = await tipcon.send(f"/jawab {code}", user="penyusup")
    assert r[-1].text == t("tips.not_found")
    r = await tipcon.send(f"/jawab {code}")  # typed alternative to the button
    assert "Tulis jawaban" in r[-1].text
    await tipcon.send(callback="tip:ansx")
    await tipcon.send(callback=f"tip:ans:{tip.id}")
    mark = tipcon.mark()
    r = await tipcon.send("Sekitar pukul 10 <pagi>")
    group = tipcon.to(GROUP, mark)
    assert [g.text for g in group] == [html_t("group.answer", code=code, answer="Sekitar pukul 10 <pagi>")]
    assert "10 &lt;pagi&gt;" in group[0].text
    assert t("tips.answer_sent", code=code) in [x.text for x in r]
    assert any(t("tips.resume") in x.text for x in r)  # back in the suspended /lapor flow (category step)
    r = await tipcon.send(callback="lapor:c:lain")
    assert "Siapa" in r[-1].text
    async with tipcon.rt.services.sessions() as s:
        kinds = (await s.scalars(select(TipEvent.kind).where(TipEvent.tip_id == tip.id).order_by(TipEvent.id))).all()
    assert kinds == ["status", "question", "answer"]


async def test_statistik_and_ekspor(tipcon: TipConsole) -> None:
    await tipcon.tip(category="medsos")
    await tipcon.tip(category="kampanye", who="=HYPERLINK(\"http://x\")")
    r = await tipcon.send("/statistik", user="anggota", group=True)
    text = r[-1].text
    assert "Total: 2" in text and "Media sosial" in text and "Diterima: 2" in text and "-W" in text
    mark = tipcon.mark()
    await tipcon.send("/ekspor", user="anggota", group=True)
    docs = tipcon.to(GROUP, mark)
    assert len(docs) == 2
    ids = [d.media[0].media_id for d in docs]
    csv_bytes, ctype, name = await tipcon.rt.services.load_media(ids[0])
    assert ctype == "text/csv" and name.endswith(".csv")
    csv_text = csv_bytes.decode("utf-8-sig")
    assert csv_text.count("JN-") == 2 and "'=HYPERLINK" in csv_text
    async with tipcon.rt.services.sessions() as s:
        tips = (await s.scalars(select(Tip))).all()
    for tp in tips:
        assert tp.reporter_key not in csv_text and (tp.reply_enc or "") not in csv_text
    assert "pelapor" not in csv_text and "console" not in csv_text
    png, ctype, _ = await tipcon.rt.services.load_media(ids[1])
    assert ctype == "image/png" and png.startswith(b"\x89PNG")
    r = await tipcon.send("/statistik")  # not admin, private chat
    assert r[-1].text == t("error.group_only")


async def test_invalid_status_data_and_unknown_tip(tipcon: TipConsole) -> None:
    code = code_of(await tipcon.tip())
    tip = await tipcon.tip_by_code(code)
    r = await tipcon.send(callback=f"tip:st:{tip.id}:9", user="anggota", group=True)
    assert r[-1].text == t("error.unknown_button")
    r = await tipcon.send(callback="tip:st:99999:1", user="anggota", group=True)
    assert r[-1].text == t("group.tip_not_found")
    async with tipcon.rt.services.sessions() as s, s.begin():
        await s.execute(update(Tip).values(group_chat_id=None))
    r = await tipcon.send(callback=f"tip:st:{tip.id}:1", user="anggota", group=True)
    assert r[-1].text == t("group.not_allowed")
    assert (await tipcon.tip_by_code(code)).status == "diterima"


async def test_links_are_stored_and_forwarded_without_tracking_parameters(tipcon: TipConsole) -> None:
    mark = tipcon.mark()
    code = code_of(await tipcon.tip(links="https://youtu.be/abc?si=XyZ123 vt.tiktok.com/ZS2abc/?_t=8kQ&_r=1"))
    tip = await tipcon.tip_by_code(code)
    assert [lk["url"] for lk in tip.links] == ["https://youtu.be/abc", "https://vt.tiktok.com/ZS2abc/"]
    group = " ".join(r.text for r in tipcon.to(GROUP, mark))
    assert "youtu.be/abc" in group and "si=" not in group and "_t=" not in group


async def test_review_warns_about_identifying_text_and_allows_editing(tipcon: TipConsole) -> None:
    await tipcon.send("/lapor")
    await tipcon.send("PPU")
    await tipcon.send(callback="lapor:c:fasilitas")
    await tipcon.send(callback="lapor:skip")
    await tipcon.send("depan kantor bupati ppu, sabtu sore")
    await tipcon.send("Mobil dinas angkut spanduk. saya tinggal di Jl. Propinsi km 5, no hp saya 081234567890")
    review = (await tipcon.send(callback="lapor:done"))[-1]
    what = ", ".join(t(f"tips.identifying.{k}") for k in ("phone", "self"))
    assert t("tips.review_identifying", what=what) in review.text
    assert [b.data for row in review.buttons for b in row][:2] == ["lapor:ok", "lapor:e:what"]
    r = await tipcon.send(callback="lapor:e:what")
    assert "081234567890" in r[-1].text and "Ceritakan" in r[-1].text  # the current text is shown
    review = (await tipcon.send("Mobil dinas plat merah dipakai angkut spanduk paslon"))[-1]
    assert "Periksa laporan" in review.text and "⚠️ Tulisan Anda" not in review.text  # straight back to review
    mark = tipcon.mark()
    code_of(await tipcon.send(callback="lapor:ok"))
    assert "081234567890" not in " ".join(r.text for r in tipcon.to(GROUP, mark))


async def test_review_warns_about_share_short_links_and_can_drop_them(tipcon: TipConsole) -> None:
    """A short link from a Share button (vt.tiktok.com/…, facebook.com/share/…) has no query to clean, but its
    redirect may name the account that shared it: the review names it and offers to drop it; full addresses of
    the same platforms get no warning."""
    await tipcon.send("/lapor")
    await tipcon.send("PPU")
    await tipcon.send(callback="lapor:c:medsos")
    await tipcon.send(callback="lapor:skip")
    await tipcon.send("grup WA kantor, sabtu sore")
    await tipcon.send("Membagikan video kampanye paslon")
    await tipcon.send("https://www.tiktok.com/@akun.dinas/video/7301234567890 vt.tiktok.com/ZS2abc/ "
                      "https://www.facebook.com/share/p/1AbCdEf/ https://www.facebook.com/dinas.x/posts/123")
    review = (await tipcon.send(callback="lapor:done"))[-1]
    named = "ke-2 (https://vt.tiktok.com/ZS2abc/), ke-3 (https://www.facebook.com/share/p/1AbCdEf/)"
    assert t("tips.review_share_links", links=named) in review.text
    drops = [b.data for row in review.buttons for b in row if b.data.startswith("lapor:droplink:")]
    assert drops == ["lapor:droplink:2", "lapor:droplink:3"]
    r = await tipcon.send(callback="lapor:droplink:2")
    assert t("tips.link_dropped", n=2) in r[-1].text
    assert t("tips.review_share_links", links="ke-2 (https://www.facebook.com/share/p/1AbCdEf/)") in r[-1].text
    await tipcon.send(callback="lapor:droplink:2")
    mark = tipcon.mark()
    code = code_of(await tipcon.send(callback="lapor:ok"))
    tip = await tipcon.tip_by_code(code)
    assert [lk["url"] for lk in tip.links] == ["https://www.tiktok.com/@akun.dinas/video/7301234567890",
                                               "https://www.facebook.com/dinas.x/posts/123"]
    group = " ".join(r.text for r in tipcon.to(GROUP, mark))
    assert "vt.tiktok.com" not in group and "/share/" not in group


async def test_review_without_identifying_text_has_no_warning(tipcon: TipConsole) -> None:
    await tipcon.send("/lapor")
    await tipcon.send("PPU")
    await tipcon.send(callback="lapor:c:fasilitas")
    await tipcon.send("Kepala dinas X, NIP tidak tahu")
    await tipcon.send("Kantor dinas, 28 November 2026 pukul 16.30")
    await tipcon.send("Mobil dinas KT 1234 X dipakai kampanye paslon 01")
    review = (await tipcon.send(callback="lapor:done"))[-1]
    assert "⚠️ Tulisan Anda" not in review.text
    assert [b.data for row in review.buttons for b in row] == ["lapor:ok", "lapor:back", "lapor:cancel"]


async def test_a_file_that_turns_out_unstrippable_is_named_before_anything_is_sent(make_settings: Any) -> None:
    """Declared a PDF, but not one that can be read: the reporter is asked again, and may drop it."""
    h = TipConsole(make_settings(bawaslu_groups=GROUPS))
    broken = b"%PDF-1.4 author=Siti Rahasiawati (not a readable PDF)"
    photo = jpeg_with_gps()
    files = {"ref-pdf": (broken, "application/pdf"), "ref-photo": (photo, "application/octet-stream")}

    async def fetch(ref: str) -> tuple[bytes, str]:
        return files[ref]

    h.rt.services.media_fetchers["console"] = fetch
    try:
        await h.send("/lapor")
        await h.send("Kukar")
        await h.send(callback="lapor:c:medsos")
        await h.send(callback="lapor:skip")
        await h.send("Kantor")
        await h.send("Kejadian")
        await h.send(media=(MediaIn("document", "ref-pdf", "application/pdf", len(broken)),))
        await h.send(media=(MediaIn("document", "ref-photo", "application/octet-stream", len(photo)),))
        review = await h.send(callback="lapor:done")
        assert "TIDAK bisa dihapus" not in review[-1].text  # a PDF is expected to be strippable
        mark = h.mark()
        r = await h.send(callback="lapor:ok")
        assert await h.tip_count() == 0 and not h.to(GROUP, mark)
        files_named = t("tips.file_label", n=1, kind=t("tips.kind.document"))
        assert t("tips.unstrippable_found") in r[-1].text
        assert t("tips.review_unstripped", files=files_named) in r[-1].text
        r = await h.send(callback="lapor:drop:1")
        assert t("tips.file_dropped", n=1) in r[-1].text and "TIDAK bisa dihapus" not in r[-1].text
        code = code_of(await h.send(callback="lapor:ok"))
        tip = await h.tip_by_code(code)
        async with h.rt.services.sessions() as s:
            media = (await s.scalars(select(TipMedia).where(TipMedia.tip_id == tip.id))).all()
        assert [(m.content_type, m.stripped) for m in media] == [("image/jpeg", True)]  # sniffed, not declared
        assert media[0].content is not None and b"Rahasiawati" not in media[0].content
    finally:
        await h.close()


async def test_going_back_to_a_text_step_shows_the_saved_text_and_can_keep_it(tipcon: TipConsole) -> None:
    await tipcon.send("/lapor")
    await tipcon.send("PPU")
    await tipcon.send(callback="lapor:c:fasilitas")
    await tipcon.send("Kepala dinas")
    await tipcon.send("Kantor dinas, Senin")
    await tipcon.send("Mobil dinas dipakai kampanye")
    r = await tipcon.send(callback="lapor:back")  # from the evidence step back to "what happened"
    assert t("tips.current_text", text="Mobil dinas dipakai kampanye") in r[-1].text
    assert [b.data for b in r[-1].buttons[0]] == ["lapor:keep"]
    r = await tipcon.send(callback="lapor:keep")
    assert "Langkah 6/6" in r[-1].text
    review = await tipcon.send(callback="lapor:done")
    assert "Mobil dinas dipakai kampanye" in review[-1].text


async def test_evidence_hints_match_the_buttons(tipcon: TipConsole) -> None:
    await tipcon.send("/lapor")
    await tipcon.send("PPU")
    await tipcon.send(callback="lapor:c:fasilitas")
    await tipcon.send(callback="lapor:skip")
    await tipcon.send("Kantor")
    r = await tipcon.send("Kejadian")
    assert "maksimal 10 tautan" in r[-1].text and [b.label for b in r[-1].buttons[0]] == [t("tips.btn_skip")]
    r = await tipcon.send("tidak ada bukti sih")
    assert t("tips.evidence_hint") in r[-1].text  # nothing yet: Lewati, which is the button shown
    await tipcon.send("https://youtu.be/abc")
    r = await tipcon.send("itu saja")
    assert r[-1].text == t("tips.evidence_hint_more") and r[-1].buttons[0][0].label == t("tips.btn_done")


async def test_a_region_choice_list_can_go_back(tipcon: TipConsole) -> None:
    await tipcon.send("/lapor")
    r = await tipcon.send("kutai")
    assert r[-1].text == t("tips.region_choose")
    assert [b.data for b in r[-1].buttons[-1]] == ["lapor:pp:0", "lapor:cancel"]
    r = await tipcon.send(callback="lapor:pp:0")
    assert t("tips.ask_province") in r[-1].text  # still in the report, at the province list


async def test_jawab_usage_and_unrouted_tips(make_settings: Any) -> None:
    h = TipConsole(make_settings(bawaslu_groups={}, console_admin=False))
    try:
        assert (await h.send("/jawab"))[-1].text == t("tips.jawab_usage")
        code = code_of(await h.tip())
        assert (await h.send(f"/jawab {code}"))[-1].text == t("tips.answer_unrouted")
    finally:
        await h.close()


async def test_jawab_without_a_question_answers_nothing(tipcon: TipConsole) -> None:
    """/jawab KODE before Bawaslu asked anything starts no answer (its history said "Anda menjawab pertanyaan")."""
    code = code_of(await tipcon.tip())
    mark = tipcon.mark()
    r = await tipcon.send(f"/jawab {code.lower()}")
    assert r[-1].text == t("tips.jawab_no_question", code=code)
    await tipcon.send("Tambahan: kejadiannya dua kali")
    assert not [x for x in tipcon.to(GROUP, mark) if "Tambahan" in x.text]
    assert t("tips.event.answer") not in (await tipcon.send(f"/status {code}"))[-1].text


async def test_my_tips_list_shows_the_time(tipcon: TipConsole) -> None:
    import re

    code = code_of(await tipcon.tip())
    row = next(line for line in (await tipcon.send("/status"))[-1].text.splitlines() if code in line)
    assert re.search(r"\(\d\d-\d\d-\d{4} \d\d:\d\d WITA\)", row), row


async def test_lapor_with_an_unfinished_draft_offers_to_continue(tipcon: TipConsole) -> None:
    await tipcon.send("/lapor")
    await tipcon.send("PPU")
    await tipcon.send(callback="lapor:c:fasilitas")
    r = await tipcon.send("/lapor")
    assert "belum selesai" in r[-1].text and "Penajam Paser Utara" in r[-1].text
    r = await tipcon.send(callback="lapor:resume")
    assert "Langkah 3/6" in r[-1].text  # where the reporter left off (who)
    await tipcon.send("/lapor")
    r = await tipcon.send(callback="lapor:new")
    assert r[-1].text == t("tips.intro")


async def test_text_typed_at_continue_or_start_again_is_not_taken_as_an_answer(tipcon: TipConsole) -> None:
    """/lapor with a draft asks "Lanjutkan / Mulai baru"; a text typed instead (here a region, as for a new tip)
    is not saved as the answer to the step the draft waits at (it became the accused person), and the question
    is asked again; after Lanjutkan the step's own question comes, and texts are answers again."""
    await tipcon.send("/lapor")
    await tipcon.send("PPU")
    await tipcon.send(callback="lapor:c:fasilitas")
    await tipcon.send("/lapor")
    r = await tipcon.send("kab bandung")
    assert t("tips.choose_resume") in r[-1].text and "belum selesai" in r[-1].text
    assert [b.data for row in r[-1].buttons for b in row] == ["lapor:resume", "lapor:new"]
    r = await tipcon.send(callback="lapor:resume")
    assert "Langkah 3/6" in r[-1].text and "kab bandung" not in r[-1].text
    r = await tipcon.send("Kepala dinas X")
    assert "Langkah 4/6" in r[-1].text
    await tipcon.send("Kantor dinas, Senin")
    await tipcon.send("Mobil dinas dipakai kampanye")
    review = (await tipcon.send(callback="lapor:done"))[-1]
    assert "Kepala dinas X" in review.text and "kab bandung" not in review.text
