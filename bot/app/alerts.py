"""Admin alerts about delivery: no message, and above all no tip, ends silently (review C3, C7).

``alert_targets`` is where alerts go: ``delivery.alert_chat_id`` (a Telegram admin group) when set, else every
configured admin on a channel this process can send to. ``alert_admins`` queues one alert per target
(purpose ``alert``, idempotent key: the same problem is reported once).

``DeliveryWatch`` runs in every process with a delivery worker, at start and every
``delivery.check_every_seconds`` (on PostgreSQL only one process at a time: a try-lock). Each check:

1. routes open tips filed while their region had no group, if a group is configured now;
2. alerts about tips still without a group (once per tip);
3. alerts about a tip message that failed, or is still not delivered after ``delivery.tip_alert_minutes`` or
   after ``delivery.max_attempts`` attempts (once per tip; it keeps retrying);
3b. tells a tip's group when its question to the reporter ended without reaching them (once per question);
4. alerts with one summary about other messages given up (``dead``: attempt cap) or failed permanently.

``delivery_problems`` counts the same things for ``python -m bot doctor``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.core.clock import utcnow
from bot.core.locks import advisory_key
from bot.core.model import Reply
from bot.core.services import Services
from bot.outbox.ports import OutboxStatus, Purpose
from bot.regions import get as region_get
from bot.storage.models import Outbox, Tip
from bot.texts import t
from handlers.tips.delivery import OPEN_STATUSES, report_undelivered_questions, route_unrouted

log = logging.getLogger(__name__)

WATCH_LOCK = "jaganetral:delivery-watch"
GIVEN_UP = (OutboxStatus.DEAD, OutboxStatus.FAILED)
UNDELIVERED = (OutboxStatus.PENDING, OutboxStatus.SENDING)


def alert_targets(settings: Settings, channels: Iterable[str]) -> list[tuple[str, str]]:
    """(channel, chat id) of every alert recipient this process can send to."""
    channels = set(channels)
    chat = settings.delivery.alert_chat_id
    if chat is not None and "telegram" in channels:
        return [("telegram", str(chat))]
    out: list[tuple[str, str]] = []
    if "telegram" in channels:
        out += [("telegram", str(a)) for a in settings.telegram.admin_ids]
    if "whatsapp" in channels:
        out += [("whatsapp", n.removeprefix("whatsapp:")) for n in settings.whatsapp.admin_numbers]
    if "console" in channels and settings.console_admin:
        from bot.channels.console import CONSOLE_PRIVATE_CHAT

        out.append(("console", CONSOLE_PRIVATE_CHAT))
    return out


async def alert_admins(services: Services, session: AsyncSession, channels: Iterable[str], key: str,
                       text_: str) -> int:
    """Queue ``text_`` to every alert target once per ``key`` (in the caller's transaction)."""
    targets = alert_targets(services.settings, channels)
    if not targets:
        log.error("delivery alert with no admin to tell (set telegram.admin_ids or delivery.alert_chat_id)",
                  extra={"alert": key.split(":", 1)[0]})
    for channel, chat_id in targets:
        suffix = hashlib.sha256(f"{channel}:{chat_id}".encode()).hexdigest()[:12]
        await services.outbox.enqueue(session, channel=channel, chat_id=chat_id, reply=Reply(text=text_),
                                      is_group=chat_id.startswith("-"), purpose=Purpose.ALERT,
                                      idem_key=f"alert:{key}:{suffix}"[:128], priority=-1)
    return len(targets)


def _region(code: str) -> str:
    region = region_get(code)
    return region.name if region is not None else code


@dataclass
class WatchReport:
    routed: list[str] = field(default_factory=list)  # tip codes routed now
    unrouted: list[str] = field(default_factory=list)  # tip codes still without a group (alerted once)
    stuck: list[str] = field(default_factory=list)  # tip codes not delivered in time (alerted now)
    failed: list[str] = field(default_factory=list)  # tip codes whose group message failed (alerted now)
    given_up: dict[str, int] = field(default_factory=dict)  # purpose -> other messages given up (alerted now)
    questions_lost: list[str] = field(default_factory=list)  # tip codes whose group is told a question was lost


def _stuck_condition(settings: Settings, now: datetime) -> Any:
    cfg = settings.delivery
    return and_(
        Outbox.purpose == Purpose.TIP,
        Outbox.status.in_(UNDELIVERED),
        or_(Outbox.created_at <= now - timedelta(minutes=cfg.tip_alert_minutes), Outbox.attempts >= cfg.max_attempts),
    )


class DeliveryWatch:
    def __init__(self, services: Services, channels: Any) -> None:
        self.services = services
        self._channels = channels  # a live view (the worker's senders): channels attached later count too
        self._task: asyncio.Task[None] | None = None

    @property
    def channels(self) -> list[str]:
        return list(self._channels)

    async def check(self, now: datetime | None = None) -> WatchReport:
        now = now or utcnow()
        report = WatchReport()
        svc = self.services
        async with svc.sessions() as s, s.begin():
            if s.get_bind().dialect.name == "postgresql":
                got = await s.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": advisory_key(WATCH_LOCK)})
                if not got:
                    return report  # another process is checking right now
            for tip in await route_unrouted(svc, s, now):
                report.routed.append(tip.code)
            unrouted = (await s.scalars(
                select(Tip).where(Tip.group_chat_id.is_(None), Tip.status.in_(OPEN_STATUSES))
            )).all()
            for tip in unrouted:
                await alert_admins(svc, s, self.channels, f"unrouted:{tip.id}",
                                   t("alert.tip_unrouted", code=tip.code, region=_region(tip.region_code)))
                report.unrouted.append(tip.code)
            await self._tip_rows(s, now, report)
            report.questions_lost = await report_undelivered_questions(svc, s, now)
            await self._given_up(s, now, report)
        return report

    async def _tip_rows(self, s: AsyncSession, now: datetime, report: WatchReport) -> None:
        cfg = self.services.settings.delivery
        failed = and_(Outbox.purpose == Purpose.TIP, Outbox.status.in_(GIVEN_UP))
        stuck = _stuck_condition(self.services.settings, now)
        rows = (await s.execute(
            select(Outbox.id, Outbox.tip_id, Outbox.status, Outbox.attempts, Outbox.last_error, Tip.code)
            .join(Tip, Tip.id == Outbox.tip_id)
            .where(Outbox.alerted_at.is_(None), or_(failed, stuck))
            .order_by(Outbox.id)
        )).all()
        seen: set[tuple[int, str]] = set()
        for r in rows:
            gave_up = r.status in GIVEN_UP
            kind = "failed" if gave_up else "stuck"
            if (r.tip_id, kind) in seen:
                continue
            seen.add((r.tip_id, kind))
            error = (r.last_error or "-")[:120]
            if gave_up:
                msg = t("alert.tip_failed", code=r.code, error=error)
                report.failed.append(r.code)
            else:
                msg = t("alert.tip_stuck", code=r.code, minutes=int(cfg.tip_alert_minutes), attempts=r.attempts,
                        error=error)
                report.stuck.append(r.code)
            await alert_admins(self.services, s, self.channels, f"tip-{kind}:{r.tip_id}", msg)
        if rows:
            await s.execute(update(Outbox).where(Outbox.id.in_([r.id for r in rows])).values(alerted_at=now))

    async def _given_up(self, s: AsyncSession, now: datetime, report: WatchReport) -> None:
        cond = and_(Outbox.status.in_(GIVEN_UP), Outbox.alerted_at.is_(None),
                    Outbox.purpose.not_in([Purpose.TIP, Purpose.ALERT]))
        rows = (await s.execute(select(Outbox.id, Outbox.purpose).where(cond).order_by(Outbox.id))).all()
        if not rows:
            return
        counts = Counter(str(r.purpose) for r in rows)
        report.given_up = dict(counts)
        by_purpose = ", ".join(f"{p}: {n}" for p, n in sorted(counts.items()))
        await alert_admins(self.services, s, self.channels, f"given-up:{rows[-1].id}",
                           t("alert.given_up", n=len(rows), by_purpose=by_purpose))
        await s.execute(update(Outbox).where(Outbox.id.in_([r.id for r in rows])).values(alerted_at=now))

    # --- background loop ----------------------------------------------------------------------------
    async def run(self, on_alert: Any = None) -> None:
        every = self.services.settings.delivery.check_every_seconds
        while True:
            try:
                report = await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("delivery watch failed; retrying later")
            else:
                if any([report.routed, report.unrouted, report.stuck, report.failed, report.given_up,
                        report.questions_lost]):
                    log.warning("delivery watch", extra={
                        "routed": len(report.routed), "unrouted": len(report.unrouted), "stuck": len(report.stuck),
                        "failed": len(report.failed), "given_up": sum(report.given_up.values()),
                        "questions_lost": len(report.questions_lost)})
                    if on_alert is not None:
                        on_alert()
            await asyncio.sleep(every)


async def delivery_problems(session: AsyncSession, settings: Settings, now: datetime | None = None) -> dict[str, int]:
    """Counts for ``doctor``: tips unrouted / not delivered in time / failed, other messages given up, unknown."""
    now = now or utcnow()

    async def count(stmt: Any) -> int:
        return int(await session.scalar(stmt) or 0)

    return {
        "tips_unrouted": await count(
            select(func.count()).select_from(Tip).where(Tip.group_chat_id.is_(None), Tip.status.in_(OPEN_STATUSES))
        ),
        "tips_stuck": await count(
            select(func.count(func.distinct(Outbox.tip_id))).where(_stuck_condition(settings, now))
        ),
        "tips_failed": await count(
            select(func.count(func.distinct(Outbox.tip_id)))
            .where(Outbox.purpose == Purpose.TIP, Outbox.status.in_(GIVEN_UP))
        ),
        "given_up": await count(
            select(func.count()).select_from(Outbox)
            .where(Outbox.status.in_(GIVEN_UP), Outbox.purpose.not_in([Purpose.TIP, Purpose.ALERT]))
        ),
        "unknown": await count(select(func.count()).select_from(Outbox).where(Outbox.status == OutboxStatus.UNKNOWN)),
    }


# --- group events (Telegram) ------------------------------------------------------------------------

def chat_moved_hook(services: Services, channels: Any) -> Any:
    """For ``DeliveryWorker.chat_moved``: a group became a supergroup — tips follow it, admins are told."""

    async def moved(session: AsyncSession, channel: str, old: str, new: str) -> None:
        if channel != "telegram":
            return
        from handlers.tips.delivery import follow_migration

        try:
            old_id, new_id = int(old), int(new)
        except ValueError:
            return
        tips = await follow_migration(services, session, old_id, new_id)
        log.warning("tips follow a migrated group", extra={"tips": tips})
        await alert_admins(services, session, channels, f"migrated:{old_id}:{new_id}",
                           t("alert.group_migrated", old=old_id, new=new_id))

    return moved


def _group_region(settings: Settings, chat_id: int) -> str | None:
    codes = [code for code, gid in settings.bawaslu_groups.items() if int(gid) == chat_id]
    if not codes:
        return None
    return ", ".join(t("tips.target_default") if c == "default" else _region(c) for c in sorted(codes))


async def bot_removed_from_group(services: Services, channels: Any, chat_id: int, event_key: str) -> bool:
    """``my_chat_member``: the bot was removed from (or left) a chat. A Bawaslu group -> alert the admins.

    Returns whether it was a Bawaslu group (one in ``bawaslu_groups`` or one that tips were sent to)."""
    region = _group_region(services.settings, chat_id)
    async with services.sessions() as s, s.begin():
        if region is None:
            tip_region = await s.scalar(select(Tip.region_code).where(Tip.group_chat_id == chat_id).limit(1))
            if tip_region is None:
                return False
            region = _region(tip_region)
        await alert_admins(services, s, list(channels), f"removed:{chat_id}:{event_key}",
                           t("alert.group_removed", chat=chat_id, region=region))
    log.error("bot removed from a Bawaslu group", extra={"chat_id": chat_id})
    return True
