"""Anonymity audit. Every test of this suite is audited by the autouse ``audit`` fixture (conftest.py):
log records (DEBUG), the production JSON log, every recorded Bot API call (parameters, captions, uploaded
file names and bytes) and registered exports are scanned for the identifiers in ``anon.py``. This file
adds the full reporter journey with evidence and group interaction, and proves the scanner can fail."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
from PIL import Image

from tests.reliability import anon
from tests.reliability.conftest import GROUP_KUKAR, Audit
from tests.reliability.flows import CODE_RE, button_data, to_chat
from tests.support.fakes.telegram_server import RecordedCall, UploadedFile, make_callback, make_message
from tests.support.telegram_harness import TelegramHarness, wait_recorded


def test_the_scanner_finds_planted_identifiers() -> None:
    rec = logging.makeLogRecord({"name": "bot.x", "msg": "tip from %s", "args": (anon.USERNAME,)})
    extra = logging.makeLogRecord({"name": "bot.x", "msg": "ok", "phone": anon.WHATSAPP_NUMBER})
    call = RecordedCall(seq=1, method="sendDocument", params={"chat_id": anon.REPORTER_ID, "caption": "x"},
                        files={"document": UploadedFile("document", "laporan.csv", "text/csv",
                                                        f"kode,{anon.FULL_NAME}".encode())},
                        timestamp=0.0, chat_id=anon.REPORTER_ID)
    assert anon.scan_records([rec]) and anon.scan_records([extra])
    assert anon.scan_calls([call]) != []  # the file content; the chat_id address alone is not a finding
    call.files.clear()
    assert anon.scan_calls([call]) == []
    assert anon.scan(f"wa {anon.WHATSAPP_NUMBER.lstrip('+')}") != []


def _jpeg_with_owner() -> bytes:
    img = Image.new("RGB", (32, 16), (10, 200, 10))
    exif = Image.Exif()
    exif[0x013B] = anon.FULL_NAME  # Artist
    exif[0x8298] = anon.USERNAME  # Copyright
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


async def test_reporter_journey_leaks_no_identifier(tg: TelegramHarness, audit: Audit) -> None:
    server, uid = tg.server, anon.REPORTER_ID
    who = {"username": anon.USERNAME, "first_name": anon.FIRST_NAME, "last_name": anon.LAST_NAME}

    async def say(update: dict, pred=None) -> RecordedCall:  # type: ignore[no-untyped-def,type-arg]
        mark = server.mark()
        server.inject_update(update)
        return await server.wait_for(lambda c: to_chat(uid)(c) and (pred is None or pred(c)), timeout=15, since=mark)

    def press(data: str) -> dict:  # type: ignore[type-arg]
        return make_callback(uid, uid, data, username=anon.USERNAME, first_name=anon.FIRST_NAME)

    await say(make_message(uid, uid, "/start", **who))
    await say(make_message(uid, uid, "boleh pns like postingan paslon?", **who))
    await say(make_message(uid, uid, "/lapor Kukar", **who))
    await say(press("lapor:c:medsos"))
    await say(press("lapor:skip"))
    await say(make_message(uid, uid, "Kantor camat, Senin", **who))
    await say(make_message(uid, uid, "Kepala dinas membagikan poster paslon", **who))
    photo = server.make_photo_message(uid, uid, _jpeg_with_owner(), caption="bukti", **who)
    await say(photo, lambda c: "lapor:done" in button_data(c))
    await say(press("lapor:done"))
    receipt = await say(press("lapor:ok"), lambda c: bool(CODE_RE.search(c.text or "")))
    code = CODE_RE.search(receipt.text or "").group(0)  # type: ignore[union-attr]
    await server.wait_for(lambda c: c.method == "sendPhoto" and c.chat_id == GROUP_KUKAR, timeout=15)
    assert all(anon.FULL_NAME.encode() not in f.data for c in server.calls for f in c.files.values())
    # the group asks, the reporter answers, the group changes the status and exports
    group_text = next(c for c in server.sent_messages(GROUP_KUKAR) if code in (c.text or ""))
    ask = next(d for d in button_data(group_text) if d.startswith("tip:ask:"))
    tip_id = ask.split(":")[2]
    mark = server.mark()
    server.inject_update(make_callback(GROUP_KUKAR, 777, ask, chat_type="supergroup"))
    prompt = await server.wait_for(to_chat(GROUP_KUKAR), timeout=15, since=mark)
    await wait_recorded(tg.rt, prompt.result["message_id"])
    replied = {"message_id": prompt.result["message_id"], "date": 0,
               "chat": {"id": GROUP_KUKAR, "type": "supergroup", "title": "Bawaslu"}}
    server.inject_update(make_message(GROUP_KUKAR, 777, "Jam berapa persisnya?", reply_to_message=replied))
    question = await server.wait_for(lambda c: to_chat(uid)(c) and "Jam berapa" in (c.text or ""), timeout=15)
    answer = next(d for d in button_data(question) if d.startswith("tip:ans:"))
    await say(press(answer))
    await say(make_message(uid, uid, "Sekitar jam sepuluh pagi", **who))
    await server.wait_for(lambda c: c.chat_id == GROUP_KUKAR and "jam sepuluh" in (c.text or ""), timeout=15)
    server.inject_update(make_callback(GROUP_KUKAR, 777, f"tip:st:{tip_id}:4", chat_type="supergroup"))
    await server.wait_for(lambda c: to_chat(uid)(c) and code in (c.text or "") and "Selesai" in (c.text or ""),
                          timeout=15)
    mark = server.mark()
    server.inject_update(make_message(GROUP_KUKAR, 777, "/ekspor"))
    doc = await server.wait_for(lambda c: c.method == "sendDocument" and c.chat_id == GROUP_KUKAR, timeout=20,
                                since=mark)
    for f in doc.files.values():
        audit.texts.append((f"export {f.filename}", f.data.decode("utf-8-sig", errors="replace")))
    await say(make_message(uid, uid, f"/status {code}", **who))
    await say(make_message(uid, uid, f"/hapus {code}", **who), lambda c: f"hapus:ok:{tip_id}" in button_data(c))
    await say(press(f"hapus:ok:{tip_id}"))
    assert len(server.calls) > 20  # the teardown audit scans all of them
    # the database: nothing of the reporter is left, in clear or sealed, once everything queued is sent
    await tg.rt.worker.drain()
    assert await anon.scan_database(tg.rt.services.sessions, identity=tg.rt.services.identity) == []


@pytest.mark.parametrize("text", [anon.FULL_NAME])
def test_identifier_list_is_explicit(text: str) -> None:
    assert text in anon.IDENTIFIERS and str(anon.REPORTER_ID) in anon.IDENTIFIERS


def test_the_audit_fixture_sees_log_records_and_the_json_log(audit: Audit, caplog: pytest.LogCaptureFixture,
                                                              tmp_path: Path) -> None:
    log_file = tmp_path / "bot-log.jsonl"
    logging.getLogger("handlers.tips").debug("oops %s", anon.FULL_NAME)
    for h in logging.getLogger().handlers:
        h.flush()
    assert anon.FULL_NAME in log_file.read_text(encoding="utf-8")  # production JSON formatter at DEBUG
    found = audit.findings(caplog.get_records("call"), log_file)
    assert any("json log file" in f for f in found) and any(f.startswith("log handlers.tips") for f in found)
    caplog.clear()  # leave nothing for the teardown audit
    log_file.write_text("", encoding="utf-8")
