"""Named queries of the tip feature: every handler in ``handlers/tips/`` reads and writes through these.

Retention: the sealed reply address (``Tip.reply_enc``) is the only way back to the reporter. It is wiped at
once on ``/hapus`` (``unlink_reporter``, which also redacts every sent message tied to the tip or to the
reporter's chat, and the chat's button memory), and ``tips.retention_days`` after the case is closed
(``purge_after``) together with the reporter's pseudonym (``reporter_key`` becomes ``PURGED``; it served
/status and the daily limit) and everything /hapus wipes. ``purge_expired`` does the wiping and runs from the
scheduler::

    async with services.sessions() as s, s.begin():
        await purge_expired(s, utcnow(), services.identity)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import ColumnElement, String, Table, Text, and_, bindparam, delete, literal, or_, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.core.identity import Identity
from bot.storage import retention
from bot.storage.db import insert_ignore, rowcount
from bot.storage.models import Conversation, Outbox, RateCounter, Tip, TipEvent, TipMedia
from handlers.tips import codes

log = logging.getLogger(__name__)

RATE_SCOPE = "tip"
PURGED = ""  # Tip.reporter_key once wiped by the purge (the column stays NOT NULL)
ANSWER_FLOW = "tipjawab"  # the reporter typing an answer to a question (relay.py); its data names the tip
TYPED_ANSWER_FLOW = "tipketik"  # a typed message held until the reporter says it answers a question (relay.py)
PURGE_CHUNK = 100  # tips purged per statement


async def tip_by_id(session: AsyncSession, tip_id: int) -> Tip | None:
    """The tip, locked until the caller's transaction ends (PostgreSQL; SQLite serializes writers anyway).

    Every handler that acts on one tip reads it through here, so a message to the reporter queued on the way
    (a status notice, a question) cannot race /hapus: either it is queued and committed first, and /hapus then
    marks it, or it waits for /hapus and finds the reply address gone. Without the lock it could read the
    address just before /hapus commits and queue a row /hapus never saw."""
    return await session.get(Tip, tip_id, with_for_update=True, populate_existing=True)


async def sent_message_id(session: AsyncSession, idem_key: str) -> str | None:
    """The platform's id of a sent message, by its idempotency key (None while not sent)."""
    return await session.scalar(select(Outbox.external_id).where(Outbox.idem_key == idem_key))


async def questioned_tip(session: AsyncSession, addr_key: str, message_id: str) -> int | None:
    """The tip whose question to the chat ``addr_key`` is the platform's message ``message_id`` (None: that message
    is no question of a tip, or its copy was wiped)."""
    return await session.scalar(
        select(Outbox.tip_id).where(Outbox.external_id == message_id, Outbox.addr_key == addr_key,
                                    Outbox.tip_id.is_not(None), Outbox.is_group.is_(False),
                                    Outbox.idem_key.like("tip:%:question:%")).limit(1))


# Built once, on the table (not the ORM entity): it runs for every free text in a private chat, where
# building the statement and the ORM's compile step cost more than the indexed look-up itself.
_TIPS = cast(Table, Tip.__table__)
_LINKED_TIPS = select(_TIPS.c.id).where(
    _TIPS.c.reporter_key == bindparam("reporter_key"), _TIPS.c.reporter_key != PURGED,
    _TIPS.c.reply_enc.is_not(None), _TIPS.c.group_chat_id.is_not(None))


async def open_question(session: AsyncSession, addr_key: str, reporter_key: str, since: datetime) -> Tip | None:
    """The tip of the newest question of Bawaslu delivered to the chat ``addr_key`` since ``since`` and not
    answered yet (no "answer" event of the tip after the question's event), or None.

    Only a tip still linked to its reporter counts: one of ``reporter_key``, with its reply address (wiped by
    /hapus and the purge) and a group to answer to; and only a question whose outbox copy to this chat is still
    there (/hapus and the outbox retention redact it: the address pseudonym is wiped) and was delivered (sent,
    or its outcome unknown). The tips of ``reporter_key`` first (indexed), then their outbox rows by tip."""
    tip_ids = list((await session.execute(_LINKED_TIPS, {"reporter_key": reporter_key})).scalars().all())
    if not tip_ids:  # most people asking the FAQ have filed no tip: one indexed look-up
        return None
    question = aliased(TipEvent)
    answer = aliased(TipEvent)
    question_key = literal("tip:", String) + sql_cast(question.tip_id, String) + ":question:" + sql_cast(
        question.id, String)
    answered = select(answer.id).where(answer.tip_id == question.tip_id, answer.kind == "answer",
                                       answer.id > question.id).exists()
    return await session.scalar(
        select(Tip)
        .join(Outbox, Outbox.tip_id == Tip.id)
        .join(question, and_(question.tip_id == Tip.id, question.kind == "question"))
        .where(Tip.id.in_(tip_ids), Outbox.tip_id.in_(tip_ids), Outbox.addr_key == addr_key,
               Outbox.is_group.is_(False), Outbox.status.in_(("sent", "unknown")),
               Outbox.created_at >= since, Outbox.idem_key == question_key, ~answered)
        .order_by(Outbox.created_at.desc(), Outbox.id.desc())
        .limit(1))


async def was_asked(session: AsyncSession, tip_id: int) -> bool:
    """Whether the tip's group ever asked its reporter a question."""
    return await session.scalar(
        select(TipEvent.id).where(TipEvent.tip_id == tip_id, TipEvent.kind == "question").limit(1)) is not None


async def tip_by_code(session: AsyncSession, code_text: str) -> Tip | None:
    """The tip with a code as typed (None for a bad or unknown code)."""
    code = codes.normalize(code_text)
    return None if code is None else await session.scalar(select(Tip).where(Tip.code == code))


async def own_tip(session: AsyncSession, code_text: str, reporter_key: str) -> Tip | None:
    """The reporter's own tip for a code as typed (None for a bad code or someone else's tip)."""
    tip = await tip_by_code(session, code_text)
    return tip if tip is not None and tip.reporter_key == reporter_key else None


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


async def unlink_reporter(session: AsyncSession, tip: Tip, addr_keys: set[str], choices_keys: set[str]) -> int:
    """/hapus: nothing in the database may link the reporter's chat to the tip any more.

    * the sealed reply address of the tip is wiped;
    * every finished outbox row addressed to the reporter (tied to the tip, or to the reporter's chat:
      ``addr_keys``; broadcasts aside, they say nothing about a tip) and every delivered copy in the group is
      redacted; rows still queued or in flight (``sending``) are redacted once their send's result is recorded
      (to the reporter: whatever it is; in the group: once sent). The rows are marked before the finished ones
      are redacted, so a send recorded concurrently is caught either way (``retention.make_ephemeral``);
    * the chat's button memory (``choices_keys``: numbered channels keep the last buttons, e.g. "Jawab")
      is deleted.
    The reporter pseudonym stays until the purge, so /status keeps working. Returns rows redacted."""
    tip.reply_enc = None
    return await _forget_reporter(session, [tip.id], addr_keys, choices_keys, in_group=True)


async def _forget_reporter(session: AsyncSession, tip_ids: list[int], addr_keys: set[str], choices_keys: set[str],
                           *, in_group: bool, naming: ColumnElement[bool] | None = None) -> int:
    """Redact what was sent to the reporters of ``tip_ids`` (see ``unlink_reporter``; ``naming``: also the
    rows, to any chat, that this condition finds) and delete the chats' button memory."""
    to_reporter = or_(and_(Outbox.tip_id.in_(tip_ids), Outbox.is_group.is_(False)),
                      and_(Outbox.addr_key.in_(addr_keys), Outbox.broadcast_id.is_(None)))
    if naming is not None:
        to_reporter = or_(to_reporter, naming)
    marked, finished = to_reporter, to_reporter
    if in_group:
        group = and_(Outbox.tip_id.in_(tip_ids), Outbox.is_group.is_(True))
        # Group copies only once delivered: a failed one stays as it is, for the delivery side to deal with.
        marked = or_(to_reporter, and_(group, Outbox.status.not_in(retention.FINISHED)))
        finished = or_(to_reporter, and_(group, Outbox.status == "sent"))
    await retention.make_ephemeral(session, marked)
    redacted = await retention.redact_outbox(session, finished)
    if choices_keys:
        await session.execute(delete(Conversation).where(Conversation.conv_key.in_(choices_keys)))
    return redacted


async def purge_expired(session: AsyncSession, now: datetime, identity: Identity) -> int:
    """Wipe reply addresses and reporter pseudonyms of tips past ``purge_after``, and with them every trace of the
    reporter tied to the tip: what was sent to the reporter's chat (found by the reply address, opened with
    ``identity``, as /hapus does; after /hapus by the tip: its code in a message to a person — /status and
    /jawab still answered the pseudonym), the chat's button memory and an answer to the tip begun but never
    sent. Whatever the ``[retention]`` periods are, nothing of the reporter outlives the purge. Also redacts
    what was sent to the reporters of tips without a reply address (wiped by /hapus or an earlier run).

    Returns the number of tips purged now. Run daily (scheduler), in one transaction.
    """
    # Locked first (PostgreSQL), as ``tip_by_id`` locks a tip: a status notice or question queued meanwhile
    # waits for the purge and then finds the reply address gone, instead of slipping past its redaction.
    due = (await session.execute(
        select(Tip.id, Tip.code, Tip.reply_enc)
        .where(Tip.purge_after.is_not(None), Tip.purge_after <= now,
               or_(Tip.reply_enc.is_not(None), Tip.reporter_key != PURGED))
        .order_by(Tip.id)
        .with_for_update()
    )).all()
    wiped = redacted = 0
    for chunk in (due[i : i + PURGE_CHUNK] for i in range(0, len(due), PURGE_CHUNK)):
        ids = [r.id for r in chunk]
        chats = set()
        for r in chunk:
            if r.reply_enc is not None:
                try:
                    chats.add(identity.open(r.reply_enc))
                except ValueError:
                    log.error("tip reply address cannot be decrypted (secret changed?)", extra={"tip_id": r.id})
        payload = sql_cast(Outbox.payload, Text)
        naming = and_(Outbox.is_group.is_(False), Outbox.broadcast_id.is_(None),
                      or_(*(payload.contains(r.code, autoescape=True) for r in chunk)))
        redacted += await _forget_reporter(
            session, ids, {identity.key("addr", ch, chat) for ch, chat in chats},
            {identity.key("choices", ch, chat) for ch, chat in chats}, in_group=False, naming=naming)
        await _end_answers(session, ids)
        wiped += rowcount(await session.execute(
            update(Tip).where(Tip.id.in_(ids)).values(reply_enc=None, reporter_key=PURGED, updated_at=now)))
    gone = select(Tip.id).where(Tip.reply_enc.is_(None))
    redacted += await retention.redact_outbox(session, and_(Outbox.tip_id.in_(gone), Outbox.is_group.is_(False)))
    if wiped or redacted:
        log.info("tip reply addresses purged", extra={"count": wiped, "redacted": redacted})
    return wiped


async def _end_answers(session: AsyncSession, tip_ids: list[int]) -> None:
    """Answers to these tips begun and never sent (``relay``'s answer flow, or a typed message offered as the
    answer): ended, back to the /lapor draft they interrupted if any (``relay.resume``), else the conversation row
    goes."""
    rows = (await session.scalars(
        select(Conversation).where(Conversation.flow.in_((ANSWER_FLOW, TYPED_ANSWER_FLOW)),
                                   Conversation.data["tip_id"].as_integer().in_(tip_ids))
    )).all()
    for conv in rows:
        suspended = (conv.data or {}).get("suspended")
        if suspended:
            conv.flow, conv.step, conv.data = "lapor", suspended.get("step"), suspended.get("data") or {}
        else:
            await session.delete(conv)
    await session.flush()
