"""Fixtures for the storage tests (migrations)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with no tables at all (not from the migrated template)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    server: Any = request.getfixturevalue("pg_server")
    return str(server.create_database(f"e_{uuid.uuid4().hex[:12]}"))
