"""``python -m bot worker``: a sender-only process (PostgreSQL) that drains the shared outbox.

It runs the delivery loop with the senders of the configured channels and nothing else: no Telegram
polling or webhook, no WhatsApp webhook, no scheduler, no migrations (run ``python -m bot db upgrade``
first). Any number of workers (plus the ``run`` process, which also sends) can share one outbox:
``OutboxStore.due`` claims rows with ``SELECT … FOR UPDATE SKIP LOCKED`` and marks them ``sending`` in the
same transaction, so a row is claimed by exactly one process. Each process takes
``1 / rate_limits.sender_processes`` of the global rates (see ``bot.app.runtime.build_limiters``).

SQLite has a single writer: there a worker is refused (use ``python -m bot run`` alone).
"""

from __future__ import annotations

import asyncio
import logging
import os

from bot.app.runtime import Runtime, Step, freeze_heap, run_each
from bot.config import ConfigError, Settings
from bot.outbox.delivery import STOP_GRACE
from bot.signals import stop_on_signals

log = logging.getLogger(__name__)


# Minimum connections to the Bot API per worker (aiohttp transport, as the `run` process uses).
HTTP_POOL = 16


def check_worker_settings(settings: Settings) -> None:
    """Raise ConfigError when a separate sender process cannot work with these settings."""
    if settings.is_sqlite:
        raise ConfigError(
            "python -m bot worker needs PostgreSQL (database.url = 'postgresql+asyncpg://…'): SQLite has a "
            "single writer, so `python -m bot run` alone sends everything"
        )
    if settings.rate_limits.sender_processes < 2:
        log.warning(
            "rate_limits.sender_processes is 1 but a separate worker is running: every process will use the "
            "whole global rate; set it to the number of sending processes (run + workers)"
        )
    if not (settings.telegram.enabled or settings.whatsapp.enabled):
        raise ConfigError("python -m bot worker: no channel configured (telegram.token or whatsapp.*)")


async def _check_schema(settings: Settings) -> None:
    from bot.app.doctor import check_database

    check = await check_database(settings)
    if not check.ok:
        raise ConfigError(f"database: {check.detail}")


async def attach_senders(rt: Runtime, inflight: int) -> list[Step]:
    """Add the senders of the configured channels to ``rt``; returns the functions that close them."""
    closers: list[Step] = []
    settings = rt.settings
    if settings.telegram.enabled:
        from telegram import Bot

        from bot.channels.telegram import TelegramSender
        from bot.channels.telegram_http import AiohttpRequest

        tg = settings.telegram
        assert tg.token is not None
        bot = Bot(
            tg.token.get_secret_value(),
            base_url=tg.base_url,
            base_file_url=tg.base_file_url,
            request=AiohttpRequest(connection_pool_size=max(inflight, HTTP_POOL)),
        )
        await bot.initialize()  # getMe: a wrong token fails here, not on every send
        closers.append(bot.shutdown)
        rt.add_sender(TelegramSender(bot, rt.services.load_media))
    if settings.whatsapp.enabled:
        from bot.channels.twilio_client import TwilioSender
        from bot.channels.whatsapp import WhatsAppSender, status_callback_url

        wa = settings.whatsapp
        assert wa.account_sid is not None and wa.auth_token is not None
        status_url = status_callback_url(settings)
        twilio = TwilioSender(
            wa.account_sid, wa.auth_token.get_secret_value(), api_base_url=wa.api_base_url,
            status_callback_url=status_url,
        )
        await twilio.start()
        closers.append(twilio.close)
        rt.add_sender(WhatsAppSender(settings, twilio, rt.services.sessions))
    return closers


async def run_worker(settings: Settings, stop_event: asyncio.Event | None = None) -> dict[str, int]:
    """Drain the outbox until SIGINT/SIGTERM (or ``stop_event``); finish in-flight sends; return the stats."""
    check_worker_settings(settings)
    await _check_schema(settings)
    stop = stop_event or asyncio.Event()
    with stop_on_signals(stop):
        return await _run(settings, stop)


async def _run(settings: Settings, stop: asyncio.Event) -> dict[str, int]:
    rt = Runtime.create(settings)
    closers: list[Step] = []
    try:
        closers = await attach_senders(rt, rt.worker.max_inflight)
        await rt.start(scheduler=False)  # the scheduler runs on `run` nodes only (one leader)
        freeze_heap()
        log.info(
            "worker started",
            extra={
                "pid": os.getpid(),
                "channels": ",".join(rt.worker.channels),
                "sender_processes": settings.rate_limits.sender_processes,
            },
        )
        await stop.wait()
        log.info("worker shutting down")
    finally:
        await rt.stop(grace=STOP_GRACE)  # delivers what is due (not bulk), waits for in-flight sends, records them
        await run_each(reversed(closers), "error while closing a sender")
    stats = dict(rt.worker.stats)
    log.info("worker stopped", extra={"pid": os.getpid(), **{f"n_{k}": v for k, v in stats.items()}})
    return stats
