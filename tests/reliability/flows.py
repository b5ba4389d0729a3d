"""Driving whole user flows through the fake Telegram server (in-process harness)."""

from __future__ import annotations

import re
from typing import Any

from tests.reliability import anon
from tests.support.fakes.telegram_server import FakeTelegramServer, RecordedCall, make_callback, make_message

CODE_RE = re.compile(r"JN-[23456789A-HJKMNP-Z]{4}-[23456789A-HJKMNP-Z]{4}")
WHO = {"username": anon.USERNAME, "first_name": anon.FIRST_NAME, "last_name": anon.LAST_NAME}


def button_data(call: RecordedCall) -> list[str]:
    markup = call.params.get("reply_markup") or {}
    if not isinstance(markup, dict):
        return []
    return [str(b.get("callback_data")) for row in markup.get("inline_keyboard", []) for b in row]


def to_chat(chat_id: int) -> Any:
    return lambda c: str(c.chat_id) == str(chat_id) and c.method.startswith("send")


async def _step(
    server: FakeTelegramServer, chat: int, update: dict[str, Any], pred: Any, timeout: float
) -> RecordedCall:
    mark = server.mark()
    server.inject_update(update)
    base = to_chat(chat)
    return await server.wait_for(lambda c: base(c) and pred(c), timeout=timeout, since=mark)


async def submit_tip(
    server: FakeTelegramServer, user_id: int, *, region: str = "Kukar", what: str = "Menyukai postingan paslon",
    chat_id: int | None = None, timeout: float = 10.0, names: dict[str, Any] | None = None, confirm: bool = True,
) -> str | None:
    """The whole /lapor flow as a Telegram user (identifiers from ``anon``); returns the receipt code."""
    chat = chat_id if chat_id is not None else user_id
    who = {**WHO, **(names or {})}
    cb_kw = {"username": who.get("username"), "first_name": who.get("first_name", "Pengguna")}

    def msg(text: str) -> dict[str, Any]:
        return make_message(chat, user_id, text, **who)

    def press(data: str) -> dict[str, Any]:
        return make_callback(chat, user_id, data, **cb_kw)

    def has(prefix: str) -> Any:
        return lambda c: any(d.startswith(prefix) for d in button_data(c))

    await _step(server, chat, msg(f"/lapor {region}"), has("lapor:c:"), timeout)
    await _step(server, chat, press("lapor:c:medsos"), has("lapor:skip"), timeout)
    await _step(server, chat, press("lapor:skip"), lambda c: "Langkah 4/6" in (c.text or ""), timeout)
    await _step(server, chat, msg("Kantor camat, Senin 10.00"), lambda c: "Langkah 5/6" in (c.text or ""), timeout)
    await _step(server, chat, msg(what), has("lapor:done"), timeout)
    await _step(server, chat, press("lapor:done"), has("lapor:ok"), timeout)
    if not confirm:  # stop at the review step; press "lapor:ok" yourself
        return None
    call = await _step(server, chat, press("lapor:ok"), lambda c: bool(CODE_RE.search(c.text or "")), timeout)
    match = CODE_RE.search(call.text or "")
    assert match is not None
    return match.group(0)


async def seed_subscribers(rt: Any, chat_ids: list[int], region: str = "64.02") -> None:
    from sqlalchemy import insert

    from bot.storage.models import Subscriber

    ident = rt.services.identity
    async with rt.services.sessions() as s, s.begin():
        await s.execute(insert(Subscriber), [
            {"channel": "telegram", "addr_key": ident.key("addr", "telegram", str(c)),
             "addr_enc": ident.seal("telegram", str(c)), "region_code": region, "role": "asn", "active": True,
             "blocked": False} for c in chat_ids
        ])


async def add_broadcast(rt: Any, text: str, admin_id: int) -> int:
    from bot.core.clock import utcnow
    from bot.storage.models import Broadcast

    async with rt.services.sessions() as s, s.begin():
        b = Broadcast(text=text, audience="all", scheduled_at=utcnow(), creator_channel="telegram",
                      creator_enc=rt.services.identity.seal("telegram", str(admin_id)), creator_label="t")
        s.add(b)
        await s.flush()
        return int(b.id)


async def outbox_open(rt: Any) -> int:
    from sqlalchemy import func, select

    from bot.storage.models import Outbox

    async with rt.services.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(Outbox).where(
            Outbox.status.in_(("pending", "sending")))) or 0)
