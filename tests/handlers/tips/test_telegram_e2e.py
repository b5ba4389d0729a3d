"""Tips end to end: the real python-telegram-bot Application against the fake Bot API server."""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from bot.storage.models import Outbox, Tip, TipMedia, UnansweredQuestion
from bot.texts import t
from tests.handlers.tips.conftest import CODE_RE, jpeg_with_gps
from tests.support.fakes.telegram_server import FakeTelegramServer, make_callback, make_message
from tests.support.telegram_harness import TelegramHarness, telegram_overrides, wait_recorded

KAB, PROV, DEFAULT, OTHER = -100111, -100222, -100333, -100444
GROUPS = {"64.02": KAB, "64": PROV, "default": DEFAULT, "65": OTHER}
REPORTER = 987654321
SECRET_USER = {"username": "pelapor_rahasia_xyz", "first_name": "Siti", "last_name": "Rahasiawati"}
MEMBER, OUTSIDER = 555001, 555002
IDENTIFIERS = ["987654321", "pelapor_rahasia_xyz", "Rahasiawati", "Siti Rahasiawati"]
NOISY = ("httpx", "httpcore", "telegram", "aiosqlite", "asyncio")


@pytest.fixture
async def tg(make_settings: Any) -> AsyncIterator[TelegramHarness]:
    server = FakeTelegramServer()
    await server.start()
    # per-chat pacing (1 message/s) is tested elsewhere; here it would only make every step wait
    fast = {"telegram_per_chat_per_sec": 100.0, "telegram_per_group_per_min": 6000.0}
    harness = TelegramHarness(
        make_settings(bawaslu_groups=GROUPS, rate_limits=fast, **telegram_overrides(server)), server)
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()
        await server.stop()


def _say(h: TelegramHarness, text: str, user: int = REPORTER, chat: int | None = None) -> None:
    kw = SECRET_USER if user == REPORTER else {}
    h.server.inject_update(make_message(chat if chat is not None else user, user, text, **kw))


def _press(h: TelegramHarness, data: str, user: int = REPORTER, chat: int | None = None) -> None:
    kw: dict[str, Any] = {"username": SECRET_USER["username"], "first_name": "Siti"} if user == REPORTER else {}
    h.server.inject_update(make_callback(chat if chat is not None else user, user, data, **kw))


def _reply(h: TelegramHarness, text: str, user: int, chat: int, to_message_id: int) -> None:
    """A group member's message that replies to the bot's message ``to_message_id``."""
    replied = {"message_id": to_message_id, "date": 0, "chat": {"id": chat, "type": "supergroup", "title": "g"}}
    h.server.inject_update(make_message(chat, user, text, chat_type="supergroup", reply_to_message=replied))


async def _step(h: TelegramHarness, action: Any, needle: str, chat: int = REPORTER) -> Any:
    mark = h.mark()
    action()
    return await h.wait_text(chat, needle, since=mark)


async def _tip(h: TelegramHarness, region: str, what: str, *, photo: bytes | None = None,
               confirm: bool = True) -> str | None:
    await _step(h, lambda: _say(h, f"/lapor {region}"), "Langkah 2/6")
    await _step(h, lambda: _press(h, "lapor:c:medsos"), "Langkah 3/6")
    await _step(h, lambda: _say(h, "Kasubag <i>Umum</i>"), "Langkah 4/6")
    await _step(h, lambda: _say(h, "Kantor bupati, Senin"), "Langkah 5/6")
    await _step(h, lambda: _say(h, what), "Langkah 6/6")
    if photo is not None:
        msg = h.server.make_photo_message(REPORTER, REPORTER, photo, **SECRET_USER)
        await _step(h, lambda: h.server.inject_update(msg), "1 berkas")
    await _step(h, lambda: _say(h, "https://www.facebook.com/share/p/123"), "1 tautan")
    await _step(h, lambda: _press(h, "lapor:done"), "INFORMASI AWAL")
    if not confirm:
        return None
    call = await _step(h, lambda: _press(h, "lapor:ok"), "Kode laporan")
    m = CODE_RE.search(call.params["text"])
    assert m is not None
    return m.group(0)


async def _tip_row(h: TelegramHarness, code: str) -> Tip:
    assert h.rt is not None
    async with h.rt.services.sessions() as s:
        tip = await s.scalar(select(Tip).where(Tip.code == code))
    assert tip is not None
    return tip


def _group_texts(h: TelegramHarness, chat: int, code: str) -> list[str]:
    return [c.params.get("text", "") for c in h.server.sent_messages(chat)
            if c.method == "sendMessage" and code in str(c.params.get("text", ""))]


async def test_tip_flow_relay_and_anonymity(tg: TelegramHarness, caplog: Any) -> None:
    photo = jpeg_with_gps()  # before capturing: building the sample logs its EXIF at DEBUG
    caplog.set_level(logging.DEBUG)
    # production logging (bot/logs.py) keeps library loggers at WARNING: PTB logs raw API payloads at DEBUG
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
    server = tg.server
    code = await _tip(tg, "Kukar", "Dia memposting <b>x</b> di grup", photo=photo)
    assert code is not None
    tip = await _tip_row(tg, code)
    assert tip.group_chat_id == KAB
    await tg.wait_text(KAB, f"Bukti 1/1 — laporan {code}")
    # the text arrives once, escaped, protected, with the status buttons
    texts = _group_texts(tg, KAB, code)
    assert len(texts) == 1
    assert "&lt;b&gt;x&lt;/b&gt;" in texts[0] and "&lt;i&gt;Umum&lt;/i&gt;" in texts[0]
    main = next(c for c in server.sent_messages(KAB) if c.method == "sendMessage")
    assert main.params.get("parse_mode") == "HTML" and main.params.get("protect_content") in (True, "true")
    kb = main.params["reply_markup"]["inline_keyboard"]
    assert kb[-1][0]["callback_data"] == f"tip:ask:{tip.id}"
    # the photo was uploaded (copied, not forwarded), stripped, with a neutral name
    photos = [c for c in server.sent_messages(KAB) if c.method == "sendPhoto"]
    assert len(photos) == 1 and not server.calls_of("forwardMessage")
    upload = next(iter(photos[0].files.values()))
    assert upload.filename == "bukti-1.jpg"
    with Image.open(io.BytesIO(upload.data)) as img:
        assert len(img.getexif()) == 0
    assert b"Rahasiawati" not in upload.data and b"Exif" not in upload.data
    assert tg.rt is not None
    async with tg.rt.services.sessions() as s:
        media = (await s.scalars(select(TipMedia).where(TipMedia.tip_id == tip.id))).all()
    assert [m.sha256_original for m in media] == [hashlib.sha256(photo).hexdigest()]
    assert not [c for c in server.sent_messages(PROV) + server.sent_messages(DEFAULT)]

    # status button in the right group notifies the reporter
    await _step(tg, lambda: _press(tg, f"tip:st:{tip.id}:1", MEMBER, KAB), "Sedang ditelaah", REPORTER)
    # a member of another region's group cannot act (forged callback data)
    await _step(tg, lambda: _press(tg, f"tip:st:{tip.id}:4", OUTSIDER, OTHER), "tidak diteruskan ke grup ini", OTHER)
    await _step(tg, lambda: _press(tg, f"tip:ask:{tip.id}", OUTSIDER, OTHER), "tidak diteruskan ke grup ini", OTHER)
    assert (await _tip_row(tg, code)).status == "ditelaah"

    # tanya pelapor: group -> reporter -> group, identities hidden both ways
    prompt = await _step(tg, lambda: _press(tg, f"tip:ask:{tip.id}", MEMBER, KAB), "Balas (reply)", KAB)
    await wait_recorded(tg.rt, prompt.result["message_id"])
    _say(tg, "rapat jam 3 bareng pak andi", MEMBER, KAB)  # ordinary group talk, not a reply: never relayed
    q = await _step(tg, lambda: _reply(tg, "Siapa saja yang hadir?", MEMBER, KAB, prompt.result["message_id"]),
                    "Siapa saja yang hadir?", REPORTER)
    assert not [c for c in server.calls if "pak andi" in json.dumps(c.params)]  # updates are handled in order
    assert q.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == f"tip:ans:{tip.id}"
    await _step(tg, lambda: _press(tg, f"tip:ans:{tip.id}"), "Tulis jawaban")
    a = await _step(tg, lambda: _say(tg, "Sekitar 20 orang <staf>"), "Jawaban pelapor", KAB)
    assert "20 orang &lt;staf&gt;" in a.params["text"] and code in a.params["text"]

    # fallback routing: province, then default
    code_prov = await _tip(tg, "Paser", "Spanduk calon di kantor")
    code_def = await _tip(tg, "Kota Palangka Raya", "Apel dukungan")
    assert code_prov is not None and code_def is not None
    await tg.wait_text(PROV, code_prov)
    await tg.wait_text(DEFAULT, code_def)
    assert not _group_texts(tg, KAB, code_prov) and not _group_texts(tg, PROV, code_def)

    # export for the Kukar group: CSV + chart as documents
    await _step(tg, lambda: _say(tg, "/ekspor", MEMBER, KAB), "tanpa data pelapor", KAB)
    await tg.wait_text(KAB, "Grafik")
    docs = [c for c in server.sent_messages(KAB) if c.method == "sendDocument"]
    csv_call = next(c for c in docs if "tanpa data pelapor" in str(c.params.get("caption")))
    csv_text = next(iter(csv_call.files.values())).data.decode("utf-8-sig")
    assert code in csv_text and code_prov not in csv_text

    # anonymity scan: nothing sent anywhere but the reporter's own chat carries the reporter's identifiers;
    # nothing sent to the reporter carries a group member's id
    outbound = [c for c in server.calls if c.method != "getUpdates"]
    assert outbound
    for call in outbound:
        blob = json.dumps(call.params, ensure_ascii=False) + " ".join(
            f"{f.filename} {f.content_type}" for f in call.files.values())
        blob += " ".join(f.data.decode("latin-1") for f in call.files.values())
        if str(call.chat_id) == str(REPORTER):
            assert str(MEMBER) not in blob and "reply_to_message" not in blob
            blob = blob.replace(f'"chat_id": {REPORTER}', "").replace(f'"chat_id": "{REPORTER}"', "")
        hits = [i for i in IDENTIFIERS if i in blob]
        assert not hits, (call.method, hits)
    for record in caplog.records:
        text = record.getMessage() + " " + " ".join(str(v) for v in vars(record).values())
        if record.exc_text:
            text += record.exc_text
        hits = [i for i in IDENTIFIERS if i in text]
        assert not hits, (record.name, record.getMessage(), hits)
    assert not [i for i in IDENTIFIERS if i in csv_text]
    assert tg.rt is not None
    async with tg.rt.services.sessions() as s:
        rows = (await s.execute(select(Tip.who, Tip.place_time, Tip.description, Tip.reporter_key))).all()
    assert not [i for i in IDENTIFIERS for r in rows for v in r if i in str(v)]


async def test_a_reply_to_bawaslus_question_is_relayed_as_the_answer(tg: TelegramHarness) -> None:
    """On Telegram the natural way to answer is to reply to the question. That reply is the answer: relayed to the
    tip's group — not taken for a FAQ question, which told the reporter an admin would answer it and kept their
    answer in the admins' /pertanyaan list for 180 days, past /hapus."""
    assert tg.rt is not None
    code = await _tip(tg, "Kukar", "Kepala dinas membagikan poster")
    assert code is not None
    tip = await _tip_row(tg, code)
    prompt = await _step(tg, lambda: _press(tg, f"tip:ask:{tip.id}", MEMBER, KAB), "Balas (reply)", KAB)
    await wait_recorded(tg.rt, prompt.result["message_id"])
    question = await _step(tg, lambda: _reply(tg, "Jam berapa persisnya?", MEMBER, KAB, prompt.result["message_id"]),
                           "Jam berapa persisnya?", REPORTER)
    await wait_recorded(tg.rt, question.result["message_id"])
    replied = {"message_id": question.result["message_id"], "date": 0, "chat": {"id": REPORTER, "type": "private"}}
    answer = "Sekitar jam sepuluh <pagi>"
    relayed = await _step(tg, lambda: tg.server.inject_update(
        make_message(REPORTER, REPORTER, answer, reply_to_message=replied, **SECRET_USER)), "jam sepuluh", KAB)
    assert "Sekitar jam sepuluh &lt;pagi&gt;" in relayed.params["text"] and code in relayed.params["text"]
    assert "reply_to_message_id" not in relayed.params and "reply_parameters" not in relayed.params
    await tg.wait_text(REPORTER, t("tips.answer_sent", code=code))
    async with tg.rt.services.sessions() as s:
        assert (await s.scalars(select(UnansweredQuestion.text))).all() == []
    # a reply to any other message of the bot is still an ordinary question
    receipt = next(c for c in tg.server.sent_messages(REPORTER) if "Kode laporan" in str(c.params.get("text")))
    other = {"message_id": receipt.result["message_id"], "date": 0, "chat": {"id": REPORTER, "type": "private"}}
    mark = tg.mark()
    tg.server.inject_update(make_message(REPORTER, REPORTER, "apa itu netralitas asn", reply_to_message=other))
    await tg.server.wait_for(lambda c: str(c.chat_id) == str(REPORTER), timeout=10, since=mark)
    assert len([c for c in tg.server.sent_messages(KAB) if "Jawaban pelapor" in str(c.params.get("text"))]) == 1


async def test_crash_between_commit_and_delivery_delivers_once(tg: TelegramHarness) -> None:
    await _tip(tg, "Kukar", "Kejadian sebelum crash", confirm=False)
    assert tg.rt is not None
    await tg.rt.worker.stop()  # the delivery loop is gone: the tip is committed but not sent
    mark = tg.mark()
    _press(tg, "lapor:ok")
    for _ in range(200):
        async with tg.rt.services.sessions() as s:
            tip = await s.scalar(select(Tip))
        if tip is not None:
            break
        await tg.settle(0.05)
    assert tip is not None
    assert not tg.server.sent_messages(KAB)
    await tg.restart()  # new Runtime on the same database
    await tg.wait_text(KAB, tip.code, since=mark)
    await tg.wait_text(REPORTER, tip.code, since=mark)
    await tg.drained()
    assert len(_group_texts(tg, KAB, tip.code)) == 1


async def test_group_5xx_then_recovery_delivers_once(tg: TelegramHarness) -> None:
    tg.server.fail_next(2, 500, methods=["sendMessage"], chat_id=KAB)
    code = await _tip(tg, "Kukar", "Kejadian saat server error")
    assert code is not None
    await tg.wait_text(KAB, code, timeout=15)
    failed = [c for c in tg.server.calls if str(c.chat_id) == str(KAB) and c.status == 500]
    assert len(failed) == 2
    await tg.drained()  # every result recorded; a later retry would still be pending
    assert len(_group_texts(tg, KAB, code)) == 1
    assert tg.rt is not None
    async with tg.rt.services.sessions() as s:
        statuses = (await s.scalars(select(Outbox.status).where(Outbox.idem_key.like("tip:%")))).all()
    assert statuses == ["sent"]


def test_production_logging_silences_library_payload_logs(tmp_path: Path) -> None:
    """The anonymity scan relies on production logging keeping PTB/httpx payload logs out of the file."""
    import logging

    from bot.logs import setup_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in ("telegram", "httpx", "httpcore")}
    try:
        setup_logging("DEBUG", file=tmp_path / "bot.log")
        logging.getLogger("httpx").info("HTTP Request: POST https://api.telegram.org/bot123:SECRET/sendMessage")
        logging.getLogger("telegram.ext.Application").debug("update from user 4242 @somebody")
        logging.getLogger("bot.test").info("our own line")
        for handler in root.handlers:
            handler.flush()
        written = (tmp_path / "bot.log").read_text(encoding="utf-8")
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:], root.level = saved[0], saved[1]
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    assert "our own line" in written  # the file does receive records
    assert "SECRET" not in written and "4242" not in written and "somebody" not in written
