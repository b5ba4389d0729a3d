"""Bad input through the real python-telegram-bot Application (long polling) against the fake Bot API."""

from __future__ import annotations

import asyncio
import html
import logging
import re
from typing import Any

import pytest
from sqlalchemy import select

from bot.core.model import Button, Reply
from bot.storage.models import Outbox, Subscriber
from tests.channels.telegram.conftest import ADMIN_ID
from tests.support.bad_updates import SECRET_NAME, SECRET_PHONE, unreadable_update
from tests.support.telegram_harness import TelegramHarness


async def test_an_update_the_library_cannot_read_does_not_stop_polling(
    telegram: TelegramHarness, caplog: Any
) -> None:
    """PTB parses a getUpdates batch as a whole: one unreadable update failed the batch and the offset never
    moved, so polling fetched the same batch forever and nobody was answered again. It is now skipped (logged
    by its update id only) and the updates with it are handled."""
    caplog.set_level(logging.DEBUG)
    bad_id = telegram.server.inject_update(unreadable_update(3001))
    telegram.text(3002, "/start")
    await telegram.wait_text(3002, "JagaNetral", timeout=10)
    skipped = [r for r in caplog.records if getattr(r, "update_id", None) == bad_id]
    assert skipped and skipped[0].levelno == logging.WARNING
    assert not any(SECRET_NAME in r.getMessage() or SECRET_PHONE in r.getMessage() for r in caplog.records)
    assert telegram.server.pending_updates == []  # confirmed, not fetched again


@pytest.mark.parametrize("where", ["first", "alone"])
async def test_an_unreadable_update_is_confirmed_whatever_its_place_in_the_batch(
    telegram: TelegramHarness, where: str
) -> None:
    if where == "first":
        telegram.server.inject_update(unreadable_update(3003))
        telegram.text(3004, "/start")
        await telegram.wait_text(3004, "JagaNetral", timeout=10)
    else:
        telegram.server.inject_update(unreadable_update(3003))
        await telegram.server.wait_for(lambda c: c.method == "getUpdates", count=3, timeout=10, since=telegram.mark())
        assert telegram.server.pending_updates == []
        telegram.text(3004, "/start")
        await telegram.wait_text(3004, "JagaNetral", timeout=10)


async def test_a_command_for_another_bot_in_a_group_is_left_to_that_bot(telegram: TelegramHarness) -> None:
    """``/bantuan@OtherBot`` in a group is another bot's command: it was answered as if it were ours (the
    suffix was only stripped). Our own suffix, and none, are still ours."""
    group = -100300500
    own = telegram.server.bot_username
    for text in ("/bantuan@OtherBot", "/lapor@SomeOther_bot halo", "/statistik@otherbot"):
        telegram.text(3010, text, chat_id=group, chat_type="supergroup")
    telegram.text(3010, f"/bantuan@{own.upper()}", chat_id=group, chat_type="supergroup")
    await telegram.wait_text(group, "/statistik")
    await telegram.drained()
    assert len(telegram.server.sent_messages(group)) == 1


def _visible(call: Any) -> str:
    """What a user sees of a sent message (HTML tags and entities resolved)."""
    text = str(call.params.get("text", ""))
    if str(call.params.get("parse_mode") or "").upper() == "HTML":
        text = html.unescape(re.sub(r"<[^>]+>", "", text))
    return text


async def _send(telegram: TelegramHarness, chat_id: int, reply: Reply, key: str) -> None:
    assert telegram.rt is not None
    async with telegram.rt.services.sessions() as s, s.begin():
        await telegram.rt.services.outbox.enqueue(s, channel="telegram", chat_id=str(chat_id), reply=reply,
                                                  purpose="tip", idem_key=key, is_group=True)
    telegram.rt.worker.notify()


@pytest.mark.parametrize("words", [300, 700])
async def test_escaped_user_text_is_delivered_whole(telegram: TelegramHarness, words: int) -> None:
    """A reporter's text with "&" and "<" is escaped into a Telegram HTML message (e.g. an answer relayed to a
    Bawaslu group): the escapes made the raw text longer than 4096 while what is shown was shorter, and the
    sender cut the raw text at 4096, losing the end of the text. Shown text over the limit was cut too. Now
    a message that fits is sent whole and a longer one in several parts, in order, nothing left out."""
    group = -100300600 - words
    body = " ".join(f"A&B<{i}>" for i in range(words))
    reply = Reply(text=f"<b>Jawaban pelapor</b>\n\n{html.escape(body)}", html=True,
                  buttons=[[Button("Tutup", "tip:x")]])
    assert len(reply.text) > 4096
    await _send(telegram, group, reply, f"long:{words}")
    await telegram.drained()
    sent = telegram.server.sent_messages(group)
    shown = "\n".join(_visible(c) for c in sent)
    assert shown.split() == ["Jawaban", "pelapor", *body.split()]
    assert all(len(_visible(c)) <= 4096 for c in sent)
    assert "reply_markup" in sent[-1].params  # the buttons stay with the end of the message
    assert len(sent) == (1 if len(body) < 4000 else 2)


def _button(call: Any, row: int = 0) -> str:
    return str(call.params["reply_markup"]["inline_keyboard"][row][0]["callback_data"])


async def _broadcast(telegram: TelegramHarness, text: str) -> None:
    mark = telegram.mark()
    telegram.text(ADMIN_ID, "/siaran")
    await telegram.wait_text(ADMIN_ID, "siaran", since=mark)
    telegram.text(ADMIN_ID, text)
    ask = await telegram.wait_text(ADMIN_ID, "Kirim ke siapa", since=mark)
    telegram.press(ADMIN_ID, _button(ask))  # everyone
    await telegram.wait_text(ADMIN_ID, "Kapan", since=mark)
    telegram.text(ADMIN_ID, "sekarang")
    confirm = await telegram.wait_text(ADMIN_ID, "Periksa", since=mark)
    telegram.press(ADMIN_ID, _button(confirm))
    await telegram.wait_text(ADMIN_ID, "Laporan siaran", since=mark, timeout=20)


async def test_a_private_chat_telegram_does_not_know_is_not_sent_to_again(telegram: TelegramHarness) -> None:
    """A subscriber whose chat Telegram no longer knows (400 "chat not found": account deleted) stayed
    active: every later broadcast and reminder was tried again and given up again, each time reported to
    the admins. It is now treated like a 403: the row is marked blocked and the subscriber deactivated (a
    deactivated subscriber is left out of later broadcasts: tests/broadcasts/test_telegram_e2e.py)."""
    user = 3030
    telegram.text(user, "/langganan samarinda")
    role = await telegram.wait_text(user, "berlangganan sebagai")
    telegram.press(user, _button(role))
    await telegram.wait_text(user, "Terima kasih")
    telegram.server.set_chat_error(user, 400, "Bad Request: chat not found")
    await _broadcast(telegram, "Siaran pertama")
    await telegram.drained()
    tried = [c for c in telegram.server.sent_messages(user, include_failed=True) if not c.ok]
    assert len(tried) == 1
    assert telegram.rt is not None
    async with telegram.rt.services.sessions() as s:
        row = await s.scalar(select(Outbox).where(Outbox.broadcast_id.is_not(None)))
        subscriber = await s.scalar(select(Subscriber))
    assert row is not None and row.status == "blocked"
    assert subscriber is not None and not subscriber.active and subscriber.blocked


class _Until(logging.Handler):
    """Sets ``seen`` once a record whose message holds ``needle`` is logged (on the test's own loop)."""

    def __init__(self, needle: str) -> None:
        super().__init__(logging.DEBUG)
        self.needle, self.seen = needle, asyncio.Event()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if self.needle in record.getMessage():
            self.records.append(record)
            self.seen.set()


async def test_a_polling_conflict_names_the_other_process(telegram: TelegramHarness) -> None:
    """Telegram's 409 on getUpdates ("terminated by other getUpdates request") means a second process polls
    with the same token: an error line that says so, not "polling failed; retrying" as for a network error;
    polling goes on once the other process is gone."""
    until = _Until("another process is receiving this bot's updates")
    logging.getLogger("bot.channels.telegram").addHandler(until)
    try:
        telegram.server.fail_next(1, 409, methods=["getUpdates"], description=(
            "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"))
        await asyncio.wait_for(until.seen.wait(), timeout=10)
        assert until.records[0].levelno == logging.ERROR and "telegram.token" in until.records[0].getMessage()
        telegram.text(3101, "/start")
        await telegram.wait_text(3101, "JagaNetral", timeout=10)
    finally:
        logging.getLogger("bot.channels.telegram").removeHandler(until)
