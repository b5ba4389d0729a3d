"""Named queries of the tip feature: every handler in ``handlers/tips/`` reads and writes through these.

Retention: the sealed reply address (``Tip.reply_enc``) is the only way back to the reporter. It is wiped
``tips.retention_days`` after the case is closed (``purge_after``), at once on ``/hapus``. ``purge_expired``
does the wiping and runs daily from the scheduler::

    async with services.sessions() as s, s.begin():
        await purge_expired(s, utcnow())
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import RateCounter, Tip, TipEvent, TipMedia
from broadcasts.outbox import insert_ignore
from handlers.tips import codes

log = logging.getLogger(__name__)

GENERATED_MEDIA_DAYS = 7  # generated exports (TipMedia without a tip) are kept this long
RATE_SCOPE = "tip"


async def tip_by_id(session: AsyncSession, tip_id: int) -> Tip | None:
    return await session.get(Tip, tip_id)


async def own_tip(session: AsyncSession, code_text: str, reporter_key: str) -> Tip | None:
    """The reporter's own tip for a code as typed (None for a bad code or someone else's tip)."""
    code = codes.normalize(code_text)
    if code is None:
        return None
    return await session.scalar(select(Tip).where(Tip.code == code, Tip.reporter_key == reporter_key))


async def my_tips(session: AsyncSession, reporter_key: str, limit: int = 20) -> Sequence[Tip]:
    return (await session.scalars(
        select(Tip).where(Tip.reporter_key == reporter_key).order_by(Tip.created_at.desc()).limit(limit)
    )).all()


async def events_of(session: AsyncSession, tip_id: int) -> Sequence[TipEvent]:
    return (await session.scalars(
        select(TipEvent).where(TipEvent.tip_id == tip_id).order_by(TipEvent.created_at, TipEvent.id)
    )).all()


async def add_event(session: AsyncSession, tip_id: int, kind: str, text: str, now: datetime) -> TipEvent:
    """Record a tip event and flush, so its id can name outbox messages."""
    event = TipEvent(tip_id=tip_id, kind=kind, text=text, created_at=now)
    session.add(event)
    await session.flush()
    return event


async def count_today(session: AsyncSession, key: str, day: str) -> int:
    n = await session.scalar(
        select(RateCounter.count).where(
            RateCounter.scope == RATE_SCOPE, RateCounter.subject_key == key, RateCounter.day == day
        )
    )
    return int(n or 0)


async def count_one(session: AsyncSession, key: str, day: str) -> None:
    await session.execute(
        insert_ignore(session, RateCounter.__table__)
        .values(scope=RATE_SCOPE, subject_key=key, day=day, count=0)
        .on_conflict_do_nothing(index_elements=["scope", "subject_key", "day"])
    )
    await session.execute(
        update(RateCounter)
        .where(RateCounter.scope == RATE_SCOPE, RateCounter.subject_key == key, RateCounter.day == day)
        .values(count=RateCounter.count + 1)
    )


async def unique_code(session: AsyncSession) -> str:
    for _ in range(10):
        code = codes.new_code()
        if await session.scalar(select(Tip.id).where(Tip.code == code)) is None:
            return code
    raise RuntimeError("could not allocate a unique tip code")


async def create_tip(session: AsyncSession, tip: Tip) -> Tip:
    session.add(tip)
    await session.flush()
    return tip


async def add_media(session: AsyncSession, rows: list[TipMedia]) -> None:
    session.add_all(rows)
    await session.flush()


async def scoped_tips(session: AsyncSession, group_chat_id: int | None, *, any_routed: bool = False) -> list[Tip]:
    """Tips of one group; ``any_routed``: every routed tip (console); neither: all tips (admin)."""
    stmt = select(Tip).order_by(Tip.created_at, Tip.id)
    if any_routed:
        stmt = stmt.where(Tip.group_chat_id.is_not(None))
    elif group_chat_id is not None:
        stmt = stmt.where(Tip.group_chat_id == group_chat_id)
    return list((await session.scalars(stmt)).all())


async def media_hashes(session: AsyncSession, tip_ids: list[int]) -> dict[int, list[TipMedia]]:
    """Light TipMedia objects (id, sha256_original) per tip, for the export."""
    media: dict[int, list[TipMedia]] = {}
    rows = (await session.execute(
        select(TipMedia.id, TipMedia.tip_id, TipMedia.sha256_original).where(TipMedia.tip_id.in_(tip_ids))
        .order_by(TipMedia.id)
    )).all()
    for r in rows:
        media.setdefault(r.tip_id, []).append(TipMedia(id=r.id, sha256_original=r.sha256_original))
    return media


async def purge_expired(session: AsyncSession, now: datetime) -> int:
    """Wipe reply addresses of tips past ``purge_after``; drop old generated exports and stray media.

    Returns the number of tips whose reply address was wiped. Run daily (scheduler), in one transaction.
    """
    result = await session.execute(
        update(Tip)
        .where(Tip.purge_after.is_not(None), Tip.purge_after <= now, Tip.reply_enc.is_not(None))
        .values(reply_enc=None, updated_at=now)
    )
    wiped = int(result.rowcount or 0)
    await session.execute(
        delete(TipMedia).where(
            TipMedia.tip_id.is_(None), TipMedia.created_at <= now - timedelta(days=GENERATED_MEDIA_DAYS)
        )
    )
    if wiped:
        log.info("tip reply addresses purged", extra={"count": wiped})
    return wiped
