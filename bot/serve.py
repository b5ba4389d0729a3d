"""``python -m bot run``: every configured channel, the web server when needed, the delivery loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn

from bot.config import ConfigError, Settings
from bot.runtime import Runtime, freeze_heap, stop_on_signals

log = logging.getLogger(__name__)


async def serve(settings: Settings, stop_event: asyncio.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM (or ``stop_event``); then finish in-flight sends and stop cleanly."""
    from bot.channels.telegram import attach_telegram

    problem = routing_problem(settings)
    if problem is not None:
        raise ConfigError(problem)
    rt = Runtime.create(settings)
    await rt.migrate()
    telegram = attach_telegram(rt) if settings.telegram.enabled else None
    stoppers: list[Callable[[], Awaitable[None]]] = []
    stop = stop_event or asyncio.Event()
    with stop_on_signals(stop):
        await _serve(rt, telegram, stop, stoppers)


def routing_problem(settings: Settings) -> str | None:
    """Why tips could not reach their groups with this configuration (``run``, not the console chat)."""
    if settings.bawaslu_groups and not settings.telegram.enabled:
        return (
            "bawaslu_groups routes tips to Telegram groups, but telegram.token is not set: tips would never be "
            "delivered. Set telegram.token (env JAGANETRAL_TELEGRAM__TOKEN), or remove [bawaslu_groups] to use "
            "the console chat."
        )
    return None


async def _serve(
    rt: Runtime, telegram: Any, stop: asyncio.Event, stoppers: list[Callable[[], Awaitable[None]]]
) -> None:
    from bot.web import build_app

    settings = rt.settings
    try:
        await rt.start()
        if telegram is not None:
            await telegram.start()
            stoppers.append(telegram.stop)
            log.info("telegram channel started", extra={"mode": settings.telegram.mode})
        routes: list[Any] = []
        if settings.whatsapp.enabled:
            from bot.channels.whatsapp import attach_whatsapp

            twilio, routes = await attach_whatsapp(rt)
            stoppers.append(twilio.close)
            log.info("whatsapp channel started")
        stoppers.append(rt.worker.stop)  # runs after the web server stops, before channels close: sends finish
        freeze_heap()
        needs_web = settings.telegram.mode == "webhook" or settings.whatsapp.enabled
        if needs_web:
            app = build_app(rt, telegram, routes)
            config = uvicorn.Config(
                app, host=settings.web.host, port=settings.web.port, lifespan="off", log_level="warning"
            )
            server = uvicorn.Server(config)
            web_task = asyncio.create_task(server.serve(), name="web")

            async def stop_web() -> None:
                server.should_exit = True
                await web_task

            stoppers.append(stop_web)
            log.info("web server started", extra={"port": settings.web.port})
        await stop.wait()
        log.info("shutting down")
    finally:
        for fn in reversed(stoppers):  # stop taking input first, then drain what is in flight
            try:
                await fn()
            except Exception:
                log.exception("error while stopping")
        await rt.stop()
