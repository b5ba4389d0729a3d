"""Bad input on the Telegram webhook (``serve()`` with uvicorn, against the fake Bot API)."""

from __future__ import annotations

import logging
from typing import Any

from tests.support.bad_updates import SECRET_NAME, SECRET_PHONE, unreadable_update
from tests.support.fakes.telegram_server import FakeTelegramServer, make_message
from tests.support.webhook_harness import Served


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
