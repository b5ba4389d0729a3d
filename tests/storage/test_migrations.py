"""Alembic: migrations build the schema the models describe, on SQLite and PostgreSQL, and keep data.

* upgrade from an empty database to head, then ``compare_metadata`` (what ``alembic check`` does): no
  pending autogenerate difference between ``bot/storage/models.py`` and ``migrations/versions``;
* for every revision R with a parent P: upgrade to P, put one generic row (built from the column types)
  in every table, upgrade to R, the rows are still there;
* downgrade to base leaves no table behind, and upgrading again works.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from bot.storage.db import create_engine
from bot.storage.migrate import alembic_config
from bot.storage.models import Base

VERSION_TABLE = "alembic_version"


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite://"))


def revision_pairs() -> list[tuple[str, str]]:
    """(parent, revision) for every revision that has a parent (merge revisions: one pair per parent)."""
    pairs = []
    for rev in _script().walk_revisions():
        downs = rev.down_revision
        for parent in (downs,) if isinstance(downs, str) else (downs or ()):
            pairs.append((parent, rev.revision))
    return sorted(pairs)


PAIRS = revision_pairs()
PAIR_PARAMS = [pytest.param(p, r, id=f"{p}->{r}") for p, r in PAIRS] or [
    pytest.param(None, None, marks=pytest.mark.skip(reason="only one revision so far: no upgrade pair to test"))
]


async def _on(url: str, fn: Callable[[Connection], Any]) -> Any:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            return await conn.run_sync(fn)
    finally:
        await engine.dispose()


def _alembic(url: str, action: str, revision: str) -> Callable[[Connection], None]:
    def run(conn: Connection) -> None:
        cfg = alembic_config(url)
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, revision)

    return run


def _tables(conn: Connection) -> set[str]:
    return set(sa.inspect(conn).get_table_names()) - {VERSION_TABLE}


def _diff(conn: Connection) -> list[Any]:
    ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": False})
    return list(compare_metadata(ctx, Base.metadata))


# --- generic data ---------------------------------------------------------------------------------

def generic_value(column: sa.Column[Any]) -> Any:
    """A plausible value for ``column`` from its (reflected) type alone."""
    typ = column.type
    if isinstance(typ, sa.Boolean):
        return False
    if isinstance(typ, sa.DateTime):
        return datetime(2024, 2, 14, 1, 2, 3, tzinfo=UTC if typ.timezone else None)
    if isinstance(typ, sa.Date):
        return date(2024, 2, 14)
    if isinstance(typ, sa.Time):
        return time(1, 2, 3)
    if isinstance(typ, sa.Interval):
        return timedelta(hours=1)
    if isinstance(typ, sa.JSON):
        return {"k": "v"}
    if isinstance(typ, sa.LargeBinary):
        return b"\x00data"
    if isinstance(typ, sa.Uuid):
        return uuid.UUID(int=1)
    if isinstance(typ, sa.Integer):
        return 1
    if isinstance(typ, sa.Numeric):
        return Decimal("1.5") if getattr(typ, "asdecimal", False) else 1.5
    if isinstance(typ, sa.String):  # String, Text, VARCHAR, CHAR …
        return "x" * min(getattr(typ, "length", None) or 8, 8)
    raise NotImplementedError(f"no generic value for {column.table.name}.{column.name}: {typ!r}")


def insert_generic_rows(conn: Connection) -> dict[str, int]:
    """One row in every table (parents first; foreign keys point at the parent's row); returns counts."""
    meta = sa.MetaData()
    meta.reflect(conn)
    inserted: dict[str, dict[str, Any]] = {}
    for table in meta.sorted_tables:
        if table.name == VERSION_TABLE:
            continue
        row: dict[str, Any] = {}
        for col in table.columns:
            fk = next(iter(col.foreign_keys), None)
            if fk is not None and fk.column.table.name in inserted:
                row[col.name] = inserted[fk.column.table.name][fk.column.name]
            else:
                row[col.name] = generic_value(col)
        conn.execute(table.insert().values(row))
        inserted[table.name] = row
    return _counts(conn)


def _counts(conn: Connection) -> dict[str, int]:
    return {
        name: int(conn.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar_one())
        for name in sorted(_tables(conn))
    }


# --- tests ----------------------------------------------------------------------------------------

async def test_upgrade_from_empty_matches_the_models(empty_db_url: str) -> None:
    assert await _on(empty_db_url, _tables) == set()
    await _on(empty_db_url, _alembic(empty_db_url, "upgrade", "head"))
    assert await _on(empty_db_url, _tables) == set(Base.metadata.tables)
    head = _script().get_current_head()
    assert await _on(empty_db_url, lambda c: MigrationContext.configure(c).get_current_revision()) == head
    diff = await _on(empty_db_url, _diff)
    assert diff == [], "models and migrations disagree (regenerate or add a migration):\n" + "\n".join(map(str, diff))


async def test_downgrade_to_base_and_up_again(empty_db_url: str) -> None:
    await _on(empty_db_url, _alembic(empty_db_url, "upgrade", "head"))
    await _on(empty_db_url, _alembic(empty_db_url, "downgrade", "base"))
    assert await _on(empty_db_url, _tables) == set()
    await _on(empty_db_url, _alembic(empty_db_url, "upgrade", "head"))
    assert await _on(empty_db_url, _tables) == set(Base.metadata.tables)
    assert await _on(empty_db_url, _diff) == []


async def test_generic_rows_fit_every_table_at_head(empty_db_url: str) -> None:
    """The data generator used for upgrade pairs works on today's schema (so it is ready for the next one)."""
    await _on(empty_db_url, _alembic(empty_db_url, "upgrade", "head"))
    counts = await _on(empty_db_url, insert_generic_rows)
    assert counts == dict.fromkeys(sorted(Base.metadata.tables), 1)


@pytest.mark.parametrize(("parent", "revision"), PAIR_PARAMS)
async def test_upgrade_from_previous_revision_keeps_data(empty_db_url: str, parent: str, revision: str) -> None:
    await _on(empty_db_url, _alembic(empty_db_url, "upgrade", parent))
    before = await _on(empty_db_url, insert_generic_rows)
    await _on(empty_db_url, _alembic(empty_db_url, "upgrade", revision))
    after = await _on(empty_db_url, _counts)
    kept = {name: after[name] for name in before if name in after}
    assert kept == {name: before[name] for name in kept}, f"rows lost by {parent} -> {revision}"


def test_revision_graph_has_a_single_head() -> None:
    heads = _script().get_heads()
    assert len(heads) == 1, f"several heads (merge them): {heads}"
    assert all(p != r for p, r in PAIRS)
