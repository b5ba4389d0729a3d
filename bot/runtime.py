"""Wiring: settings → database, identity, outbox, router, core, delivery worker and channels."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.core.app import Core
from bot.core.identity import Identity
from bot.core.services import Services
from bot.storage.db import create_engine, session_maker
from bot.storage.migrate import upgrade
from broadcasts.delivery import ChannelSender, DeliveryWorker
from broadcasts.outbox import OutboxStore
from broadcasts.ratelimit import ChannelLimiter, Limit
from handlers import build_router

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


# Sends in flight at once: enough for the configured rates over a slow link (Telegram from Indonesia: round
# trips of 100-300 ms), at least 64. At 30 msg/s that is 64; at 1000 msg/s (paid broadcasts) 300.
MIN_INFLIGHT = 64
MAX_INFLIGHT = 1000
LINK_SECONDS = 0.3


def max_inflight(settings: Settings) -> int:
    rl = settings.rate_limits
    per_process = (rl.telegram_global_per_sec + rl.whatsapp_per_sec) / max(1, rl.sender_processes)
    return min(MAX_INFLIGHT, max(MIN_INFLIGHT, int(per_process * LINK_SECONDS)))


def freeze_heap() -> None:
    """Move everything allocated during start-up out of the garbage collector's sight (``gc.freeze``).

    Start-up leaves a large long-lived heap (region tables, PTB, SQLAlchemy, the knowledge base); every full
    collection would walk it again and stall the event loop for ~100 ms — long enough to waste a second of
    a paid broadcast's rate or bunch sends into a 429. Called once by ``run`` and ``worker`` before serving.
    """
    gc.collect()
    gc.freeze()


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    services: Services
    core: Core
    worker: DeliveryWorker
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    scheduler: Any = None
    leader_task: asyncio.Task[None] | None = None  # PostgreSQL: holds / waits for the scheduler lock
    watch: Any = None  # bot.alerts.DeliveryWatch: dead letters, stuck and unrouted tips -> admin alerts

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
        from bot.alerts import DeliveryWatch, chat_moved_hook

        worker.chat_moved = chat_moved_hook(services, worker.senders)
        return cls(settings, engine, services, core, worker, watch=DeliveryWatch(services, worker.senders))

    def add_sender(self, sender: ChannelSender) -> None:
        self.worker.senders[sender.channel] = sender

    async def migrate(self) -> None:
        await upgrade(self.engine)

    async def start(self, *, scheduler: bool = True) -> None:
        """Start background work: the delivery loop and (unless disabled) the scheduler."""
        self.tasks.append(asyncio.create_task(self.worker.run(), name="delivery"))
        self.tasks.append(asyncio.create_task(self.watch.run(on_alert=self.worker.notify), name="delivery-watch"))
        if scheduler:  # only on the leader (PostgreSQL advisory lock; SQLite: always) — bot/leader.py
            from bot.leader import lead_scheduler

            self.leader_task = await lead_scheduler(self)

    async def stop(self) -> None:
        if self.leader_task is not None:  # stops the scheduler if leading, releases the lock
            self.leader_task.cancel()
            await asyncio.gather(self.leader_task, return_exceptions=True)
            self.leader_task = None
        if self.scheduler is not None:
            await self.scheduler.shutdown()
            self.scheduler = None
        await self.worker.stop()
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self.tasks.clear()
        await self.engine.dispose()


@contextlib.contextmanager
def stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """Set ``stop`` on SIGINT/SIGTERM while inside the block (where the loop supports signal handlers)."""
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):
            pass
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
