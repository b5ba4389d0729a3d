"""Fixtures for the production-feature tests (PostgreSQL, workers, webhook mode, doctor)."""

from __future__ import annotations

import pytest

PG_ONLY = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
