"""``python -m bot run``: every configured channel, the web server when needed, the delivery loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import Any

import uvicorn

from bot.app.runtime import Runtime, Step, freeze_heap, preload, run_each
from bot.app.startup import bind_web_socket, migrate_or_fail, telegram_error
from bot.config import ConfigError, Settings, routing_problem
from bot.outbox.delivery import STOP_GRACE
from bot.signals import stop_on_signals

log = logging.getLogger(__name__)


async def serve(settings: Settings, stop_event: asyncio.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM (or ``stop_event``); then finish in-flight sends and stop cleanly."""
    from bot.app.attach import attach_telegram

    problem = routing_problem(settings)
    if problem is not None:
        raise ConfigError(problem)
    rt = Runtime.create(settings)
    try:
        await migrate_or_fail(rt)  # start-up failures: one clear line each (bot/app/startup.py)
        sock = bind_web_socket(settings) if _needs_web(settings) else None
    except BaseException:
        await rt.stop()
        raise
    telegram = attach_telegram(rt) if settings.telegram.enabled else None
    stop = stop_event or asyncio.Event()
    try:
        with stop_on_signals(stop):
            await _serve(rt, telegram, stop, sock)
    finally:
        if sock is not None:
            sock.close()


def _needs_web(settings: Settings) -> bool:
    return settings.telegram.mode == "webhook" or settings.whatsapp.enabled


async def _start_telegram(telegram: Any) -> None:
    """Start polling / set the webhook; Telegram unreachable or the token rejected → StartupError."""
    from telegram.error import InvalidToken, NetworkError, TelegramError

    try:
        await telegram.start()
    except (InvalidToken, NetworkError, TelegramError) as exc:
        with contextlib.suppress(Exception):
            await telegram.stop()
        with contextlib.suppress(Exception):
            await telegram.bot.shutdown()  # closes the HTTP session when get_me failed half-way
        raise telegram_error(telegram.settings, exc) from None


async def _serve(rt: Runtime, telegram: Any, stop: asyncio.Event, sock: socket.socket | None = None) -> None:
    """Serve until ``stop``. Then, in this order: stop taking input (the web server, Telegram polling), each
    waiting for the updates it already took; finish the core's transactions and stop the scheduler; deliver for
    ``STOP_GRACE`` seconds what they committed and let the sends in flight finish (``Runtime.stop``); only then
    close the channels' HTTP clients, which the delivery loop sends through."""
    from bot.app.web import build_app

    settings = rt.settings
    inputs: list[Step] = []  # stopped first, the last started first
    clients: list[Step] = []  # closed last
    try:
        if telegram is not None:  # before the scheduler: a bot that cannot start sends nothing
            await _start_telegram(telegram)
            inputs.append(telegram.stop_input)
            clients.append(telegram.close)
        await rt.start()
        if telegram is not None:
            log.info("telegram channel started", extra={"mode": settings.telegram.mode})
        routes: list[Any] = []
        if settings.whatsapp.enabled:
            from bot.app.attach import attach_whatsapp

            twilio, routes = await attach_whatsapp(rt)
            clients.append(twilio.close)
            log.info("whatsapp channel started")
        preload()
        freeze_heap()
        if sock is not None:
            app = build_app(rt, telegram, routes)
            config = uvicorn.Config(
                app, host=settings.web.host, port=settings.web.port, lifespan="off", log_level="warning"
            )
            server = uvicorn.Server(config)
            web_task = asyncio.create_task(server.serve(sockets=[sock]), name="web")

            async def stop_web() -> None:
                server.should_exit = True
                await web_task

            inputs.append(stop_web)
            log.info("web server started", extra={"port": settings.web.port})
        await stop.wait()
        log.info("shutting down")
    finally:
        await run_each(reversed(inputs), "error while stopping")
        try:
            await rt.stop(grace=STOP_GRACE)
        finally:
            await run_each(clients, "error while stopping")
