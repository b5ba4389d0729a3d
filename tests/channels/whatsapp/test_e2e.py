"""WhatsApp end to end over real HTTP: FAQ, numbered choices, long texts, STOP/MULAI, a tip with a photo
forwarded to the Bawaslu Telegram group, and the anonymity of the WhatsApp number and profile name."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
from PIL import Image
from sqlalchemy import select

from bot import regions
from bot.core.model import Button, Reply
from bot.storage.models import Tip, TipMedia, UnansweredQuestion
from bot.texts import t
from handlers.tips.cases import category_label
from tests.channels.whatsapp.conftest import (
    KAB,
    NUMBER,
    PROFILE_NAME,
    STATUS_URL,
    USER,
    WhatsAppHarness,
    secrets_of,
)
from tests.handlers.tips.conftest import CODE_RE, jpeg_with_gps
from tests.support.fakes.telegram_server import make_callback, make_message
from tests.support.fakes.twilio_server import SentMessage
from tests.support.telegram_harness import wait_recorded

MEMBER = 555001  # a member of the Kukar group


def _leaks(text: str) -> list[str]:
    return [s for s in secrets_of() if s in text]


def _log_text(records: list[logging.LogRecord]) -> str:
    parts = []
    for r in records:
        parts.append(r.getMessage())
        parts.append(repr({k: v for k, v in r.__dict__.items() if k not in ("msg", "args")}))
        if r.exc_text:
            parts.append(r.exc_text)
    return "\n".join(parts)


async def _file_tip(wa: WhatsAppHarness, *, photo: bytes | None = None) -> str:
    """/lapor Kukar over WhatsApp, every step answered (with ``photo`` as evidence); the receipt code."""
    [body] = await wa.say("/lapor Kukar")
    assert "Langkah 2/6" in body
    [body] = await wa.press(category_label("medsos"))
    assert "Langkah 3/6" in body
    await wa.say("Kasubag Umum dinas X")
    await wa.say("Kantor bupati, Senin pagi")
    [body] = await wa.say("Membagikan poster paslon di grup kantor")
    assert "Langkah 6/6" in body
    if photo is not None:
        url = wa.twilio.add_media(photo, "image/jpeg")
        [body] = await wa.say("", media=[(url, "image/jpeg")])
        assert t("tips.evidence_added", media=1, links=0) in body
    await wa.say("selesai")
    bodies = await wa.press(t("tips.btn_send"))
    codes = [m.group(0) for b in bodies for m in [CODE_RE.search(b)] if m]
    assert codes, bodies
    return codes[0]


async def test_faq_question_is_answered_through_twilio(wa: WhatsAppHarness) -> None:
    bodies = await wa.say("pns boleh ngelike foto paslon di instagram ga sih")
    assert bodies and bodies[0].startswith("⛔ TIDAK BOLEH")  # the verdict opens the first message
    assert all(len(b) <= 1600 for b in bodies)  # WhatsApp's limit: a long answer is split into parts
    assert "Dasar hukum" in "\n".join(bodies)
    msg = wa.to_user()[-1]
    assert msg.from_ == "whatsapp:+14155238886" and msg.to == USER
    assert msg.status_callback == STATUS_URL
    assert msg.content_sid is None  # inside the 24-hour window: free-form


async def test_numbered_choice_presses_the_second_button(wa: WhatsAppHarness) -> None:
    [body] = await wa.say("/langganan")
    provinces = regions.provinces()
    assert f"  2. {provinces[1].short}" in body
    n = len(re.findall(r"^\s+\d+\. ", body, re.MULTILINE))
    assert body.rstrip().endswith(t("whatsapp.reply_with_number",
                                     choices=", ".join(str(i) for i in range(1, n)) + f" atau {n}"))
    [body] = await wa.say("2")
    assert t("sub.pick_kabkota", province=provinces[1].name) in body


async def test_long_text_is_split_under_the_whatsapp_limit(wa: WhatsAppHarness) -> None:
    await wa.say("/start")
    assert wa.rt is not None
    paragraphs = [f"Paragraf {i}: " + " ".join(f"kata{i}x{j}" for j in range(60)) for i in range(12)]
    text = "\n\n".join(paragraphs)
    assert len(text) > 4000
    reply = Reply(text=text, buttons=[[Button("Ya", "x:1"), Button("Tidak", "x:2")]])
    mark = len(wa.twilio.messages)
    async with wa.rt.services.sessions() as s, s.begin():
        await wa.rt.services.outbox.enqueue(s, channel="whatsapp", chat_id=NUMBER, reply=reply, purpose="notice")
    wa.rt.worker.notify()
    await wa.drain()
    parts = [m.body or "" for m in wa.to_user(since=mark)]
    assert len(parts) >= 3
    assert all(0 < len(p) <= 1500 for p in parts)
    joined = "\n".join(parts)
    assert joined.split()[: len(text.split())] == text.split()  # nothing lost, order kept
    assert parts[-1].rstrip().endswith(t("whatsapp.reply_with_number", choices="1 atau 2"))
    assert "  1. Ya" in parts[-1]


async def test_stop_unsubscribes_and_mulai_resubscribes(wa: WhatsAppHarness) -> None:
    [body] = await wa.say("mulai")
    assert body == t("whatsapp.resume_none")
    await wa.say("/langganan Kukar")
    [done] = await wa.press("ASN")
    assert "Kutai Kartanegara" in done
    sub = await wa.subscriber()
    assert sub is not None and sub.active and sub.channel == "whatsapp"

    [stopped] = await wa.say("STOP")
    assert t("sub.stopped") in stopped and "MULAI" in stopped
    sub = await wa.subscriber()
    assert sub is not None and not sub.active

    [resumed] = await wa.say("MULAI")
    assert "aktif kembali" in resumed and "Kutai Kartanegara" in resumed
    sub = await wa.subscriber()
    assert sub is not None and sub.active and not sub.blocked

    [again] = await wa.say(" Mulai ")
    assert "masih aktif" in again

    [stopped] = await wa.say("berhenti")
    assert t("sub.stopped") in stopped
    [resumed] = await wa.say("START")
    assert "aktif kembali" in resumed
    sub = await wa.subscriber()
    assert sub is not None and sub.active


async def test_resume_also_clears_a_blocked_subscriber(wa: WhatsAppHarness) -> None:
    await wa.say("/langganan Samarinda")
    await wa.press("Masyarakat")
    assert wa.rt is not None
    from sqlalchemy import update

    from bot.storage.models import Subscriber

    async with wa.rt.services.sessions() as s, s.begin():
        await s.execute(update(Subscriber).values(active=False, blocked=True))
    [resumed] = await wa.say("MULAI")
    assert "aktif kembali" in resumed
    sub = await wa.subscriber()
    assert sub is not None and sub.active and not sub.blocked


async def test_tip_with_photo_reaches_the_telegram_group_anonymously(
    wa_tg: WhatsAppHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wa, tg = wa_tg, wa_tg.tg
    assert tg is not None
    code = await _file_tip(wa, photo=jpeg_with_gps())

    # Twilio media: credentials to the Media resource only, never to the CDN redirect target
    kinds = {(f.kind, f.had_auth, f.status) for f in wa.twilio.media_fetches}
    assert ("media", True, 307) in kinds and ("cdn", False, 200) in kinds

    # forwarded to the Kukar group on Telegram: text with the code, then the stripped photo
    call = await tg.wait_for(lambda c: str(c.chat_id) == str(KAB) and code in (c.text or ""), timeout=10)
    assert "Membagikan poster paslon" in (call.text or "")
    photo_call = await tg.wait_for(lambda c: str(c.chat_id) == str(KAB) and c.method == "sendPhoto", timeout=10)
    upload = next(iter(photo_call.files.values())).data
    exif = Image.open(io.BytesIO(upload)).getexif()
    assert 0x8825 not in exif and 0x013B not in exif  # no GPS, no artist
    assert b"Rahasiawati" not in upload

    # anonymity: the number and profile name are nowhere in what the group got, the DB row or the logs
    group_calls = [c for c in tg.calls if str(c.chat_id) == str(KAB)]
    for c in group_calls:
        assert not _leaks(json.dumps(c.params, ensure_ascii=False)), c.method
        for f in c.files.values():
            assert not any(s.encode() in f.data for s in secrets_of())
    assert wa.rt is not None
    async with wa.rt.services.sessions() as s:
        tip = await s.scalar(select(Tip).where(Tip.code == code))
        assert tip is not None and tip.channel == "whatsapp"
        assert wa.rt.services.identity.open(tip.reply_enc or "") == ("whatsapp", NUMBER)
        row_text = repr({k: v for k, v in vars(tip).items() if not k.startswith("_")})
        assert not _leaks(row_text)
        media = (await s.scalars(select(TipMedia).where(TipMedia.tip_id == tip.id))).all()
        assert len(media) == 1 and media[0].stripped
    assert not _leaks(_log_text(caplog.records))

    # /status over WhatsApp
    [status] = await wa.say(f"/status {code}")
    assert code in status


async def test_anonymity_number_and_profile_name_never_logged(
    wa: WhatsAppHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await wa.say("apakah asn boleh foto bersama caleg?")
    await wa.say("/langganan Kukar")
    await wa.press("ASN")
    await wa.say("STOP")
    await wa.say("MULAI")
    sid = wa.to_user()[-1].sid
    assert (await wa.status_callback(sid, "delivered")).status_code == 200
    assert (await wa.status_callback(sid, "undelivered", 63016)).status_code == 200
    assert wa.twilio.messages and all(m.to == USER for m in wa.twilio.messages)
    text = _log_text(caplog.records)
    assert "whatsapp status" in text and "faq match" in text  # the logs were really captured
    assert not _leaks(text), _leaks(text)
    assert PROFILE_NAME not in text


async def _bawaslu_asks(wa: WhatsAppHarness, code: str, text: str) -> SentMessage:
    """A member of the Kukar group asks the reporter of tip ``code`` ``text`` (Tanya pelapor, a reply to the
    bot's prompt); the question as Twilio was asked to deliver it (its SID recorded)."""
    tg = wa.tg
    assert tg is not None and wa.rt is not None
    async with wa.rt.services.sessions() as s:
        tip = await s.scalar(select(Tip).where(Tip.code == code))
    assert tip is not None
    mark = len(tg.calls)
    tg.inject_update(make_callback(KAB, MEMBER, f"tip:ask:{tip.id}"))
    prompt = await tg.wait_for(lambda c: str(c.chat_id) == str(KAB) and "Balas (reply)" in (c.text or ""),
                               timeout=10, since=mark)
    assert prompt.result is not None
    await wait_recorded(wa.rt, prompt.result["message_id"])  # a reply to it is matched by its recorded id
    replied = {"message_id": prompt.result["message_id"], "date": 0,
               "chat": {"id": KAB, "type": "supergroup", "title": "g"}}
    sent = len(wa.twilio.messages)
    tg.inject_update(make_message(KAB, MEMBER, text, chat_type="supergroup", reply_to_message=replied))
    question = await wa.twilio.wait_for(lambda m: m.to == USER and text in (m.body or ""), since=sent, timeout=10)
    await wa.rt.worker.drain()  # its SID recorded
    return question


async def _answer_reached_the_group(wa: WhatsAppHarness, code: str, mark: int) -> None:
    """The answer "Sekitar jam sepuluh <pagi>" reached the Kukar group (escaped, with the code, without the
    reporter's number or name) and is not in the admins' unanswered list."""
    assert wa.tg is not None and wa.rt is not None
    relayed = await wa.tg.wait_for(lambda c: str(c.chat_id) == str(KAB) and "jam sepuluh" in (c.text or ""),
                                   timeout=10, since=mark)
    assert "Sekitar jam sepuluh &lt;pagi&gt;" in (relayed.text or "") and code in (relayed.text or "")
    assert not _leaks(json.dumps(relayed.params, ensure_ascii=False))
    async with wa.rt.services.sessions() as s:
        assert (await s.scalars(select(UnansweredQuestion.text))).all() == []


async def test_a_quoted_reply_to_bawaslus_question_is_relayed_as_the_answer(wa_tg: WhatsAppHarness) -> None:
    """WhatsApp's way to answer a message is a quoted reply (Twilio's ``OriginalRepliedMessageSid``): a quoted
    reply to Bawaslu's question is the answer, relayed to the tip's group, as a Telegram reply is -- not a FAQ
    question kept in the admins' /pertanyaan list."""
    wa, tg = wa_tg, wa_tg.tg
    assert tg is not None and wa.rt is not None
    code = await _file_tip(wa)
    question = await _bawaslu_asks(wa, code, "Jam berapa persisnya?")

    mark = len(tg.calls)
    bodies = await wa.say("Sekitar jam sepuluh <pagi>", extra={"OriginalRepliedMessageSid": question.sid})
    assert t("tips.answer_sent", code=code) in bodies
    await _answer_reached_the_group(wa, code, mark)
    # a quoted reply to any other message of the bot is still an ordinary question
    receipt = next(m for m in wa.to_user() if code in (m.body or "") and "Kode" in (m.body or ""))
    await wa.say("apa itu netralitas asn", extra={"OriginalRepliedMessageSid": receipt.sid})
    assert len([c for c in tg.sent_messages(KAB) if "jam sepuluh" in str(c.params.get("text"))]) == 1


async def test_an_answer_typed_after_bawaslus_question_is_offered_then_relayed(wa_tg: WhatsAppHarness) -> None:
    """Most people answer on WhatsApp by simply typing the next message: it is offered as the answer ("Apakah
    ini jawaban …?") and relayed once the reporter says so -- never on its own, never kept in /pertanyaan."""
    wa, tg = wa_tg, wa_tg.tg
    assert tg is not None and wa.rt is not None
    code = await _file_tip(wa)
    await _bawaslu_asks(wa, code, "Jam berapa persisnya?")
    mark = len(tg.calls)
    [body] = await wa.say("Sekitar jam sepuluh <pagi>")
    assert t("tips.typed_offer", code=code, text="Sekitar jam sepuluh <pagi>") in body
    assert not [c for c in tg.calls[mark:] if "jam sepuluh" in (c.text or "")]  # (the outbox was drained)
    async with wa.rt.services.sessions() as s:
        assert (await s.scalars(select(UnansweredQuestion.text))).all() == []
    bodies = await wa.press(t("tips.btn_typed_send"))
    assert t("tips.answer_sent", code=code) in bodies
    await _answer_reached_the_group(wa, code, mark)
    # answered: what comes next is an ordinary FAQ question
    bodies = await wa.say("pns boleh ngelike foto paslon di instagram ga sih")
    assert bodies and bodies[0].startswith("⛔ TIDAK BOLEH")
