"""Where a tip's delivery to its Bawaslu group stands, and the repairs that keep it from ending silently.

* ``queue_to_group`` queues a tip's group message(s) and evidence (idempotent keys ``tip:<id>:text…`` and
  ``tip:<id>:media:<n>``): used when a tip is filed and again for a tip filed while its region had no group.
* ``route_unrouted`` gives every open tip without a group the group configured for its region now.
* ``is_delivered`` / ``reporter_status_label``: the reporter's /status says "waiting" until the group got the
  tip, not "Diterima".
* ``follow_migration``: a group upgraded to a supergroup (Telegram's ``ChatMigrated``) — tips and queued
  messages move to the new chat id.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.model import MediaOut, Reply
from bot.core.services import Services
from bot.outbox.ports import OutboxStatus, Purpose
from bot.storage.db import rowcount
from bot.storage.models import Outbox, Tip, TipMedia
from bot.storage.retention import idem_key_is
from bot.texts import html_t, t
from handlers.tips.cases import group_chat, resolve_group, status_label
from handlers.tips.messages import group_messages

log = logging.getLogger(__name__)

OPEN_STATUSES = ("diterima", "ditelaah", "ditindaklanjuti")  # a closed tip is not routed later
QUESTION_LOST = (OutboxStatus.FAILED, OutboxStatus.BLOCKED, OutboxStatus.DEAD)  # a question that never arrived


def text_key(tip_id: int) -> str:
    return f"tip:{tip_id}:text"


async def queue_to_group(services: Services, session: AsyncSession, tip: Tip, media: list[TipMedia]) -> None:
    """Queue the group message(s) and one message per evidence file in the caller's transaction."""
    assert tip.group_chat_id is not None
    channel, chat_id = group_chat(services, tip.group_chat_id)
    for i, reply in enumerate(group_messages(services.settings, tip, media)):
        await services.outbox.enqueue(session, channel=channel, chat_id=chat_id, reply=reply, is_group=True,
                                      purpose=Purpose.TIP, idem_key=text_key(tip.id) + (f":{i}" if i else ""),
                                      tip_id=tip.id)
    total = len(media)
    for n, row in enumerate(media, 1):
        caption = t("group.media_caption", n=n, total=total, code=tip.code)
        reply = Reply(media=[MediaOut(row.kind, media_id=row.id, caption=caption)], protect=True)  # type: ignore[arg-type]
        await services.outbox.enqueue(session, channel=channel, chat_id=chat_id, reply=reply, is_group=True,
                                      purpose=Purpose.TIP, idem_key=f"tip:{tip.id}:media:{n}", tip_id=tip.id)


async def route_unrouted(services: Services, session: AsyncSession, now: datetime) -> list[Tip]:
    """Open tips filed while their region had no group: route them to the group configured now."""
    tips = (await session.scalars(
        select(Tip).where(Tip.group_chat_id.is_(None), Tip.status.in_(OPEN_STATUSES)).order_by(Tip.id)
    )).all()
    routed = []
    for tip in tips:
        route = resolve_group(services.settings, tip.region_code)
        if route is None:
            continue
        tip.group_chat_id = route[1]
        tip.updated_at = now
        media = list((await session.scalars(
            select(TipMedia).where(TipMedia.tip_id == tip.id).order_by(TipMedia.id)
        )).all())
        await queue_to_group(services, session, tip, media)
        routed.append(tip)
        log.info("unrouted tip routed to its group", extra={"tip_id": tip.id, "region": tip.region_code})
    return routed


async def report_undelivered_questions(services: Services, session: AsyncSession, now: datetime) -> list[str]:
    """Questions of a group to a reporter that ended without reaching them (failed, blocked, given up: a blocked
    bot, a closed WhatsApp window without a template): the tip's group is told, once per question (its row is
    marked ``alerted_at``; also once /hapus marked it), in the caller's transaction. The group was told "dikirim"
    when it was queued.

    Returns the codes of the tips whose group is told now."""
    rows = (await session.execute(
        select(Outbox.id, Outbox.tip_id, Tip.code, Tip.group_chat_id)
        .join(Tip, Tip.id == Outbox.tip_id)
        .where(Outbox.is_group.is_(False), Outbox.alerted_at.is_(None), Outbox.idem_key.contains(":question:"),
               Outbox.status.in_(QUESTION_LOST))
        .order_by(Outbox.id)
    )).all()
    told = []
    for r in rows:
        if r.group_chat_id is None:
            continue
        channel, chat_id = group_chat(services, r.group_chat_id)
        await services.outbox.enqueue(
            session, channel=channel, chat_id=chat_id, is_group=True, purpose=Purpose.TIP, tip_id=r.tip_id,
            reply=Reply(text=html_t("group.ask_undelivered", code=r.code), html=True),
            idem_key=f"tip:{r.tip_id}:question-lost:{r.id}")
        told.append(r.code)
    if rows:
        await session.execute(update(Outbox).where(Outbox.id.in_([r.id for r in rows])).values(alerted_at=now))
    return told


async def is_delivered(session: AsyncSession, tip_id: int) -> bool:
    """The group has the tip: its (first) group message was sent."""
    status = await session.scalar(  # /hapus may have marked the row while it was queued (its key is prefixed)
        select(Outbox.status).where(Outbox.tip_id == tip_id, idem_key_is(text_key(tip_id))))
    return status == OutboxStatus.SENT


async def reporter_status_label(session: AsyncSession, tip: Tip) -> str:
    """The status shown to the reporter: "waiting to be forwarded" until the group got the tip."""
    if tip.status == "diterima" and not await is_delivered(session, tip.id):
        return t("tips.status.menunggu")
    return status_label(tip.status)


async def follow_migration(services: Services, session: AsyncSession, old_chat_id: int, new_chat_id: int) -> int:
    """The group ``old_chat_id`` is now the supergroup ``new_chat_id``: move its tips and its queued messages.

    Returns the number of tips moved. The caller's transaction; idempotent."""
    moved = await session.execute(
        update(Tip).where(Tip.group_chat_id == old_chat_id).values(group_chat_id=new_chat_id)
    )
    old_key = services.identity.key("addr", "telegram", str(old_chat_id))
    await session.execute(
        update(Outbox)
        .where(Outbox.addr_key == old_key, Outbox.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]))
        .values(addr_key=services.identity.key("addr", "telegram", str(new_chat_id)),
                addr_enc=services.identity.seal("telegram", str(new_chat_id)))
    )
    return rowcount(moved)
