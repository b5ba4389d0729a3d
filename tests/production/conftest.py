"""Fixtures for the production-feature tests (PostgreSQL, workers, webhook mode, migrations)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

PG_ONLY = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with no tables at all (not from the migrated template)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    server: Any = request.getfixturevalue("pg_server")
    return str(server.create_database(f"e_{uuid.uuid4().hex[:12]}"))


@pytest.fixture(autouse=True)
def _restore_root_logging() -> Any:
    """``bot.__main__.main`` installs its JSON handler on the root logger; put pytest's back afterwards."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
