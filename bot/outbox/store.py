"""The one durable outbox: every outbound message is a row here before anything is sent.

Row life: ``pending`` → ``sending`` (claimed, with a lease) → ``sent`` | ``failed`` | ``blocked`` | ``unknown``,
or back to ``pending`` with a later ``next_attempt_at`` on a retryable error.

Every claim writes a fresh ``claim_token`` and every later write of that send's result requires it, so a
process whose lease expired (and whose row was recovered and claimed again) cannot record over the new claim.

A row whose request was written but never answered may or may not have reached the recipient: a crash while
sending (recovery, ``recover_expired``), a timeout or a connection lost after the request was written, or a
later part of a multi-part message failing after earlier parts were delivered. At-most-once purposes
(broadcast, reminder) then become ``unknown`` and are never re-sent, so nobody gets a broadcast twice;
everything else (tips, replies, relays) is re-sent, because losing an acknowledged tip is worse than a
visible duplicate carrying the same receipt code.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any
from typing import cast as type_cast

from sqlalchemy import String, Table, and_, bindparam, case, cast, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from bot.core.clock import utcnow
from bot.core.identity import Identity
from bot.core.model import Reply
from bot.outbox.ports import AT_MOST_ONCE, BULK, Claimed, OutboxStatus, Purpose
from bot.storage.db import insert_ignore, insert_ignore_returning, rowcount
from bot.storage.models import Outbox, Subscriber
from bot.storage.retention import redact_ephemeral

LEASE = timedelta(minutes=2)
OUTBOX = type_cast(Table, Outbox.__table__)  # the Core table, for bulk statements (typed as a Table)
_ENQUEUE = insert_ignore_returning(OUTBOX, "idem_key", OUTBOX.c.id)


class OutboxStore:
    def __init__(self, identity: Identity) -> None:
        self.identity = identity

    def row_values(
        self,
        *,
        channel: str,
        chat_id: str,
        reply: Reply,
        is_group: bool = False,
        purpose: str = Purpose.REPLY,
        idem_key: str | None = None,
        priority: int = 0,
        broadcast_id: int | None = None,
        tip_id: int | None = None,
        not_before: datetime | None = None,
    ) -> dict[str, Any]:
        now = utcnow()
        return {
            "channel": channel,
            "addr_key": self.identity.key("addr", channel, chat_id),
            "addr_enc": self.identity.seal(channel, chat_id),
            "is_group": is_group,
            "payload": reply.to_payload(),
            "purpose": str(purpose),
            "idem_key": idem_key,
            "priority": priority,
            "status": OutboxStatus.PENDING.value,
            "attempts": 0,
            "next_attempt_at": not_before or now,
            "broadcast_id": broadcast_id,
            "tip_id": tip_id,
            "created_at": now,
        }

    async def enqueue(self, session: AsyncSession, **kwargs: Any) -> None:
        """Add one message in the caller's transaction; a repeated ``idem_key`` is silently ignored."""
        await self.enqueue_many(session, [self.row_values(**kwargs)])

    async def enqueue_many(self, session: AsyncSession, rows: list[dict[str, Any]]) -> int:
        if not rows:
            return 0
        stmt = _ENQUEUE[session.get_bind().dialect.name]
        # one row (a reply): a plain execute, cheaper than the executemany path
        result = await session.execute(stmt, rows[0] if len(rows) == 1 else rows)
        return len(result.all())  # rows actually inserted (rowcount is -1 for executemany on asyncpg)

    async def enqueue_audience(
        self,
        session: AsyncSession,
        template: dict[str, Any],
        audience: ColumnElement[bool],
        idem_prefixes: tuple[str, str, int],
        *,
        after: int,
        limit: int,
    ) -> tuple[int, int, int | None]:
        """Copy the next ``limit`` subscribers matching ``audience`` (ids above ``after``) into outbox rows, inside
        the database (INSERT … SELECT: no row passes through Python, so the event loop is not held up).

        ``template`` gives every column but the address and the idempotency key; ``idem_prefixes`` is
        ``(prefix, hashed_prefix, max_len)``: a row's key is prefix + subscriber id, or hashed_prefix + id when
        that would be longer than max_len (``broadcasts.scheduler.idem_prefixes``). Existing keys are skipped.
        Returns (rows inserted, subscribers in this chunk, last subscriber id — None when none were left)."""
        ids = (
            select(Subscriber.id).where(audience, Subscriber.id > after).order_by(Subscriber.id).limit(limit)
        ).subquery()
        matched, last = (await session.execute(select(func.count(), func.max(ids.c.id)))).one()
        if last is None:
            return 0, 0, None
        prefix, hashed_prefix, max_len = idem_prefixes
        sid = cast(Subscriber.id, String)
        plain = literal(prefix, String) + sid
        key = case((func.length(plain) <= max_len, plain), else_=literal(hashed_prefix, String) + sid)
        t = OUTBOX
        fixed = {k: v for k, v in template.items() if k not in ("channel", "addr_key", "addr_enc", "idem_key")}
        columns = ["channel", "addr_key", "addr_enc", "idem_key", *fixed]
        source = select(
            Subscriber.channel,
            Subscriber.addr_key,
            Subscriber.addr_enc,
            key,
            *(literal(v, t.c[k].type) for k, v in fixed.items()),
        ).where(audience, Subscriber.id > after, Subscriber.id <= last)
        stmt = insert_ignore(session, t).from_select(columns, source)
        stmt = stmt.on_conflict_do_nothing(index_elements=["idem_key"])
        result = await session.execute(stmt)
        return rowcount(result), int(matched), int(last)

    # --- worker side ---------------------------------------------------------------------------
    async def due(self, session: AsyncSession, *, channels: list[str], limit: int, bulk: bool = True) -> list[Any]:
        """Pending rows due now, most urgent first (locked with SKIP LOCKED on PostgreSQL); ``bulk=False`` leaves
        out broadcasts and reminders.

        Returns light rows (id, channel, addr_key, is_group, attempts) — not ORM objects.
        """
        now = utcnow()
        stmt = (
            select(Outbox.id, Outbox.channel, Outbox.addr_key, Outbox.is_group, Outbox.attempts)
            .where(Outbox.status == OutboxStatus.PENDING, Outbox.next_attempt_at <= now, Outbox.channel.in_(channels),
                   *_bulk_filter(bulk))
            .order_by(Outbox.priority, Outbox.id)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        return list((await session.execute(stmt)).all())

    async def claim(self, session: AsyncSession, ids: list[int]) -> list[Claimed]:
        """Mark ``ids`` as sending — only those still pending (safe against a concurrent claimer)."""
        if not ids:
            return []
        now = utcnow()
        token = secrets.token_hex(16)
        t = OUTBOX
        result = await session.execute(
            update(t)
            .where(t.c.id.in_(ids), t.c.status == OutboxStatus.PENDING)
            .values(status=OutboxStatus.SENDING.value, lease_until=now + LEASE, attempts=t.c.attempts + 1,
                    claim_token=token)
            .returning(
                t.c.id, t.c.addr_enc, t.c.addr_key, t.c.is_group, t.c.payload, t.c.purpose, t.c.attempts,
                t.c.broadcast_id,
            )
        )
        claimed = []
        for r in result.all():
            channel, chat_id = self.identity.open(r.addr_enc)
            claimed.append(
                Claimed(
                    id=r.id, channel=channel, chat_id=chat_id, addr_key=r.addr_key, is_group=r.is_group,
                    payload=r.payload, purpose=r.purpose, attempts=r.attempts, broadcast_id=r.broadcast_id,
                    token=token,
                )
            )
        order = {oid: i for i, oid in enumerate(ids)}
        claimed.sort(key=lambda c: order[c.id])
        return claimed

    async def defer(self, session: AsyncSession, deferrals: list[tuple[int, datetime]]) -> None:
        """Move rows whose chat is rate limited to a later time (no attempt is counted)."""
        if not deferrals:
            return
        t = OUTBOX
        conn = await session.connection()
        await conn.execute(
            update(t)
            .where(t.c.id == bindparam("oid"), t.c.status == OutboxStatus.PENDING)
            .values(next_attempt_at=bindparam("at")),
            [{"oid": oid, "at": at} for oid, at in deferrals],
        )

    async def mark_sent(self, session: AsyncSession, sent: list[tuple[int, str, str | None]]) -> None:
        """``sent``: (outbox id, claim token, external id) — a row re-claimed meanwhile is left alone."""
        if not sent:
            return
        t = OUTBOX
        conn = await session.connection()
        await conn.execute(
            update(t)
            .where(t.c.id == bindparam("oid"), t.c.status == OutboxStatus.SENDING, t.c.claim_token == bindparam("tok"))
            .values(status=OutboxStatus.SENT.value, sent_at=utcnow(), external_id=bindparam("ext"), lease_until=None,
                    last_error=None),
            [{"oid": oid, "tok": tok, "ext": ext} for oid, tok, ext in sent],
        )
        await redact_ephemeral(session, [oid for oid, _, _ in sent])  # e.g. the answer to /hapus

    async def next_due_at(self, session: AsyncSession, channels: list[str], *, bulk: bool = True) -> datetime | None:
        return await session.scalar(
            select(func.min(Outbox.next_attempt_at)).where(
                Outbox.status == OutboxStatus.PENDING, Outbox.channel.in_(channels), *_bulk_filter(bulk)
            )
        )

    async def recover_expired(self, session: AsyncSession, *, all_leases: bool = False) -> dict[str, int]:
        """Resolve rows left in ``sending`` by a crashed worker (see module docstring).

        ``all_leases=True``: every ``sending`` row is stale, leased or not — only for a caller that knows no
        other process is sending (SQLite at start-up: a single sending process by design)."""
        now = utcnow()
        stale = (Outbox.status == OutboxStatus.SENDING) if all_leases else and_(
            Outbox.status == OutboxStatus.SENDING, or_(Outbox.lease_until.is_(None), Outbox.lease_until < now)
        )
        unknown = (await session.execute(
            update(Outbox)
            .where(stale, Outbox.purpose.in_([str(p) for p in AT_MOST_ONCE]))
            .values(status=OutboxStatus.UNKNOWN.value, last_error="crash while sending: not re-sent", claim_token=None)
            .returning(Outbox.id)
        )).scalars().all()
        await redact_ephemeral(session, list(unknown))  # finished now: wiped if /hapus marked them
        resend = await session.execute(
            update(Outbox).where(stale).values(
                status=OutboxStatus.PENDING.value, next_attempt_at=now, lease_until=None, claim_token=None
            )
        )
        return {"unknown": len(unknown), "resend": rowcount(resend)}

    async def counts(self, session: AsyncSession, *, broadcast_id: int) -> dict[str, int]:
        rows = await session.execute(
            select(Outbox.status, func.count())
            .where(Outbox.broadcast_id == broadcast_id)
            .group_by(Outbox.status)
        )
        return {status: int(n) for status, n in rows.all()}


def _bulk_filter(bulk: bool) -> tuple[ColumnElement[bool], ...]:
    """No condition, or one that leaves out broadcasts and reminders."""
    return () if bulk else (Outbox.purpose.not_in([str(p) for p in BULK]),)
