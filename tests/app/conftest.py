"""Fixtures for the production-feature tests (PostgreSQL, workers, webhook mode, doctor)."""

from __future__ import annotations

from typing import Any

import pytest

PG_ONLY = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


@pytest.fixture(autouse=True)
def _restore_root_logging() -> Any:
    """``bot.__main__.main`` installs its JSON handler on the root logger; put pytest's back afterwards."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
