"""Tests for the fake Telegram Bot API server, driven by the real python-telegram-bot."""

from __future__ import annotations

import asyncio
import datetime as dtm
import time
import warnings
from collections.abc import AsyncIterator

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, CommandHandler, ContextTypes

from tests.support.fakes.telegram_server import (
    FakeTelegramProcess,
    FakeTelegramServer,
    Limits,
    Stats,
    _Windows,
    make_callback,
    make_document_message,
    make_message,
    make_my_chat_member,
    make_photo_message,
)

TOKEN = "123456:TEST-TOKEN"

# PTB itself warns when it builds a RetryAfter (int -> timedelta migration); not our concern here.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning")


@pytest.fixture
async def server() -> AsyncIterator[FakeTelegramServer]:
    async with FakeTelegramServer(token=TOKEN) as srv:
        yield srv


@pytest.fixture
async def bot(server: FakeTelegramServer) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=server.base_url, base_file_url=server.base_file_url) as b:
        yield b


def _retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


async def _until(condition, timeout: float = 3.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.005)


# --- basic calls and recording ------------------------------------------------------------------

async def test_get_me_and_send_message_recorded(server: FakeTelegramServer, bot: Bot) -> None:
    assert bot.id == server.bot_user_id == 123456
    assert bot.username == server.bot_username
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Ya", callback_data="ya")]])
    msg = await bot.send_message(42, "Halo ASN", reply_markup=markup)
    assert msg.text == "Halo ASN"
    assert msg.chat.id == 42 and msg.chat.type == "private"
    assert msg.reply_markup == markup
    call = server.calls_of("sendMessage")[-1]
    assert call.chat_id == 42
    assert call.params["reply_markup"] == {"inline_keyboard": [[{"text": "Ya", "callback_data": "ya"}]]}
    assert call.result["message_id"] == msg.message_id
    assert server.texts(42) == ["Halo ASN"]
    assert server.texts(43) == []
    assert [c.method for c in server.calls] == ["getMe", "sendMessage"]


async def test_numeric_looking_text_stays_string_and_case_insensitive(server: FakeTelegramServer) -> None:
    async with httpx.AsyncClient() as client:
        resp = await client.post(f"{server.base_url}{TOKEN}/SENDMESSAGE", data={"chat_id": "-1001", "text": "123"})
        assert resp.json()["ok"] is True
        assert resp.json()["result"]["chat"]["type"] == "supergroup"
        wrong = await client.post(f"{server.base_url}999:WRONG/getMe")
        assert wrong.status_code == 401
        unknown = await client.post(f"{server.base_url}{TOKEN}/fooBar")
        assert unknown.status_code == 404
        assert unknown.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    call = server.calls_of("sendMessage")[0]
    assert call.params["text"] == "123" and call.chat_id == -1001


async def test_media_uploads(server: FakeTelegramServer, bot: Bot) -> None:
    photo = await bot.send_photo(7, b"\xff\xd8jpegbytes", caption="Bukti")
    assert photo.caption == "Bukti" and photo.photo[-1].file_size == len(b"\xff\xd8jpegbytes")
    doc = await bot.send_document(7, b"%PDF-1.4 data", filename="laporan.pdf")
    assert doc.document.file_name == "laporan.pdf"
    up = server.calls_of("sendDocument")[0].files["document"]
    assert (up.filename, up.data) == ("laporan.pdf", b"%PDF-1.4 data")
    assert (await bot.send_video(7, b"vid")).video is not None
    by_id = await bot.send_photo(-100500, photo.photo[-1].file_id)  # re-sending a known file_id
    assert by_id.photo[-1].file_id == photo.photo[-1].file_id
    assert [c.method for c in server.sent_messages(7)] == ["sendPhoto", "sendDocument", "sendVideo"]
    assert server.texts(7) == ["Bukti"]  # only sends with text/caption
    with pytest.raises(BadRequest, match="too long"):
        await bot.send_photo(7, b"x", caption="c" * 1025)


async def test_get_file_download_round_trip(server: FakeTelegramServer, bot: Bot) -> None:
    update = make_photo_message(9, 9, data=b"PHOTO-BYTES", server=server, caption="foto")
    file_id = update["message"]["photo"][-1]["file_id"]
    tg_file = await bot.get_file(file_id)
    assert bytes(await tg_file.download_as_bytearray()) == b"PHOTO-BYTES"
    # bytes uploaded by the bot can be fetched again by their new file_id
    sent = await bot.send_document(9, b"uploaded", filename="a.txt")
    again = await bot.get_file(sent.document.file_id)
    assert bytes(await again.download_as_bytearray()) == b"uploaded"
    with pytest.raises(BadRequest, match="Invalid file_id"):
        await bot.get_file("nope")


async def test_answer_callback_html_and_length_checks(server: FakeTelegramServer, bot: Bot) -> None:
    assert await bot.answer_callback_query("cbq1") is True
    assert server.calls_of("answerCallbackQuery")[0].params["callback_query_id"] == "cbq1"
    html = "<b>Tebal</b> &amp; <a href='https://x.invalid'>tautan</a> 5 &lt; 6"
    ok = await bot.send_message(5, html, parse_mode="HTML")
    assert ok.text.startswith("<b>Tebal</b>")
    for broken, reason in (("<b>tidak ditutup", "can't find end tag"), ("<script>x</script>", "unsupported start tag"),
                           ("a &nbsp; b", "unsupported html entity"), ("<b>x</i>", "unmatched end tag"),
                           ("5 < 6", "unsupported start tag")):
        with pytest.raises(BadRequest, match=f"(?i)can't parse entities: {reason}"):
            await bot.send_message(5, broken, parse_mode="HTML")
    await bot.send_message(5, "<b>tidak ditutup")  # without parse_mode the text is plain
    with pytest.raises(BadRequest, match="too long"):
        await bot.send_message(5, "x" * 4097)
    await bot.send_message(5, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")  # tags do not count
    with pytest.raises(BadRequest, match="text is empty"):
        await bot.send_message(5, " ")


async def test_webhook_conflict_and_unknown_methods(server: FakeTelegramServer, bot: Bot) -> None:
    assert await bot.set_webhook("https://example.invalid/hook", secret_token="rahasia") is True
    assert server.webhook_url == "https://example.invalid/hook"
    assert server.calls_of("setWebhook")[0].params["secret_token"] == "rahasia"
    with pytest.raises(Conflict):
        await bot.get_updates(timeout=0)
    assert await bot.delete_webhook() is True
    assert server.webhook_url == ""
    assert await bot.get_updates(timeout=0) == ()
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("fooBar")
    # a real method the bot never calls: not implemented (PTB maps the 404 to InvalidToken), but recorded
    with pytest.raises(InvalidToken, match="Not Found"):
        await bot.forward_message(chat_id=-100500, from_chat_id=7, message_id=1)
    assert [c.status for c in server.calls_of("forwardMessage")] == [404]
    assert server.sent_messages(-100500, include_failed=True) == []


# --- errors and faults ---------------------------------------------------------------------------

async def test_rate_limit_forbidden_and_5xx(server: FakeTelegramServer, bot: Bot) -> None:
    server.rate_limit_next(1, retry_after=7)
    with pytest.raises(RetryAfter) as exc_info:
        await bot.send_message(1, "a")
    assert _retry_seconds(exc_info.value) == 7
    assert server.calls[-1].status == 429 and server.calls[-1].retry_after == 7
    server.block_user(2)
    with pytest.raises(Forbidden, match="blocked by the user"):
        await bot.send_message(2, "b")
    await bot.send_message(3, "c")  # other chats unaffected
    for status in (500, 502, 503):
        server.fail_next(1, status=status)
        with pytest.raises(NetworkError) as err:
            await bot.send_message(3, "d")
        assert not isinstance(err.value, BadRequest)
    server.migrate_chat(-555, -100555)
    with pytest.raises(ChatMigrated) as migrated:
        await bot.send_message(-555, "e")
    assert migrated.value.new_chat_id == -100555
    server.set_chat_error(6, 400, "Bad Request: chat not found")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(6, "f")
    assert server.texts(2) == [] and server.texts(3) == ["c"]
    assert (server.stats.rate_limited_429, server.stats.forbidden_403, server.stats.injected_failures) == (1, 1, 3)


async def test_faults_skip_get_updates_unless_targeted(server: FakeTelegramServer, bot: Bot) -> None:
    server.fail_next(1, status=502)
    assert await bot.get_updates(timeout=0) == ()  # default faults never hit polling
    with pytest.raises(NetworkError):
        await bot.send_message(1, "x")
    server.fail_next(1, status=502, methods=["getUpdates"])
    with pytest.raises(NetworkError):
        await bot.get_updates(timeout=0)
    server.fail_next(1, status=500, chat_id=9)
    await bot.send_message(1, "ok")  # other chat: fault stays armed
    with pytest.raises(NetworkError):
        await bot.send_message(9, "x")


async def test_stop_start_same_port(server: FakeTelegramServer, bot: Bot) -> None:
    port = server.port
    await bot.send_message(1, "sebelum")
    await server.stop()
    with pytest.raises(NetworkError):
        await bot.send_message(1, "saat mati")
    await server.start()
    assert server.port == port
    await bot.send_message(1, "sesudah")
    assert server.texts(1) == ["sebelum", "sesudah"]


async def test_enforced_limits_per_chat_global_group(server: FakeTelegramServer, bot: Bot) -> None:
    server.enforce_limits(global_per_sec=1000, per_chat_per_sec=1, per_group_per_min=20)
    await bot.send_message(10, "a")
    with pytest.raises(RetryAfter) as exc_info:
        await bot.send_message(10, "b")
    assert _retry_seconds(exc_info.value) == 1
    await bot.send_message(11, "c")
    assert server.stats.enforced_429 == 1 and server.stats.sent == 2

    server.reset()
    server.enforce_limits(global_per_sec=3, per_chat_per_sec=100)
    for chat in (1, 2, 3):
        await bot.send_message(chat, "x")
    with pytest.raises(RetryAfter):
        await bot.send_message(4, "x")
    assert server.stats.max_global_per_sec == 3

    server.reset()
    server.enforce_limits(global_per_sec=100, per_chat_per_sec=100, per_group_per_min=2)
    await bot.send_message(-1009, "g1")
    await bot.send_message(-1009, "g2")
    with pytest.raises(RetryAfter) as group_exc:
        await bot.send_message(-1009, "g3")
    assert 59 <= _retry_seconds(group_exc.value) <= 60
    await bot.send_message(9, "private chat is not a group")
    assert server.stats.enforced_429 == 1 and server.texts(-1009) == ["g1", "g2"]


def test_sliding_windows_are_exact_and_cheap() -> None:
    windows, stats, limits = _Windows(), Stats(), Limits(global_per_sec=30, per_chat_per_sec=1)
    assert windows.check(1, 0.0, limits) is None
    windows.record(1, 0.0, stats)
    assert windows.check(1, 0.5, limits) == 1
    assert windows.check(1, 1.01, limits) is None  # window slid past the first send
    started = time.perf_counter()
    t = 10.0
    for i in range(50_000):  # 1000 chats, 1 ms apart: never above 30/s globally
        t += 1 / 30 + 1e-6
        assert windows.check(i % 1000, t, limits) is None
        windows.record(i % 1000, t, stats)
    assert time.perf_counter() - started < 2.0
    assert stats.max_global_per_sec <= 31


async def test_duplicates_latency_and_wait_for(server: FakeTelegramServer, bot: Bot) -> None:
    await bot.send_message(1, "a")
    await bot.send_message(1, "a")
    await bot.send_message(2, "a")
    await bot.send_photo(3, b"p", caption="foto")
    await bot.send_photo(3, b"p", caption="foto")
    assert server.duplicates() == {(1, "a"): 2, (3, "foto"): 2}
    assert server.duplicate_count() == 2
    assert (await server.wait_for(lambda c: c.text == "a", count=3)).chat_id == 2
    with pytest.raises(TimeoutError):
        await server.wait_for(lambda c: c.text == "a", timeout=0.05, since=server.mark())
    with pytest.raises(TimeoutError):
        await server.wait_for(lambda c: c.text == "never", timeout=0.05)
    server.set_latency(0.2)
    started = time.monotonic()
    await bot.send_message(1, "lambat")
    assert time.monotonic() - started >= 0.19
    server.rate_limit_next(1, retry_after=2)
    with pytest.raises(RetryAfter):
        await bot.send_message(4, "gagal")
    with pytest.raises(TimeoutError):
        await server.wait_for(lambda c: c.chat_id == 4, timeout=0.05)
    assert (await server.wait_for(lambda c: c.chat_id == 4, include_failed=True)).status == 429


async def test_latency_split_before_and_after_the_count(server: FakeTelegramServer, bot: Bot) -> None:
    """``before_fraction``: the share of each request's delay before it is processed and counted; the rest
    passes before the answer is sent. Default 1.0: all before (the count comes right before the answer)."""
    server.enforce_limits(global_per_sec=30, per_chat_per_sec=100)
    server.set_latency(0.4)
    started = time.monotonic()
    await bot.send_message(1, "semua di depan")
    counted = server.sent_messages()[-1].timestamp
    assert counted - started >= 0.39  # counted after the whole delay
    assert server.stats.last_send_at == pytest.approx(counted, abs=0.05)  # the limits count it then too
    server.set_latency(0.4, before_fraction=0.5)
    started = time.monotonic()
    await bot.send_message(2, "separuh")
    answered = time.monotonic()
    counted = server.sent_messages()[-1].timestamp
    assert counted - started >= 0.19  # half of the delay before the count ...
    assert answered - counted >= 0.19  # ... and half of it after, before the answer
    assert server.stats.last_send_at == pytest.approx(counted, abs=0.05)  # not when it is answered
    server.set_latency(0.4, before_fraction=0.0)
    started = time.monotonic()
    await bot.send_message(3, "semua di belakang")
    assert time.monotonic() - server.sent_messages()[-1].timestamp >= 0.39  # counted at once, answered later
    with pytest.raises(ValueError, match="before_fraction"):
        server.set_latency(0.1, before_fraction=1.5)
    server.clear_faults()
    server.set_latency(0.2)  # back to the default split: all of it before the count
    started = time.monotonic()
    await bot.send_message(4, "lagi")
    assert server.sent_messages()[-1].timestamp - started >= 0.19


# --- updates ---------------------------------------------------------------------------------------

async def test_get_updates_offset_and_long_poll(server: FakeTelegramServer, bot: Bot) -> None:
    ids = [server.inject_update(make_message(1, 1, f"m{i}")) for i in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3
    updates = await bot.get_updates(timeout=0)
    assert [u.message.text for u in updates] == ["m0", "m1", "m2"]
    assert [u.update_id for u in await bot.get_updates(offset=ids[2], timeout=0)] == [ids[2]]
    assert await bot.get_updates(offset=ids[2] + 1, timeout=0) == ()
    assert server.pending_updates == []

    task = asyncio.create_task(bot.get_updates(offset=ids[2] + 1, timeout=5))
    await _until(lambda: server.waiting_pollers == 1)
    started = time.monotonic()
    server.inject_update(make_message(1, 1, "baru"))
    got = await task
    assert [u.message.text for u in got] == ["baru"] and time.monotonic() - started < 1.0

    started = time.monotonic()
    assert await bot.get_updates(offset=got[0].update_id + 1, timeout=1) == ()
    assert time.monotonic() - started >= 0.9


async def test_second_poller_terminates_first_with_conflict(server: FakeTelegramServer, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await _until(lambda: server.waiting_pollers == 1)
    # a second bot instance (PTB's getUpdates connection pool holds a single connection)
    async with Bot(TOKEN, base_url=server.base_url) as other:
        assert await other.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates"):
        await first


def test_builders_produce_valid_updates() -> None:
    bot = Bot(TOKEN)
    cmd = Update.de_json(make_message(-1001, 7, "/lapor@jaganetral_test_bot isi", title="Grup ASN"), bot)
    assert cmd.effective_chat.type == "supergroup" and cmd.effective_chat.title == "Grup ASN"
    entity = cmd.message.entities[0]
    assert entity.type == "bot_command" and entity.length == len("/lapor@jaganetral_test_bot")
    cb = Update.de_json(make_callback(7, 7, "menu:1", 55), bot)
    assert cb.callback_query.data == "menu:1" and cb.callback_query.message.message_id == 55
    edited = Update.de_json(make_message(7, 7, "koreksi", message_id=3, edited=True), bot)
    assert edited.edited_message.text == "koreksi" and edited.edited_message.edit_date is not None
    doc = Update.de_json(make_document_message(7, 7, file_id="D1", caption="lampiran"), bot)
    assert doc.message.document.file_id == "D1" and doc.message.caption == "lampiran"
    photo = Update.de_json(make_photo_message(7, 7, file_id="P1"), bot)
    assert photo.message.photo[-1].file_id == "P1"
    blocked = Update.de_json(make_my_chat_member(7, 7, "kicked"), bot)
    assert blocked.my_chat_member.new_chat_member.status == "kicked"
    first, second = make_message(1, 1, "a"), make_message(1, 1, "b")
    assert second["update_id"] > first["update_id"]


async def test_application_long_polling_end_to_end(server: FakeTelegramServer) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("Netral", callback_data="netral")]])
        await update.effective_message.reply_text("Selamat datang", reply_markup=markup)

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.callback_query.answer()
        await update.effective_message.reply_text(f"Pilihan: {update.callback_query.data}")

    app = (
        ApplicationBuilder().token(TOKEN).base_url(server.base_url).base_file_url(server.base_file_url).build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(pressed))
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            server.inject_update(make_message(77, 77, "/start"))
            reply = await server.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == 77)
            assert reply.text == "Selamat datang"
            assert reply.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "netral"
            server.inject_update(make_callback(77, 77, "netral", reply.result["message_id"]))
            chosen = await server.wait_for(lambda c: c.method == "sendMessage" and c.text == "Pilihan: netral")
            assert chosen.chat_id == 77
            assert server.calls_of("answerCallbackQuery")
        finally:
            await app.updater.stop()
            await app.stop()
    assert server.pending_updates == []  # both updates were confirmed through offset


# --- thread and process modes ------------------------------------------------------------------

def test_thread_mode_sync_client() -> None:
    with FakeTelegramServer(token=TOKEN) as server:
        api = f"{server.base_url}{TOKEN}"
        resp = httpx.post(f"{api}/sendMessage", data={"chat_id": "5", "text": "hai"})
        assert resp.json()["result"]["text"] == "hai"
        assert server.wait_for_sync(lambda c: c.method == "sendMessage").chat_id == 5
        server.inject_update(make_message(5, 5, "halo"))
        polled = httpx.post(f"{api}/getUpdates", data={"timeout": "2"}).json()["result"]
        assert [u["message"]["text"] for u in polled] == ["halo"]
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"{api}/getMe")


async def test_thread_mode_with_ptb_in_test_loop() -> None:
    server = FakeTelegramServer(token=TOKEN).start_in_thread()
    try:
        async with Bot(TOKEN, base_url=server.base_url, base_file_url=server.base_file_url) as bot:
            poll = asyncio.create_task(bot.get_updates(timeout=5))
            await _until(lambda: server.waiting_pollers == 1)
            server.inject_update(make_message(8, 8, "dari thread lain"))  # wakes the poller across threads
            assert [u.message.text for u in await poll] == ["dari thread lain"]
            send = asyncio.create_task(bot.send_message(8, "balas"))
            call = await server.wait_for(lambda c: c.method == "sendMessage")  # cross-loop wake-up
            assert call.text == "balas"
            await send
    finally:
        server.stop_thread()


async def test_separate_process_with_control_endpoints() -> None:
    proc = await asyncio.to_thread(FakeTelegramProcess(token=TOKEN).start)
    try:
        control = proc.control
        assert control is not None
        async with Bot(TOKEN, base_url=proc.base_url, base_file_url=proc.base_file_url) as bot:
            control.inject_update(make_message(4, 4, "/start"))
            assert [u.message.text for u in await bot.get_updates(timeout=0)] == ["/start"]
            ids = control.inject_updates([make_message(4, 4, "satu"), make_message(6, 6, "dua")])  # one burst
            got = await bot.get_updates(offset=ids[0], timeout=0)
            assert [(u.update_id, u.message.text) for u in got] == [(ids[0], "satu"), (ids[1], "dua")]
            await bot.send_message(4, "jawaban")
            await bot.send_photo(5, b"\xff\xd8", caption="jawaban")
            await bot.send_message(4, "jawaban")
            sent = control.sent_messages(4)
            assert [c.text for c in sent] == ["jawaban", "jawaban"]
            assert [c.files["photo"].data for c in control.sent_messages(5)] == [b"\xff\xd8"]  # files cross too
            assert control.duplicates() == [[4, "jawaban", 2]]
            control.fault("rate_limit_next", n=1, retry_after=3)
            with pytest.raises(RetryAfter):
                await bot.send_message(4, "lagi")
            assert control.stats()["rate_limited_429"] == 1
            assert [c.method for c in control.calls(since=len(control.calls()) - 1)] == ["sendMessage"]
            control.fault("reset")
            assert control.calls() == [] and control.stats()["requests"] == 0
        port = proc.port
        proc.stop()
        async with httpx.AsyncClient() as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(f"{proc.url}/_control/calls")
        await asyncio.to_thread(proc.start)
        assert proc.port == port and proc.control is not None and proc.control.calls() == []
    finally:
        proc.stop()


async def test_invalid_token_rejected() -> None:
    async with FakeTelegramServer(token=TOKEN) as srv:
        with pytest.raises(InvalidToken):
            async with Bot("999:OTHER", base_url=srv.base_url):
                pass
