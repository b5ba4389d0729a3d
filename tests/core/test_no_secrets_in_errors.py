"""Error texts that reach logs carry neither SQL parameters nor the bot token."""

from __future__ import annotations

import traceback

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from telegram.error import NetworkError

from bot.channels.telegram_http import AiohttpRequest
from bot.storage.db import create_engine

TOKEN = "123456:SANGAT-RAHASIA-token"


async def test_database_errors_hide_bound_parameters(tmp_path: object) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/e.db")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (v TEXT UNIQUE)"))
            await conn.execute(text("INSERT INTO t VALUES (:v)"), {"v": "Siti Rahasiawati"})
        with pytest.raises(IntegrityError) as err:
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO t VALUES (:v)"), {"v": "Siti Rahasiawati"})
    finally:
        await engine.dispose()
    assert "Rahasiawati" not in str(err.value) and "hidden due to hide_parameters" in str(err.value)


@pytest.mark.parametrize("url", [
    f"http://[::1/bot{TOKEN}/getMe",  # aiohttp's InvalidURL repeats the URL
    f"http://127.0.0.1:1/bot{TOKEN}/getMe",  # nothing listens on port 1: connection refused
])
async def test_network_errors_name_the_type_only(url: str) -> None:
    request = AiohttpRequest()
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as err:
            await request.do_request(url, "POST")
    finally:
        await request.shutdown()
    logged = "".join(traceback.format_exception(err.value))  # what log.exception would write
    assert str(err.value).startswith("aiohttp.") and "RAHASIA" not in logged
