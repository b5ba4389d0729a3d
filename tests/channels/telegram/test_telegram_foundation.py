"""Foundation end-to-end: the real python-telegram-bot Application against the fake Bot API server."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.texts import t
from tests.channels.telegram.conftest import ADMIN_ID
from tests.support.telegram_harness import TelegramHarness


async def test_start_over_long_polling(telegram: TelegramHarness) -> None:
    telegram.text(1001, "/start")
    call = await telegram.wait_text(1001, "JagaNetral")
    assert call.method.lower() == "sendmessage"
    assert "/lapor" in call.params["text"]


async def test_unknown_command_and_non_admin(telegram: TelegramHarness) -> None:
    telegram.text(1002, "/terbang")
    await telegram.wait_text(1002, t("error.unknown_command", command="terbang"))
    telegram.text(1002, "/pertanyaan")
    await telegram.wait_text(1002, t("error.admin_only"))


async def test_admin_command_allowed_for_configured_admin(telegram: TelegramHarness) -> None:
    telegram.text(ADMIN_ID, "/pertanyaan")
    await telegram.wait_text(ADMIN_ID, t("faq.unanswered_empty"))


async def test_html_from_user_is_sent_as_plain_text(telegram: TelegramHarness) -> None:
    telegram.text(1003, "/<b>bold</b>")
    call = await telegram.wait_text(1003, "tidak dikenal")
    assert "parse_mode" not in call.params or call.params["parse_mode"] in (None, "")


async def test_faq_answer_with_buttons_and_callback(telegram: TelegramHarness) -> None:
    telegram.text(1004, "pns boleh ngelike foto paslon di instagram ga sih")
    call = await telegram.wait_text(1004, "TIDAK BOLEH")
    assert "Dasar hukum" in call.params["text"]
    mark = telegram.mark()
    telegram.press(1004, "faq:hak-pilih")
    call = await telegram.wait_text(1004, "BOLEH", since=mark)
    assert "TIDAK BOLEH" not in call.params["text"]
    answered = [c for c in telegram.server.calls if c.method.lower() == "answercallbackquery"]
    assert answered, "callback queries must be answered"


async def test_retry_after_429_is_honoured(telegram: TelegramHarness) -> None:
    telegram.server.rate_limit_next(1, retry_after=1)
    telegram.text(1005, "/start")
    call = await telegram.wait_text(1005, "JagaNetral", timeout=10)
    limited = [c for c in telegram.server.calls if getattr(c, "status", 200) == 429]
    assert limited, "the fake must have answered 429 once"
    assert call.timestamp - limited[0].timestamp >= 1.0


async def test_server_errors_then_recovery(telegram: TelegramHarness) -> None:
    telegram.server.fail_next(2, status=502)
    telegram.text(1006, "/bantuan")
    await telegram.wait_text(1006, "/lapor", timeout=15)
    await telegram.drained()
    failed = [c for c in telegram.server.calls if str(c.chat_id) == "1006" and getattr(c, "status", 200) == 502]
    assert len(failed) == 2  # both 502s were retried ...
    assert len(telegram.server.sent_messages(1006)) == 1  # ... and the reply arrived exactly once


async def test_blocked_user_does_not_loop(telegram: TelegramHarness) -> None:
    telegram.server.block_user(1007)
    telegram.text(1007, "/start")
    await telegram.server.wait_for(lambda c: str(c.chat_id) == "1007" and "send" in c.method.lower(), timeout=10,
                                   include_failed=True)  # the 403
    await telegram.drained()  # a retry would keep the row pending: drained waits for it
    attempts = [c for c in telegram.server.calls if str(c.chat_id) == "1007" and "send" in c.method.lower()]
    assert len(attempts) == 1  # 403 → marked blocked, not retried


async def test_restart_keeps_pending_replies(telegram: TelegramHarness) -> None:
    await telegram.stop()
    # The update is committed (with its reply in the outbox) but the process stops before delivery.
    from bot.app.runtime import Runtime
    from bot.core.model import Incoming

    rt = Runtime.create(telegram.settings)
    await rt.core.handle(Incoming(channel="telegram", chat_id="1008", user_id="1008", text="/start"))
    await rt.stop()  # crash/stop before delivery
    await telegram.start()
    await telegram.wait_text(1008, "JagaNetral")
    assert len(telegram.server.sent_messages(1008)) == 1


async def test_malformed_and_group_updates_do_not_crash(telegram: TelegramHarness, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    telegram.server.inject_update({"update_id": 900001})  # no content at all
    telegram.server.inject_update({"update_id": 900002, "edited_message": {
        "message_id": 5, "date": 0, "chat": {"id": 1009, "type": "private"}, "text": "edit",
        "from": {"id": 1009, "is_bot": False, "first_name": "X"}}})
    telegram.text(1009, "halo semua", chat_id=-100555, chat_type="group")
    telegram.text(1009, "/start")
    await telegram.wait_text(1009, "JagaNetral")
    assert not telegram.server.sent_messages(-100555)  # free text in groups is not answered


@pytest.mark.parametrize("text", ["\x00\x01\x02", "🙂" * 3000, "a" * 5000])
async def test_odd_text_gets_a_reply(telegram: TelegramHarness, text: str) -> None:
    telegram.text(1010, text)
    await telegram.server.wait_for(lambda c: str(c.chat_id) == "1010", timeout=10)


def test_a_text_messages_buttons_go_as_the_json_ptb_would_make_of_them() -> None:
    """The text path builds ``reply_markup`` as a dict directly; it must be what PTB's objects serialise to."""
    from bot.channels.telegram import _markup, _markup_json
    from bot.core.model import Button, Reply

    reply = Reply(text="x", buttons=[[Button("Ya ✅", "lapor:ok"), Button("Tidak", "lapor:no")],
                                     [Button("« Kembali", "menu:back")]])
    markup = _markup(reply)
    assert markup is not None
    assert _markup_json(reply) == markup.to_dict()
