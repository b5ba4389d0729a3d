"""Wiring: settings → database, identity, outbox, router, core, delivery worker and channels."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app.alerts import DeliveryWatch, chat_moved_hook
from bot.app.leader import Leadership, start_as_leader
from bot.config import Settings, max_inflight
from bot.core.dispatcher import Core
from bot.core.identity import Identity
from bot.core.services import Services
from bot.outbox.delivery import DeliveryWorker
from bot.outbox.ports import ChannelSender
from bot.outbox.ratelimit import ChannelLimiter, Limit
from bot.outbox.store import OutboxStore
from bot.storage.db import create_engine, session_maker
from bot.storage.migrate import upgrade
from bot.storage.retention import purge as purge_retention
from broadcasts.scheduler import Housekeeping, Scheduler
from broadcasts.timeline import Timeline
from handlers import build_router
from handlers.tips.store import purge_expired

log = logging.getLogger(__name__)


def build_limiters(settings: Settings) -> dict[str, ChannelLimiter]:
    rl = settings.rate_limits
    # The limiter is per process: with several sender processes (PostgreSQL) each takes its share of the
    # global rates. Per-chat / per-group limits cannot be split and stay per process (see docs/production.md).
    share = max(1, rl.sender_processes)
    return {
        "telegram": ChannelLimiter(
            Limit(max(1, int(rl.telegram_global_per_sec / share)), 1.0),
            Limit(1, 1.0 / rl.telegram_per_chat_per_sec),
            Limit(int(rl.telegram_per_group_per_min), 60.0),
        ),
        "whatsapp": ChannelLimiter(Limit(max(1, int(rl.whatsapp_per_sec / share)), 1.0), None, None),
        "console": ChannelLimiter(None, None, None),
    }


def preload() -> None:
    """Build now what the first update would otherwise build: the FAQ matcher, intents and reply parts (~0.1 s)
    and the region tables (~0.08 s). The first users of a burst then do not wait for it, and ``freeze_heap`` (called
    after this) puts it out of the garbage collector's sight with the rest of start-up."""
    from bot import regions
    from faq.decision import default_intents
    from faq.matcher import default_matcher
    from faq.reply import reply_parts

    intents = default_intents()  # builds the default matcher (and loads the knowledge base) too
    reply_parts(default_matcher().kb, intents)  # every entry's rendered answer and buttons
    regions.provinces()


def freeze_heap() -> None:
    """Move everything allocated during start-up out of the garbage collector's sight (``gc.freeze``).

    Start-up leaves a large long-lived heap (region tables, PTB, SQLAlchemy, the knowledge base); every full
    collection would walk it again and stall the event loop for ~100 ms — long enough to waste a second of
    a paid broadcast's rate or bunch sends into a 429. Called once by ``run`` and ``worker`` before serving.
    """
    gc.collect()
    gc.freeze()


Step = Callable[[], Awaitable[object]]  # a shutdown step: stop an input, close a client


async def run_each(steps: Iterable[Step], failure: str) -> None:
    """Shutdown: await each step in turn; one that raises is logged as ``failure`` and the rest still run."""
    for step in steps:
        try:
            await step()
        except Exception:
            log.exception(failure)


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    services: Services
    core: Core
    worker: DeliveryWorker
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    scheduler: Scheduler | None = None
    leader_task: asyncio.Task[None] | None = None  # PostgreSQL: holds / waits for the scheduler lock
    watch: DeliveryWatch | None = None  # dead letters, stuck and unrouted tips -> admin alerts

    @classmethod
    def create(cls, settings: Settings, senders: dict[str, ChannelSender] | None = None) -> Runtime:
        engine = create_engine(settings.database.url, echo=settings.database.echo)
        identity = Identity(settings.secret)
        outbox = OutboxStore(identity)
        services = Services(settings=settings, identity=identity, sessions=session_maker(engine), outbox=outbox)
        core = Core(services, build_router())
        worker = DeliveryWorker(
            services.sessions, outbox, dict(senders or {}), build_limiters(settings),
            max_inflight=max_inflight(settings), max_attempts=settings.delivery.max_attempts,
        )
        core.on_committed(worker.notify)
        worker.chat_moved = chat_moved_hook(services, worker.senders)
        return cls(settings, engine, services, core, worker, watch=DeliveryWatch(services, worker.senders))

    def add_sender(self, sender: ChannelSender) -> None:
        self.worker.senders[sender.channel] = sender

    async def migrate(self) -> None:
        await upgrade(self.engine)

    async def start(self, *, scheduler: bool = True) -> None:
        """Start background work: the delivery loop and (unless disabled) the scheduler."""
        self.tasks.append(asyncio.create_task(self.worker.run(), name="delivery"))
        if self.watch is not None:
            self.tasks.append(asyncio.create_task(self.watch.run(on_alert=self.worker.notify), name="delivery-watch"))
        if scheduler:  # only on the leader (PostgreSQL advisory lock; SQLite: always) — bot/app/leader.py
            self.leader_task = await self.lead_scheduler()

    def new_scheduler(self, *, timelines: list[Timeline] | None = None) -> Scheduler:
        """A scheduler wired to this runtime: it wakes our delivery loop and tells admins on our channels."""
        return Scheduler(
            self.services,
            notify=self.worker.notify,
            reachable=lambda: self.worker.senders.keys(),
            timelines=timelines,
            housekeeping={
                "tips:purge": Housekeeping(lambda s, now: purge_expired(s, now, self.services.identity)),
                "retention:purge": Housekeeping(
                    lambda s, now: purge_retention(s, now, self.settings.retention), every="hour"
                ),
            },
        )

    async def start_scheduler(self, *, timelines: list[Timeline] | None = None) -> Scheduler:
        """Create and start this runtime's scheduler (after migrations and ``start()``)."""
        scheduler = self.new_scheduler(timelines=timelines)
        await scheduler.start()
        return scheduler

    async def lead_scheduler(self) -> asyncio.Task[None] | None:
        """Start the scheduler, only on the leader.

        SQLite: started at once (one process), returns None. PostgreSQL: see ``start_as_leader``; the returned
        task keeps the lock (or waits for it) and keeps ``self.scheduler`` set only while leading.
        """
        if self.settings.is_sqlite:
            self.scheduler = await self.start_scheduler()
            return None

        async def start() -> Scheduler:
            self.scheduler = await self.start_scheduler()
            return self.scheduler

        async def stop(sched: Scheduler) -> None:
            try:
                await sched.shutdown()
            finally:
                if self.scheduler is sched:
                    self.scheduler = None

        return await start_as_leader(
            start, stop, Leadership(self.settings.database.url),
            retry_seconds=self.settings.scheduler.leader_retry_seconds, name="scheduler-leader",
        )

    async def stop(self, *, grace: float = 0.0) -> None:
        """Finish the updates in flight, stop the scheduler, then the delivery loop: what those committed is
        delivered within ``grace`` seconds (``DeliveryWorker.stop``; bulk sends wait for the next start)."""
        await self.core.close()  # updates in their transactions finish before the engine goes
        if self.leader_task is not None:  # stops the scheduler if leading, releases the lock
            self.leader_task.cancel()
            await asyncio.gather(self.leader_task, return_exceptions=True)
            self.leader_task = None
        if self.scheduler is not None:
            await self.scheduler.shutdown()
            self.scheduler = None
        await self.worker.stop(grace=grace)
        delivery = [task for task in self.tasks if task.get_name() == "delivery"]
        if delivery:  # the delivery loop ends by itself after its current step; cancelling it inside a
            await asyncio.wait(delivery, timeout=5)  # query would log a pool "reset" error with a traceback
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks.clear()
        await self.engine.dispose()
