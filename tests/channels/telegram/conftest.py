"""Fixtures for end-to-end tests through the fake Telegram Bot API server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.fakes.telegram_server import FakeTelegramServer
from tests.support.telegram_harness import TelegramHarness, telegram_overrides

ADMIN_ID = 4242


@pytest.fixture
async def telegram(make_settings: Any, tg_server: FakeTelegramServer) -> AsyncIterator[TelegramHarness]:
    settings = make_settings(**telegram_overrides(tg_server, admin_ids=[ADMIN_ID]))
    harness = TelegramHarness(settings, tg_server)
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()
