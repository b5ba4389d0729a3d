"""Bad input on the Telegram webhook (``serve()`` with uvicorn, against the fake Bot API)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest

from bot.app.serve import serve
from bot.app.startup import StartupError
from bot.config import Settings
from tests.support.bad_updates import SECRET_NAME, SECRET_PHONE, unreadable_update
from tests.support.fakes.telegram_server import FakeTelegramServer, make_message
from tests.support.telegram_harness import telegram_overrides
from tests.support.webhook_harness import SECRET, Served, free_port


async def test_an_update_the_library_cannot_read_is_acknowledged_and_skipped(
    served: Served, tg_server: FakeTelegramServer, caplog: Any
) -> None:
    """An update PTB cannot build made the webhook answer 500: Telegram re-sends an unacknowledged update again
    and again, holding up the updates behind it. It is answered 200, skipped and logged by its id only."""
    caplog.set_level(logging.DEBUG)
    bad = unreadable_update(5101)
    bad["update_id"] = 770001
    assert await served.post_update(bad) == 200
    assert any(getattr(r, "update_id", None) == 770001 for r in caplog.records)
    assert not any(SECRET_NAME in r.getMessage() or SECRET_PHONE in r.getMessage() for r in caplog.records)
    assert await served.post_update(make_message(5102, 5102, "/start")) == 200
    await tg_server.wait_for(lambda c: str(c.chat_id) == "5102" and "JagaNetral" in (c.text or ""), timeout=10)


async def test_a_webhook_telegram_refuses_is_named_at_start(
    make_settings: Callable[..., Settings], tg_server: FakeTelegramServer
) -> None:
    """setWebhook refused with 400 (here: a host Telegram cannot resolve) was reported as "Cannot reach Telegram
    ... check the network": the start now says what Telegram answered."""
    settings = make_settings(
        **telegram_overrides(tg_server, mode="webhook", webhook_url="https://bot.example.org/telegram",
                             webhook_secret=SECRET),
        web={"host": "127.0.0.1", "port": free_port()},
    )
    tg_server.fail_next(1, status=400, methods=["setWebhook"],
                        description="Bad Request: bad webhook: Failed to resolve host: Name or service not known")
    with pytest.raises(StartupError) as err:
        await serve(settings, asyncio.Event())
    message = str(err.value)
    assert "Cannot reach" not in message
    assert "Telegram refused" in message and "failed to resolve host" in message.lower()
    assert "telegram.webhook_url" in message
