"""Timed work: admin broadcasts, election-stage reminders, delivery reports, daily housekeeping (purges).

The schedule lives in OUR tables, not in APScheduler: ``broadcasts`` rows (status ``scheduled`` →
``sending`` → ``done``, or ``cancelled`` / ``missed``), the timeline files, and ``reminder_runs`` (one row
per fired or missed reminder occurrence). ``Scheduler.run_due(now)`` does all the real work and is
idempotent; APScheduler (AsyncIOScheduler + MemoryJobStore) only calls it at the right instants. Its jobs
are rebuilt from the tables at every start with stable ids (``broadcast:<id>``,
``reminder:<occurrence key>``) and ``replace_existing=True``, so a restart neither loses nor repeats
anything. A periodic ``scheduler:tick`` job is the safety net (late commits, resumed expansions, reports).

Crash safety: a broadcast is expanded into outbox rows in chunks whose ``idem_key``
(``bc:<broadcast id>:<subscriber id>``) makes a re-run after a crash insert only what is missing; the
``expanded`` flag is set at the end. A reminder occurrence is expanded the same way
(``rem:<occurrence key>:<subscriber id>``) and its ``reminder_runs`` row written last. Work due longer ago
than ``scheduler.misfire_grace_minutes`` is not sent late: it is marked ``missed`` and reported to admins.

WhatsApp: broadcast and reminder rows are ordinary Replies with purpose ``broadcast``/``reminder``; the
WhatsApp sender decides to use a template (``whatsapp.templates[purpose]``) outside the 24-hour window.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.clock import utcnow
from bot.core.model import Reply
from bot.outbox.ports import OutboxStatus, Purpose
from bot.storage.audit import audit
from bot.storage.db import insert_ignore, rowcount
from bot.storage.models import Broadcast, ReminderRun
from bot.texts import format_date_id, t
from broadcasts import audience
from broadcasts.timeline import (
    ReminderOccurrence,
    Timeline,
    TimelineError,
    load_timelines,
    reminder_message,
    reminder_occurrences,
)

if TYPE_CHECKING:
    from bot.core.services import Services

log = logging.getLogger(__name__)

ACTOR = "scheduler"
INSTALLED_KEY = "scheduler:installed"  # reminder_runs marker: occurrences long before it are not "missed"
TICK_SECONDS = 30.0
REPORT_RECHECK_SECONDS = 2.0  # a broadcast close to its end: look for the end this often (to report it)
REPORT_RECHECK_ROWS = 1000  # ... when at most this many of its rows are still open (else the tick does)
REPORT_TIMEOUT = timedelta(hours=24)  # report even if some rows never left "pending" (e.g. no sender)
BROADCAST_PRIORITY = 10
REMINDER_PRIORITY = 5
MAX_IDEM = 128

PURGE_HOUR, PURGE_MINUTE = 3, 15  # daily housekeeping, local time (settings.timezone)
HOURLY_MINUTE = 25  # hourly housekeeping, at this minute of every hour


@dataclass(frozen=True)
class Housekeeping:
    """A periodic purge injected by the composition root (the tips purge, the retention purge).

    ``run`` gets a session inside its own transaction and the current time, and returns what it did (counts,
    for logs and tests); ``every`` is ``"day"`` (03:15 local time) or ``"hour"``.
    """

    run: Callable[[AsyncSession, datetime], Awaitable[object]]
    every: Literal["day", "hour"] = "day"


def idem_prefixes(prefix: str, key: str) -> tuple[str, str, int]:
    """The parts of a per-subscriber idempotency key ``prefix:key:subscriber``, with the key part hashed when the
    whole would not fit the outbox's 128-character column (``OutboxStore.enqueue_audience`` builds it in SQL)."""
    return f"{prefix}:{key}:", f"{prefix}:{hashlib.sha256(key.encode()).hexdigest()[:40]}:", MAX_IDEM


@dataclass
class RunSummary:
    broadcasts_started: list[int] = field(default_factory=list)
    broadcasts_missed: list[int] = field(default_factory=list)
    reports_sent: list[int] = field(default_factory=list)
    reminders_fired: list[str] = field(default_factory=list)
    reminders_missed: list[str] = field(default_factory=list)
    enqueued: int = 0


class Scheduler:
    def __init__(
        self,
        services: Services,
        *,
        notify: Callable[[], None],
        reachable: Callable[[], Iterable[str]],
        timelines: list[Timeline] | None = None,
        housekeeping: dict[str, Housekeeping] | None = None,
    ) -> None:
        """``notify`` wakes the delivery loop after rows were queued; ``reachable`` names the channels this
        process has a sender for (admins are told on those); ``housekeeping`` are the daily jobs by id."""
        self.services = services
        self.settings = services.settings
        self.sessions = services.sessions
        self.outbox = services.outbox
        self.notify = notify
        self.reachable = reachable
        self.housekeeping = dict(housekeeping or {})
        self.grace = timedelta(minutes=self.settings.scheduler.misfire_grace_minutes)
        self.timelines = [tl for tl in (timelines if timelines is not None else _load()) if tl.enabled]
        self._lock = asyncio.Lock()
        self._aps: AsyncIOScheduler | None = None
        self._installed: datetime | None = None

    # --- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        now = utcnow()
        await self.ensure_installed(now)
        self._aps = AsyncIOScheduler(
            jobstores={"default": MemoryJobStore()},
            timezone=UTC,
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": int(self.grace.total_seconds()) or 1,
            },
        )
        self._aps.start()
        self.services.scheduler = self
        await self.run_due(now)  # catch up on anything due while we were down
        await self.rebuild(utcnow())

    async def shutdown(self, timeout: float = 10.0) -> None:
        """Stop the jobs and wait (bounded) for a run in progress to finish."""
        if self.services.scheduler is self:
            self.services.scheduler = None
        if self._aps is not None and self._aps.running:
            self._aps.remove_all_jobs()
            self._aps.shutdown(wait=False)
        self._aps = None
        try:
            await asyncio.wait_for(self._lock.acquire(), timeout)
            self._lock.release()
        except TimeoutError:
            log.warning("scheduler run still in progress at shutdown")

    async def ensure_installed(self, now: datetime) -> datetime:
        """When this database first ran a scheduler (reminders long before that are history, not misses)."""
        if self._installed is not None:
            return self._installed
        async with self.sessions() as s, s.begin():
            await s.execute(
                insert_ignore(s, ReminderRun.__table__)
                .values(key=INSTALLED_KEY, status="marker", fire_at=now, ran_at=now, recipients=0)
                .on_conflict_do_nothing(index_elements=["key"])
            )
            row = await s.get(ReminderRun, INSTALLED_KEY)
            assert row is not None
            self._installed = row.fire_at
            return row.fire_at

    async def rebuild(self, now: datetime) -> None:
        """(Re)create every APScheduler job from the tables and timelines."""
        aps = self._aps
        if aps is None:
            return
        async with self.sessions() as s:
            pending = (
                await s.execute(select(Broadcast.id, Broadcast.scheduled_at).where(Broadcast.status == "scheduled"))
            ).all()
        for bid, at in pending:
            self.schedule_broadcast(bid, at)
        for occ in self.upcoming_reminders(now):
            aps.add_job(
                self._job, DateTrigger(run_date=occ.fire_at_utc), id=f"reminder:{occ.key}",
                replace_existing=True,
            )
        aps.add_job(self._job, IntervalTrigger(seconds=TICK_SECONDS), id="scheduler:tick", replace_existing=True)
        for job_id, job in self.housekeeping.items():
            trigger = (
                CronTrigger(minute=HOURLY_MINUTE)
                if job.every == "hour"
                else CronTrigger(hour=PURGE_HOUR, minute=PURGE_MINUTE, timezone=self.settings.timezone)
            )
            aps.add_job(self.run_housekeeping, trigger, args=[job_id], id=job_id, replace_existing=True)

    def schedule_broadcast(self, broadcast_id: int, at: datetime) -> None:
        """Add (or move) the job of one broadcast; never earlier than a second from now."""
        if self._aps is None:
            return
        run_at = max(at, utcnow() + timedelta(seconds=1))
        self._aps.add_job(
            self._job, DateTrigger(run_date=run_at), id=f"broadcast:{broadcast_id}", replace_existing=True
        )

    def _recheck_reports_soon(self) -> None:
        """A broadcast's last rows are being sent: check again shortly, so its report follows its last send
        (the tick alone would add up to ``TICK_SECONDS``; the console chat shows the wait)."""
        if self._aps is not None:
            at = datetime.now(UTC) + timedelta(seconds=REPORT_RECHECK_SECONDS)  # APScheduler runs on the wall clock
            self._aps.add_job(self._job, DateTrigger(run_date=at), id="scheduler:report-check", replace_existing=True)

    def unschedule_broadcast(self, broadcast_id: int) -> None:
        if self._aps is not None and self._aps.get_job(f"broadcast:{broadcast_id}") is not None:
            self._aps.remove_job(f"broadcast:{broadcast_id}")

    def job_ids(self) -> list[str]:
        return sorted(job.id for job in self._aps.get_jobs()) if self._aps else []

    def upcoming_reminders(self, now: datetime) -> list[ReminderOccurrence]:
        return [occ for occ in self.occurrences() if occ.fire_at_utc > now]

    def occurrences(self) -> list[ReminderOccurrence]:
        out: list[ReminderOccurrence] = []
        for tl in self.timelines:
            for tz in tl.timezones():
                out.extend(reminder_occurrences(tl, tz))
        out.sort(key=lambda o: (o.fire_at_utc, o.key))
        return out

    async def _job(self) -> None:
        try:
            await self.run_due(utcnow())
        except Exception:
            log.exception("scheduled run failed; the next tick retries")

    # --- the real work -----------------------------------------------------------------------------
    async def run_due(self, now: datetime) -> RunSummary:
        """Do everything due at ``now``: start/resume broadcasts, fire reminders, send reports, report misses."""
        summary = RunSummary()
        async with self._lock:
            await self._due_broadcasts(now, summary)
            await self._due_reminders(now, summary)
            await self._reports(now, summary)
        if summary.enqueued or summary.reports_sent or summary.broadcasts_missed or summary.reminders_missed:
            self.notify()
        return summary

    async def _due_broadcasts(self, now: datetime, summary: RunSummary) -> None:
        async with self.sessions() as s, s.begin():
            due = (
                await s.scalars(
                    select(Broadcast)
                    .where(Broadcast.status == "scheduled", Broadcast.scheduled_at <= now)
                    .order_by(Broadcast.scheduled_at, Broadcast.id)
                )
            ).all()
            for b in due:
                late = now - b.scheduled_at > self.grace
                status = "missed" if late else "sending"
                values: dict[str, Any] = {"status": status}
                if late:
                    values["finished_at"] = now
                else:
                    values["started_at"] = now
                moved = await s.execute(
                    update(Broadcast).where(Broadcast.id == b.id, Broadcast.status == "scheduled").values(**values)
                )
                if not rowcount(moved):
                    continue  # cancelled meanwhile
                if late:
                    summary.broadcasts_missed.append(b.id)
                    audit(s, ACTOR, "broadcast.missed", now, broadcast_id=b.id, scheduled_at=b.scheduled_at.isoformat())
                    text = t(
                        "bc.missed_report",
                        id=b.id,
                        when=self.local_label(b.scheduled_at),
                        minutes=self.settings.scheduler.misfire_grace_minutes,
                    )
                    await self._to_creator(s, b, text, f"bcmiss:{b.id}")
                else:
                    summary.broadcasts_started.append(b.id)
                    audit(s, ACTOR, "broadcast.send_start", now, broadcast_id=b.id)
        async with self.sessions() as s:
            todo = (
                await s.scalars(
                    select(Broadcast.id).where(Broadcast.status == "sending", Broadcast.expanded.is_(False))
                )
            ).all()
        for bid in todo:
            summary.enqueued += await self.expand_broadcast(bid)

    async def expand_broadcast(self, broadcast_id: int) -> int:
        """Turn one broadcast into outbox rows, chunk by chunk; safe to repeat after a crash."""
        async with self.sessions() as s:
            b = await s.get(Broadcast, broadcast_id)
            if b is None or b.status != "sending":
                return 0
            cond = audience.Audience(b.audience, b.region_code, b.role).condition()
            reply = Reply(text=t("bc.message", text=b.text))
        template = self.outbox.row_values(
            channel="console",
            chat_id="-",
            reply=reply,
            purpose=Purpose.BROADCAST,
            priority=BROADCAST_PRIORITY,
            broadcast_id=broadcast_id,
        )
        added, _total = await self._enqueue_audience(template, cond, idem_prefixes("bc", str(broadcast_id)))
        async with self.sessions() as s, s.begin():
            await s.execute(
                update(Broadcast)
                .where(Broadcast.id == broadcast_id, Broadcast.status == "sending")
                .values(expanded=True)
            )
        log.info("broadcast expanded", extra={"broadcast_id": broadcast_id, "rows": added})
        return added

    async def _enqueue_audience(
        self, template: dict[str, Any], cond: Any, prefixes: tuple[str, str, int]
    ) -> tuple[int, int]:
        """Outbox rows for every subscriber matching ``cond``, one committed chunk at a time (the delivery loop
        is woken after each, so sending starts before the last chunk). Returns (rows added, recipients)."""
        added = total = after = 0
        while True:
            async with self.sessions() as s, s.begin():
                n, matched, last = await self.outbox.enqueue_audience(
                    s, template, cond, prefixes, after=after, limit=audience.CHUNK
                )
            if last is None:
                return added, total
            added, total, after = added + n, total + matched, last
            self.notify()

    async def _due_reminders(self, now: datetime, summary: RunSummary) -> None:
        installed = await self.ensure_installed(now)
        async with self.sessions() as s:
            done = set((await s.scalars(select(ReminderRun.key))).all())
        by_id = {tl.id: tl for tl in self.timelines}
        missed: list[ReminderOccurrence] = []
        for occ in self.occurrences():
            if occ.fire_at_utc > now or occ.key in done:
                continue
            if occ.fire_at_utc < installed - self.grace:
                continue  # before this bot existed: history, not a miss
            if now - occ.fire_at_utc > self.grace:
                missed.append(occ)
                continue
            summary.enqueued += await self.fire_reminder(by_id[occ.timeline_id], occ, now)
            summary.reminders_fired.append(occ.key)
        if missed:
            async with self.sessions() as s, s.begin():
                lines = []
                for occ in missed:
                    await s.execute(
                        insert_ignore(s, ReminderRun.__table__)
                        .values(key=occ.key, status="missed", fire_at=occ.fire_at_utc, ran_at=now, recipients=0)
                        .on_conflict_do_nothing(index_elements=["key"])
                    )
                    tl = by_id[occ.timeline_id]
                    stage = tl.stage(occ.stage_id)
                    lines.append(
                        t(
                            "rem.missed_line",
                            timeline=tl.name,
                            stage=stage.name if stage else occ.stage_id,
                            when=f"{occ.fire_at_local:%d-%m-%Y %H:%M} {occ.tz}",
                        )
                    )
                    summary.reminders_missed.append(occ.key)
                audit(s, ACTOR, "reminder.missed", now, keys=[o.key for o in missed][:50], count=len(missed))
                text = t("rem.missed_report", count=len(missed), lines="\n".join(lines[:20]))
                digest = hashlib.sha256("|".join(o.key for o in missed).encode()).hexdigest()[:24]
                await self.notify_admins(s, Reply(text=text), f"remmiss:{digest}")

    async def fire_reminder(self, timeline: Timeline, occ: ReminderOccurrence, now: datetime) -> int:
        """Expand one reminder occurrence to its subscribers; the reminder_runs row is written last."""
        stage = timeline.stage(occ.stage_id)
        if stage is None:
            return 0
        template = self.outbox.row_values(
            channel="console",
            chat_id="-",
            reply=Reply(text=reminder_message(timeline, stage, occ.days_before)),
            purpose=Purpose.REMINDER,
            priority=REMINDER_PRIORITY,
        )
        added, total = await self._enqueue_audience(
            template, audience.reminder_condition(timeline, occ.tz), idem_prefixes("rem", occ.key)
        )
        async with self.sessions() as s, s.begin():
            await s.execute(
                insert_ignore(s, ReminderRun.__table__)
                .values(key=occ.key, status="done", fire_at=occ.fire_at_utc, ran_at=now, recipients=total)
                .on_conflict_do_nothing(index_elements=["key"])
            )
        log.info("stage reminder fired", extra={"occurrence": occ.key, "recipients": total})
        return added

    async def _reports(self, now: datetime, summary: RunSummary) -> None:
        async with self.sessions() as s, s.begin():
            rows = (
                await s.scalars(
                    select(Broadcast).where(
                        Broadcast.status == "sending", Broadcast.expanded.is_(True), Broadcast.report_sent.is_(False)
                    )
                )
            ).all()
            for b in rows:
                counts = await self.outbox.counts(s, broadcast_id=b.id)
                open_rows = counts.get(OutboxStatus.PENDING, 0) + counts.get(OutboxStatus.SENDING, 0)
                started = b.started_at or b.scheduled_at
                if open_rows and now - started < REPORT_TIMEOUT:
                    if open_rows <= REPORT_RECHECK_ROWS:
                        self._recheck_reports_soon()
                    continue
                moved = await s.execute(
                    update(Broadcast)
                    .where(Broadcast.id == b.id, Broadcast.report_sent.is_(False))
                    .values(report_sent=True, status="done", finished_at=now)
                )
                if not rowcount(moved):
                    continue
                text = t(
                    "bc.report",
                    id=b.id,
                    total=sum(counts.values()),
                    sent=counts.get(OutboxStatus.SENT, 0),
                    failed=counts.get(OutboxStatus.FAILED, 0) + counts.get(OutboxStatus.DEAD, 0),
                    blocked=counts.get(OutboxStatus.BLOCKED, 0),
                    unknown=counts.get(OutboxStatus.UNKNOWN, 0) + open_rows,
                )
                await self._to_creator(s, b, text, f"bcrep:{b.id}")
                audit(s, ACTOR, "broadcast.report", now, broadcast_id=b.id, counts=counts)
                summary.reports_sent.append(b.id)

    # --- admin notices -----------------------------------------------------------------------------
    async def _to_creator(self, s: AsyncSession, b: Broadcast, text: str, idem_key: str) -> None:
        try:
            channel, chat_id = self.services.identity.open(b.creator_enc)
        except ValueError:
            log.error("cannot open the creator address of a broadcast", extra={"broadcast_id": b.id})
            await self.notify_admins(s, Reply(text=text), idem_key)
            return
        await self.outbox.enqueue(
            s, channel=channel, chat_id=chat_id, reply=Reply(text=text), purpose=Purpose.NOTICE, idem_key=idem_key
        )

    def admin_targets(self) -> list[tuple[str, str]]:
        """(channel, chat id) of every configured admin on a channel this process can send to."""
        return self.services.admin_targets(self.reachable())

    async def notify_admins(self, s: AsyncSession, reply: Reply, idem_key: str) -> None:
        for channel, chat_id in self.admin_targets():
            await self.outbox.enqueue(
                s, channel=channel, chat_id=chat_id, reply=reply, purpose=Purpose.NOTICE,
                idem_key=f"{idem_key}:{hashlib.sha256(f'{channel}:{chat_id}'.encode()).hexdigest()[:12]}",
            )

    def local_label(self, at: datetime) -> str:
        from zoneinfo import ZoneInfo

        local = at.astimezone(ZoneInfo(self.settings.timezone))
        return f"{format_date_id(local.date())} {local:%H:%M} ({self.settings.timezone})"

    # --- housekeeping ------------------------------------------------------------------------------
    async def run_housekeeping(self, job_id: str) -> object:
        """Run one housekeeping job in its own transaction; a failure is logged, the next run retries."""
        try:
            async with self.sessions() as s, s.begin():
                return await self.housekeeping[job_id].run(s, utcnow())
        except Exception:
            log.exception("housekeeping job failed", extra={"job": job_id})
            return 0


def _load() -> list[Timeline]:
    try:
        return load_timelines()
    except TimelineError as exc:
        log.error("timelines not loaded; no stage reminders", extra={"error": str(exc)})
        return []
