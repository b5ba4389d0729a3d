"""Retention of personal data in generic tables, and redaction of sent outbox rows.

What the bot holds about a person is only what it needs to finish the job at hand. Once a message has been
sent, its outbox row keeps its status (for delivery reports) but loses everything that names the recipient
or the content: ``redact`` wipes the sealed address, the address pseudonym, the payload and the platform's
message id (a Twilio SID or a Telegram message id can be traced back to the chat by the platform).

* ``redact_outbox(session, where)``: redact every finished row matching ``where``;
* ephemeral rows (``idem_key`` starting with ``EPHEMERAL``, see ``ephemeral_key``) are redacted the moment
  their send's result is recorded (``redact_ephemeral``, called by ``OutboxStore.mark_sent`` and by the
  delivery worker's recording of every other result): e.g. the answer to /hapus, and everything /hapus found
  still queued or in flight (``make_ephemeral``). A row to a person is redacted whatever its send ended in
  (sent, failed, blocked, unknown, dead); a row to a group only once sent (a failed copy of a tip stays for
  the delivery watch, and names no reporter);
* ``purge(session, now, cfg)``: the hourly retention run (``[retention]`` in the configuration): sent outbox
  rows, processed update ids, idle conversations (abandoned drafts, button memory), chat windows, rate
  counters, generated exports and old unanswered questions.

The tip-specific purge (reply addresses and reporter pseudonyms of closed tips) is
``handlers.tips.store.purge_expired``.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, String, and_, delete, func, literal, or_, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import RetentionConfig
from bot.storage.db import rowcount
from bot.storage.models import (
    ChatWindow,
    Conversation,
    Outbox,
    ProcessedUpdate,
    RateCounter,
    TipMedia,
    UnansweredQuestion,
)

log = logging.getLogger(__name__)

EPHEMERAL = "eph:"  # idem_key prefix: redact this row as soon as it is sent
FINISHED = ("sent", "failed", "blocked", "unknown", "dead")  # outbox statuses that are never sent again
REDACTED: dict[str, Any] = {"redacted": True}
CHAT_WINDOW_HOURS = 48  # WhatsApp's customer-service window is 24 h: older entries are useless
RATE_COUNTER_DAYS = 2  # counters are per day; only today's is read




def ephemeral_key() -> str:
    """A fresh idempotency key marking a message whose outbox copy is wiped once it is sent."""
    return f"{EPHEMERAL}{secrets.token_hex(12)}"


def redacted_values() -> dict[str, Any]:
    return {"addr_enc": "", "addr_key": "", "payload": dict(REDACTED), "external_id": None}


def not_redacted() -> ColumnElement[bool]:
    return Outbox.addr_enc != ""


def idem_key_is(key: str) -> ColumnElement[bool]:
    """The row whose idempotency key is ``key``, also once ``make_ephemeral`` marked it (``eph:o:<id>:<key>``).
    Combine it with an indexed condition (e.g. the tip id): the marked form is matched by suffix."""
    return or_(Outbox.idem_key == key,
               and_(Outbox.idem_key.startswith(f"{EPHEMERAL}o:"), Outbox.idem_key.endswith(f":{key}", autoescape=True)))


async def redact_outbox(session: AsyncSession, where: ColumnElement[bool]) -> int:
    """Wipe address, payload and platform id of every finished outbox row matching ``where``."""
    result = await session.execute(
        update(Outbox)
        .where(Outbox.status.in_(FINISHED), not_redacted(), where)
        .values(**redacted_values())
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


async def make_ephemeral(session: AsyncSession, where: ColumnElement[bool]) -> int:
    """Every not yet redacted row matching ``where`` — whatever its status: queued, in flight (``sending``),
    finished — is redacted once its send's result is recorded (its idem_key gets the ``EPHEMERAL`` prefix).

    Call it BEFORE ``redact_outbox`` on the same rows, in the same transaction. A send whose result is
    recorded concurrently (another transaction; PostgreSQL, READ COMMITTED) then cannot slip between the two:
    either the recording comes first and the redaction sees the row finished, or the mark comes first (it
    locks the row until commit) and the recording, which waits for that lock, redacts it. Marking only rows
    not finished yet, or redacting first, leaves a row recorded in between with its address intact."""
    key = func.coalesce(Outbox.idem_key, "")
    marked = literal(f"{EPHEMERAL}o:", String) + sql_cast(Outbox.id, String) + ":" + key
    result = await session.execute(
        update(Outbox)
        .where(not_redacted(), where, ~key.startswith(EPHEMERAL))
        .values(idem_key=func.substr(marked, 1, 128))
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


async def redact_ephemeral(session: AsyncSession, ids: list[int]) -> None:
    """Called when the results of ``ids``' sends were recorded: redact the ephemeral ones among them that are
    finished — sent, or (a row to a person, not a group) ended in any other final status."""
    if not ids:
        return
    await session.execute(
        update(Outbox)
        .where(Outbox.id.in_(ids), not_redacted(), Outbox.idem_key.startswith(EPHEMERAL),
               or_(Outbox.status == "sent", and_(Outbox.status.in_(FINISHED), Outbox.is_group.is_(False))))
        .values(**redacted_values())
        .execution_options(synchronize_session=False)
    )


async def purge(session: AsyncSession, now: datetime, cfg: RetentionConfig) -> dict[str, int]:
    """One retention run; returns how many rows each rule touched. Run in one transaction."""
    done: dict[str, int] = {}
    sent_before = now - timedelta(days=cfg.outbox_days)
    done["outbox_redacted"] = await redact_outbox(
        session, func.coalesce(Outbox.sent_at, Outbox.created_at) <= sent_before
    )
    done["processed_updates"] = await _delete(
        session, ProcessedUpdate, ProcessedUpdate.created_at <= now - timedelta(days=cfg.processed_updates_days)
    )
    done["conversations"] = await _delete(
        session, Conversation, Conversation.updated_at <= now - timedelta(days=cfg.drafts_days)
    )
    done["chat_windows"] = await _delete(
        session, ChatWindow, ChatWindow.last_inbound_at <= now - timedelta(hours=CHAT_WINDOW_HOURS)
    )
    oldest_day = (now - timedelta(days=RATE_COUNTER_DAYS)).date().isoformat()
    done["rate_counters"] = await _delete(session, RateCounter, RateCounter.day < oldest_day)
    old_export = and_(TipMedia.tip_id.is_(None), TipMedia.created_at <= now - timedelta(days=cfg.exports_days))
    done["exports"] = await _delete(session, TipMedia, old_export)
    done["unanswered"] = await _delete(
        session, UnansweredQuestion, UnansweredQuestion.last_seen <= now - timedelta(days=cfg.unanswered_days)
    )
    if any(done.values()):
        log.info("retention purge", extra={k: v for k, v in done.items() if v})
    return done


async def _delete(session: AsyncSession, model: Any, where: ColumnElement[bool]) -> int:
    result = await session.execute(delete(model).where(where).execution_options(synchronize_session=False))
    return rowcount(result)
