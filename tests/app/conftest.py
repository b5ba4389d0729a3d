"""Fixtures for the production-feature tests (PostgreSQL, workers, webhook mode, doctor)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from bot.config import Settings
from tests.support.fakes.telegram_server import FakeTelegramServer
from tests.support.webhook_harness import Served, serve_webhook

PG_ONLY = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


@pytest.fixture
async def served(make_settings: Callable[..., Settings], tg_server: FakeTelegramServer) -> AsyncIterator[Served]:
    """The bot in Telegram webhook mode, served in-process against the fake Bot API."""
    async for s in serve_webhook(make_settings, tg_server):
        yield s
