"""``python -m bot run`` with WhatsApp only: ``serve()`` wires the channel through ``attach_whatsapp``."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx

from bot.app.serve import serve
from tests.channels.whatsapp.conftest import INBOUND_URL, STATUS_URL, USER, whatsapp_settings
from tests.support.fakes.twilio_server import FakeTwilioServer, post_inbound


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_serve_answers_whatsapp_and_stops_cleanly(make_settings: Any, twilio_server: FakeTwilioServer) -> None:
    port = _free_port()
    settings = make_settings(**whatsapp_settings(twilio_server), web={"host": "127.0.0.1", "port": port})
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop))
    local = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            for _ in range(200):  # bounded: 10 s
                assert not task.done(), task.exception() if task.done() else None
                try:
                    if (await http.get(local + "/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
            resp = await post_inbound(INBOUND_URL, twilio_server.auth_token, via=local + "/whatsapp", client=http,
                                      from_=USER, body="/bantuan")
            assert resp.status_code == 200
            msg = await twilio_server.wait_for(lambda m: m.to == USER and "/lapor" in (m.body or ""), timeout=10)
            assert msg.status_callback == STATUS_URL
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
