"""WhatsApp end to end: the real Starlette app under uvicorn (127.0.0.1), the real TwilioSender against the
fake Twilio REST API, signed webhooks built with twilio's RequestValidator.

The bot believes it lives at ``PUBLIC_URL`` (behind a reverse proxy): webhooks are signed for that URL and
posted to the local uvicorn address, like a proxy would forward them.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import select

from bot.app.attach import attach_telegram, attach_whatsapp
from bot.app.runtime import Runtime
from bot.app.web import build_app
from bot.channels.telegram import TelegramChannel
from bot.channels.twilio_client import TwilioSender
from bot.config import Settings
from bot.storage.models import Outbox, Subscriber
from tests.support.fakes.telegram_server import FakeTelegramServer
from tests.support.fakes.twilio_server import (
    DEFAULT_SENDER,
    FakeTwilioServer,
    SentMessage,
    build_status_callback,
    post_inbound,
)
from tests.support.telegram_harness import telegram_overrides

PUBLIC_URL = "https://jaganetral.example.id"
INBOUND_URL = PUBLIC_URL + "/whatsapp"
STATUS_URL = PUBLIC_URL + "/whatsapp/status"
NUMBER = "+6281377712345"  # distinctive: the anonymity checks look for it everywhere
USER = "whatsapp:" + NUMBER
PROFILE_NAME = "Wulandari Rahasiaputri"
TEMPLATES = {
    "reminder": "HX" + "1" * 32,
    "broadcast": "HX" + "2" * 32,
    "tip_update": "HX" + "3" * 32,
}
KAB, PROV, DEFAULT = -100611, -100622, -100633
GROUPS = {"64.02": KAB, "64": PROV, "default": DEFAULT}
FAST = {"telegram_per_chat_per_sec": 100.0, "telegram_per_group_per_min": 6000.0, "whatsapp_per_sec": 1000.0}
_CHOICE = re.compile(r"^\s+(\d+)\. (.*)$", re.MULTILINE)


def secrets_of(number: str = NUMBER, profile_name: str = PROFILE_NAME) -> list[str]:
    """Every spelling of the reporter's identifiers that must never leak."""
    return [number, number.lstrip("+"), number[3:], profile_name, profile_name.split()[-1]]


def whatsapp_settings(server: FakeTwilioServer, **whatsapp: Any) -> dict[str, Any]:
    return {
        "whatsapp": {
            "account_sid": server.account_sid,
            "auth_token": server.auth_token,
            "sender": DEFAULT_SENDER,
            "public_url": PUBLIC_URL,
            "api_base_url": server.url,
            "templates": TEMPLATES,
            **whatsapp,
        }
    }


class WhatsAppHarness:
    """A Runtime with WhatsApp (and optionally Telegram for the Bawaslu groups) behind real HTTP."""

    def __init__(self, settings: Settings, twilio: FakeTwilioServer, tg: FakeTelegramServer | None = None) -> None:
        self.settings = settings
        self.twilio = twilio
        self.tg = tg
        self.rt: Runtime | None = None
        self.sender: TwilioSender | None = None
        self.telegram: TelegramChannel | None = None
        self.http: httpx.AsyncClient | None = None
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.local_url = ""

    async def start(self) -> WhatsAppHarness:
        self.rt = rt = Runtime.create(self.settings)
        if self.tg is not None:
            self.telegram = attach_telegram(rt)
            await self.telegram.start()
        self.sender, routes = await attach_whatsapp(rt)
        await rt.start(scheduler=False)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.local_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(build_app(rt, None, routes), lifespan="off", log_level="warning")
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        for _ in range(500):  # bounded: 5 s
            if self._server.started:
                break
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        assert self._server.started, "uvicorn did not start"
        self.http = httpx.AsyncClient(timeout=15.0)
        return self

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.aclose()
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 5)
        if self.telegram is not None:
            await self.telegram.stop()
        if self.rt is not None:
            await self.rt.stop()
        if self.sender is not None:
            await self.sender.close()

    # --- acting as a WhatsApp user -----------------------------------------------------------------
    async def post(self, body: str = "", *, from_: str = USER, profile_name: str = PROFILE_NAME,
                   **kw: Any) -> httpx.Response:
        """A signed inbound webhook (as Twilio signs it for the public URL), posted to the local server."""
        return await post_inbound(INBOUND_URL, self.twilio.auth_token, via=self.local_url + "/whatsapp",
                                  client=self.http, from_=from_, body=body, profile_name=profile_name, **kw)

    async def say(self, body: str = "", *, from_: str = USER, **kw: Any) -> list[str]:
        """Send a message and return the bodies Twilio was asked to deliver to this user in answer."""
        mark = len(self.twilio.messages)
        resp = await self.post(body, from_=from_, **kw)
        assert resp.status_code == 200, resp.text
        assert "<Response" in resp.text
        await self.drain()
        return [m.body or "" for m in self.twilio.messages[mark:] if m.to == from_]

    async def press(self, label_fragment: str, *, from_: str = USER) -> list[str]:
        """Answer the number of the choice whose label contains ``label_fragment`` in the last message."""
        for msg in reversed([m for m in self.twilio.messages if m.to == from_ and m.body]):
            for number, label in _CHOICE.findall(msg.body or ""):
                if label_fragment.lower() in label.lower():
                    return await self.say(number, from_=from_)
        raise AssertionError(f"no choice {label_fragment!r} in the last messages")

    async def drain(self) -> None:
        assert self.rt is not None
        await self.rt.worker.drain()

    def to_user(self, user: str = USER, since: int = 0) -> list[SentMessage]:
        return [m for m in self.twilio.messages[since:] if m.to == user]

    async def status_callback(self, sid: str, status: str, error_code: int | None = None) -> httpx.Response:
        return await self.twilio.send_status_callback(STATUS_URL, sid, status, error_code,
                                                      via=self.local_url + "/whatsapp/status", client=self.http)

    async def post_status_raw(self, sid: str, status: str, *, token: str | None = None) -> httpx.Response:
        params, headers = build_status_callback(STATUS_URL, token or self.twilio.auth_token, sid, status,
                                                account_sid=self.twilio.account_sid)
        assert self.http is not None
        return await self.http.post(self.local_url + "/whatsapp/status", data=params, headers=headers)

    # --- database -----------------------------------------------------------------------------------
    async def outbox_row(self, external_id: str | None = None, **where: Any) -> Outbox:
        assert self.rt is not None
        stmt = select(Outbox).order_by(Outbox.id.desc())
        if external_id is not None:
            stmt = stmt.where(Outbox.external_id == external_id)
        for key, value in where.items():
            stmt = stmt.where(getattr(Outbox, key) == value)
        async with self.rt.services.sessions() as s:
            row = await s.scalar(stmt)
        assert row is not None, f"no outbox row for {external_id} {where}"
        return row

    async def subscriber(self, user: str = USER) -> Subscriber | None:
        assert self.rt is not None
        key = self.rt.services.identity.key("addr", "whatsapp", user.removeprefix("whatsapp:"))
        async with self.rt.services.sessions() as s:
            return await s.scalar(select(Subscriber).where(Subscriber.addr_key == key))


@pytest.fixture
async def twilio_server() -> AsyncIterator[FakeTwilioServer]:
    server = FakeTwilioServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def wa(make_settings: Any, twilio_server: FakeTwilioServer) -> AsyncIterator[WhatsAppHarness]:
    settings = make_settings(rate_limits=FAST, bawaslu_groups=GROUPS, **whatsapp_settings(twilio_server))
    harness = WhatsAppHarness(settings, twilio_server)
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()


@pytest.fixture
async def wa_tg(make_settings: Any, twilio_server: FakeTwilioServer) -> AsyncIterator[WhatsAppHarness]:
    """WhatsApp users, Bawaslu groups on Telegram (fake Bot API server)."""
    tg = FakeTelegramServer()
    await tg.start()
    settings = make_settings(rate_limits=FAST, bawaslu_groups=GROUPS, **whatsapp_settings(twilio_server),
                             **telegram_overrides(tg))
    harness = WhatsAppHarness(settings, twilio_server, tg)
    try:
        await harness.start()
        yield harness
    finally:
        await harness.stop()
        await tg.stop()
