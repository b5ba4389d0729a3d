"""SQLAlchemy 2 ORM models: every durable thing the bot keeps.

Personal identifiers never appear in clear text here: a person's channel address is stored as a keyed
HMAC (``*_key``, for lookups and rate limits) and, where the bot must write back, Fernet-encrypted
(``*_enc``). See ``bot/core/identity.py``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from bot.core.clock import utcnow


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        from datetime import UTC

        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        from datetime import UTC

        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Conversation(Base):
    """Per (channel, chat, user) flow state, so a half-finished flow survives a restart."""

    __tablename__ = "conversations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conv_key: Mapped[str] = mapped_column(String(64), unique=True)
    flow: Mapped[str | None] = mapped_column(String(32))
    step: Mapped[str | None] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProcessedUpdate(Base):
    """Inbound update ids already handled (a redelivered update is not processed twice)."""

    __tablename__ = "processed_updates"
    key: Mapped[str] = mapped_column(String(96), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Subscriber(Base):
    __tablename__ = "subscribers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    addr_key: Mapped[str] = mapped_column(String(64), unique=True)
    addr_enc: Mapped[str] = mapped_column(Text)
    region_code: Mapped[str] = mapped_column(String(16), index=True)
    role: Mapped[str] = mapped_column(String(8))  # asn | publik
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    last_inbound_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChatWindow(Base):
    """Last inbound message time per address (WhatsApp 24-hour customer-service window)."""

    __tablename__ = "chat_windows"
    addr_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_inbound_at: Mapped[datetime] = mapped_column()


class Outbox(Base):
    """Every outbound message, durable until sent. One row per (message, recipient)."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    addr_key: Mapped[str] = mapped_column(String(64))
    addr_enc: Mapped[str] = mapped_column(Text)
    is_group: Mapped[bool] = mapped_column(Boolean, default=False)
    payload: Mapped[dict[str, Any]] = mapped_column()
    purpose: Mapped[str] = mapped_column(String(16), default="reply")
    idem_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column()
    claim_token: Mapped[str | None] = mapped_column(String(32))  # set per claim: fences late writers
    alerted_at: Mapped[datetime | None] = mapped_column()  # admins were told (dead letter, failed/stuck tip)
    last_error: Mapped[str | None] = mapped_column(String(200))
    external_id: Mapped[str | None] = mapped_column(String(64), index=True)
    platform_status: Mapped[str | None] = mapped_column(String(16))  # e.g. Twilio delivered/undelivered
    broadcast_id: Mapped[int | None] = mapped_column(ForeignKey("broadcasts.id"), index=True)
    tip_id: Mapped[int | None] = mapped_column(ForeignKey("tips.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (Index("ix_outbox_due", "status", "priority", "id"),)


class Tip(Base):
    __tablename__ = "tips"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    region_code: Mapped[str] = mapped_column(String(16), index=True)
    category: Mapped[str] = mapped_column(String(32))
    who: Mapped[str] = mapped_column(Text, default="")
    place_time: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text)
    links: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(24), default="diterima")
    channel: Mapped[str] = mapped_column(String(16))
    reporter_key: Mapped[str] = mapped_column(String(64), index=True)  # "" once purged
    reply_enc: Mapped[str | None] = mapped_column(Text)
    group_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()
    purge_after: Mapped[datetime | None] = mapped_column()


class TipMedia(Base):
    __tablename__ = "tip_media"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tip_id: Mapped[int | None] = mapped_column(ForeignKey("tips.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # photo | document | video
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    content_type: Mapped[str] = mapped_column(String(64), default="application/octet-stream")
    filename: Mapped[str] = mapped_column(String(64), default="bukti")
    size: Mapped[int] = mapped_column(Integer, default=0)
    sha256_original: Mapped[str] = mapped_column(String(64))
    stripped: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TipEvent(Base):
    """Status changes and relayed questions/answers of a tip (no identities)."""

    __tablename__ = "tip_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # status | question | answer | deleted
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UnansweredQuestion(Base):
    __tablename__ = "unanswered_questions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    normalized: Mapped[str] = mapped_column(String(300), unique=True)
    text: Mapped[str] = mapped_column(String(500))
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)
    resolved: Mapped[bool] = mapped_column(Boolean, default=False)
    # when an admin last marked it handled (/pertanyaan selesai N); asked again unanswered -> listed again
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)


class Broadcast(Base):
    __tablename__ = "broadcasts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    audience: Mapped[str] = mapped_column(String(16))  # all | region | asn
    region_code: Mapped[str | None] = mapped_column(String(16))
    role: Mapped[str | None] = mapped_column(String(8))
    scheduled_at: Mapped[datetime] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    creator_channel: Mapped[str] = mapped_column(String(16))
    creator_enc: Mapped[str] = mapped_column(Text)
    creator_label: Mapped[str] = mapped_column(String(64))
    expanded: Mapped[bool] = mapped_column(Boolean, default=False)
    report_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()


class ReminderRun(Base):
    """One row per fired stage reminder occurrence (per time zone), so none fires twice."""

    __tablename__ = "reminder_runs"
    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="done")  # done | missed
    fire_at: Mapped[datetime] = mapped_column()
    ran_at: Mapped[datetime] = mapped_column(default=utcnow)
    recipients: Mapped[int] = mapped_column(Integer, default=0)


class AuditLog(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(48))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class RateCounter(Base):
    """Sliding per-day counters, e.g. tips per reporter pseudonym."""

    __tablename__ = "rate_counters"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))
    subject_key: Mapped[str] = mapped_column(String(64))
    day: Mapped[str] = mapped_column(String(10))
    count: Mapped[int] = mapped_column(Integer, default=0)
    __table_args__ = (UniqueConstraint("scope", "subject_key", "day"),)
