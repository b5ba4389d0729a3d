"""Twilio answers that say the bot's own credentials are wrong (through the real TwilioSender and webhook)."""

from __future__ import annotations

import logging
from typing import Any

from bot.core.model import Reply
from tests.channels.whatsapp.conftest import NUMBER, USER, WhatsAppHarness


async def test_rejected_credentials_keep_the_message_for_a_retry(wa: WhatsAppHarness, caplog: Any) -> None:
    """Twilio's 401 (code 20003: wrong auth token or account SID, e.g. a token rotated in the console) says
    nothing about the message, yet it was failed for good like a bad number: every reply, broadcast and tip
    notice sent until the operator fixed the token was lost. It is retried (like a rejected Telegram token)
    and an error names the cause."""
    assert wa.rt is not None
    await wa.say("/start")
    caplog.set_level(logging.INFO)
    wa.twilio.reject_next(2, code=20003, status=401)
    async with wa.rt.services.sessions() as s, s.begin():
        await wa.rt.services.outbox.enqueue(s, channel="whatsapp", chat_id=NUMBER, reply=Reply(text="Jawaban"),
                                            purpose="reply", idem_key="cred:1")
    wa.rt.worker.notify()
    await wa.rt.worker.drain(timeout=30, retries=True)
    row = await wa.outbox_row(idem_key="cred:1")
    assert row.status == "sent"
    assert [m.body for m in wa.to_user(USER)][-1] == "Jawaban"
    assert len([r for r in wa.twilio.requests if r.code == 20003]) == 2
    assert any(r.levelno == logging.ERROR and "credentials" in r.getMessage() for r in caplog.records)
