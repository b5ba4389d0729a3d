"""The anonymity audit: the reporter identifiers used by the reliability suite, and a scanner.

Every reporter in this suite uses identifiers from THIS module only, so the audit knows what to look for:
Telegram user ids, usernames, first/last names, WhatsApp numbers. ``scan`` finds any of them (also in
common spellings: without "+", with the "whatsapp:" prefix) in outbound messages, log output and exports;
``scan_database`` reads every table and column of the database, opening sealed values with the bot's key.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterable
from typing import Any

# --- the identifiers (the ONE place that lists them) --------------------------------------------------
REPORTER_ID = 987654321987  # a distinctive Telegram user id (13 digits, never a count or a timestamp)
REPORTER_ID_BASE = 987654321000  # crash / load scenarios: reporter i has id REPORTER_ID_BASE + i (i < 1000)
USERNAME = "pelapor_rahasia_xyz"
FIRST_NAME = "Siti"
LAST_NAME = "Rahasiawati"
FULL_NAME = "Siti Rahasiawati"
WHATSAPP_NUMBER = "+6281298765432"

IDENTIFIERS: tuple[str, ...] = (
    str(REPORTER_ID),
    USERNAME,
    LAST_NAME,  # "Siti" alone is too common a word to be a finding; the surname is distinctive
    FULL_NAME,
    WHATSAPP_NUMBER,
    WHATSAPP_NUMBER.lstrip("+"),
    "81298765432",  # the national part, as it may be reformatted
)


def reporter_ids(n: int) -> list[int]:
    assert n <= 1000
    return [REPORTER_ID_BASE + i for i in range(n)]


def identifiers_for(ids: Iterable[int] = ()) -> tuple[str, ...]:
    """The fixed identifiers plus the scenario's numeric reporter ids."""
    return IDENTIFIERS + tuple(str(i) for i in ids)


# --- scanning ----------------------------------------------------------------------------------------
def scan(text: str, identifiers: Iterable[str] = IDENTIFIERS, *, where: str = "") -> list[str]:
    """Findings ("where: identifier") for every identifier contained in ``text`` (case-insensitive)."""
    low = text.lower()
    return [f"{where}: {ident!r}" for ident in identifiers if ident.lower() in low]


def _bytes_text(data: bytes) -> str:
    for enc in ("utf-8", "utf-16"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


# Parameters that address the message (the reporter's own chat when the bot answers them): not content.
_ADDRESS_PARAMS = {"chat_id", "user_id", "offset", "timeout", "limit", "allowed_updates"}


def scan_calls(calls: Iterable[Any], identifiers: Iterable[str] = IDENTIFIERS) -> list[str]:
    """Every recorded Bot API call (``RecordedCall``): all parameters except the address, the names and
    bytes of uploaded files. getUpdates RESULTS are inbound (they carry the names by nature) and skipped."""
    idents = tuple(identifiers)
    found: list[str] = []
    for call in calls:
        params = {k: v for k, v in call.params.items() if k not in _ADDRESS_PARAMS}
        where = f"{call.method}#{call.seq}"
        found += scan(json.dumps(params, ensure_ascii=False), idents, where=where)
        for f in call.files.values():
            found += scan(f"{f.filename or ''}\n{_bytes_text(f.data)}", idents, where=f"{where} file {f.filename}")
    return found


def scan_records(records: Iterable[logging.LogRecord], identifiers: Iterable[str] = IDENTIFIERS) -> list[str]:
    """Log records: the message, every extra attribute and the formatted traceback."""
    idents = tuple(identifiers)
    found: list[str] = []
    for rec in records:
        parts = [rec.getMessage()]
        parts += [f"{k}={v!r}" for k, v in vars(rec).items() if k not in ("msg", "args", "exc_info")]
        if rec.exc_info and rec.exc_info[1] is not None:
            parts.append(repr(rec.exc_info[1]))
        found += scan("\n".join(parts), idents, where=f"log {rec.name}:{rec.levelname}")
    return found


def scan_b64(data_b64: str, identifiers: Iterable[str] = IDENTIFIERS, *, where: str = "") -> list[str]:
    return scan(_bytes_text(base64.b64decode(data_b64)), identifiers, where=where)


# --- the database ------------------------------------------------------------------------------------
FERNET_PREFIX = "gAAAAA"  # every Fernet token starts with version byte 0x80 + timestamp: base64 "gAAAAA"


def _cell_text(value: Any, opener: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray | memoryview):
        return _bytes_text(bytes(value))
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if opener is not None and FERNET_PREFIX in text:
        opened = []
        for token in text.replace('"', " ").split():
            if token.startswith(FERNET_PREFIX):
                try:
                    opened.append(":".join(opener(token)))
                except ValueError:
                    opened.append("<sealed with another key>")
        text += "\n" + "\n".join(opened)
    return text


async def scan_database(sessions: Any, identifiers: Iterable[str] = IDENTIFIERS, *, identity: Any = None,
                        skip: Iterable[tuple[str, str]] = ()) -> list[str]:
    """Every table and column of the database (reflected, so a new table cannot be missed), with every sealed
    value (Fernet token) opened with ``identity`` (the configured key). ``skip``: (table, column) pairs."""
    import sqlalchemy as sa

    idents = tuple(identifiers)
    skipped = set(skip)
    opener = identity.open if identity is not None else None
    found: list[str] = []
    async with sessions() as s:
        conn = await s.connection()
        meta = sa.MetaData()
        await conn.run_sync(lambda c: meta.reflect(c))
        assert meta.tables, "no tables reflected"
        for table in meta.sorted_tables:
            rows = (await conn.execute(sa.select(table))).mappings().all()
            for n, row in enumerate(rows):
                for col, value in row.items():
                    if (table.name, col) in skipped:
                        continue
                    found += scan(_cell_text(value, opener), idents, where=f"db {table.name}.{col} row {n}")
    return found
