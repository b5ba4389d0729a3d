"""Shared fixtures: settings, a migrated database per test (SQLite and PostgreSQL), runtimes."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings, load_settings
from bot.core.clock import set_clock

TEST_SECRET = "test-secret-key-0123456789-abcdefghijklmnop"
DB_KINDS = [k.strip() for k in os.environ.get("JAGANETRAL_TEST_DB", "sqlite,postgresql").split(",") if k.strip()]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="run the long reliability variants")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="long variant: use --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


# --- databases ----------------------------------------------------------------------------------

async def _migrate(url: str) -> None:
    from bot.storage.db import create_engine
    from bot.storage.migrate import upgrade

    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tpl") / "template.db"
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    from tests.support.pg_server import ExternalPostgres, PostgresUnavailable, TempPostgres

    url = os.environ.get("JAGANETRAL_TEST_PG_URL")
    if url:
        external = ExternalPostgres(url)
        try:
            yield external
        finally:
            external.stop()
        return
    server = TempPostgres()
    try:
        server.start()
    except PostgresUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI: {exc}")
        pytest.skip(f"PostgreSQL not available: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_template(pg_server: Any) -> Any:
    url = pg_server.create_database("jn_template")
    asyncio.run(_migrate(url))
    return pg_server


@pytest.fixture(params=DB_KINDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    server = request.getfixturevalue("pg_template")
    return str(server.create_database(f"t_{uuid.uuid4().hex[:12]}", template="jn_template"))


@pytest.fixture
def make_settings(db_url: str) -> Any:
    def make(**overrides: Any) -> Settings:
        base: dict[str, Any] = {
            "database": {"url": db_url},
            "security": {"secret_key": TEST_SECRET},
        }
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                base[key] = {**base[key], **value}
            else:
                base[key] = value
        return load_settings(None, **base)

    return make


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    return make_settings()


@pytest.fixture(autouse=True)
def _real_clock() -> Iterator[None]:
    yield
    set_clock(None)


@pytest.fixture
async def tg_server() -> AsyncIterator[Any]:
    """A fake Telegram Bot API server on 127.0.0.1 (tests/support/fakes/telegram_server.py)."""
    from tests.support.fakes.telegram_server import FakeTelegramServer

    server = FakeTelegramServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def tipcon(make_settings: Any) -> AsyncIterator[Any]:
    """A tips console harness (``tests.handlers.tips.conftest.TipConsole``) with the test Bawaslu groups."""
    from tests.handlers.tips.conftest import GROUPS, TipConsole

    harness = TipConsole(make_settings(bawaslu_groups=GROUPS, console_admin=False))
    try:
        yield harness
    finally:
        await harness.close()


@pytest.fixture
async def console(settings: Settings) -> AsyncIterator[Any]:
    from tests.support.helpers import ConsoleHarness

    harness = ConsoleHarness(settings)
    try:
        yield harness
    finally:
        await harness.close()


@pytest.fixture(autouse=True)
def _restore_root_logging() -> Any:
    """``bot.__main__.main`` (called in-process by some tests) installs its JSON handler on the root logger and sets
    library log levels; put pytest's handlers and the levels back afterwards, for every test."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
