"""Access control: admin commands and buttons, one region's Bawaslu group vs another's tips, webhook
authentication (Telegram secret token, Twilio signature)."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from bot.app.attach import whatsapp_webhook
from bot.app.runtime import Runtime
from bot.app.web import build_app
from bot.channels.telegram import TelegramChannel
from bot.core.clock import utcnow
from bot.storage.models import Broadcast, Tip, TipEvent
from tests.reliability import anon
from tests.reliability.conftest import ADMIN_ID, GROUP_KALTIM, GROUP_KUKAR, Audit
from tests.reliability.flows import submit_tip, to_chat
from tests.support.fakes.telegram_server import make_callback, make_message
from tests.support.telegram_harness import TOKEN, TelegramHarness

INTRUDER = 555_000_111  # an ordinary user who tries admin things
UNKNOWN_GROUP = -100777  # a group the bot was added to, not configured as a Bawaslu group


async def _ask(tg: TelegramHarness, chat: int, user: int, text: str, needle: str, *, press: bool = False) -> str:
    mark = tg.server.mark()
    update = make_callback(chat, user, text) if press else make_message(chat, user, text)
    tg.server.inject_update(update)
    call = await tg.server.wait_for(lambda c: to_chat(chat)(c) and needle in (c.text or ""), timeout=10, since=mark)
    return call.text or ""


async def _broadcast(tg: TelegramHarness) -> int:
    rt = tg.rt
    assert rt is not None
    async with rt.services.sessions() as s, s.begin():
        b = Broadcast(text="Siaran uji akses", audience="all", scheduled_at=utcnow().replace(year=2099),
                      creator_channel="telegram", creator_enc=rt.services.identity.seal("telegram", str(ADMIN_ID)),
                      creator_label="t")
        s.add(b)
        await s.flush()
        return b.id


async def test_non_admin_cannot_schedule_list_or_cancel_broadcasts(tg: TelegramHarness) -> None:
    bid = await _broadcast(tg)
    only_admin = "hanya untuk admin"
    assert only_admin in await _ask(tg, INTRUDER, INTRUDER, "/siaran", only_admin)
    assert only_admin in await _ask(tg, INTRUDER, INTRUDER, "/jadwal", only_admin)
    # /batal ID from a non-admin only cancels the user's own flow; the broadcast stays scheduled
    await _ask(tg, INTRUDER, INTRUDER, f"/batal {bid}", "")
    for data in ("bc:ok", "bc:a:all", "bc:r:64", "bc:x"):  # forged admin buttons
        assert only_admin in await _ask(tg, INTRUDER, INTRUDER, data, only_admin, press=True)
    # positive control: the admin can list and cancel
    assert "Siaran uji akses" in await _ask(tg, ADMIN_ID, ADMIN_ID, "/jadwal", "Siaran uji akses")
    rt = tg.rt
    assert rt is not None
    async with rt.services.sessions() as s:
        rows = (await s.scalars(select(Broadcast))).all()
    assert [(b.id, b.status) for b in rows] == [(bid, "scheduled")]
    await _ask(tg, ADMIN_ID, ADMIN_ID, f"/batal {bid}", str(bid))
    async with rt.services.sessions() as s:
        assert (await s.get(Broadcast, bid)).status == "cancelled"  # type: ignore[union-attr]


async def test_groups_cannot_act_on_or_see_other_regions_tips(tg: TelegramHarness, audit: Audit) -> None:
    server = tg.server
    kukar_code = await submit_tip(server, anon.REPORTER_ID, region="Kukar")
    smd_code = await submit_tip(server, anon.REPORTER_ID, region="Samarinda", what="Ikut deklarasi calon")
    await server.wait_for(lambda c: str(c.chat_id) == str(GROUP_KUKAR) and kukar_code in (c.text or ""), timeout=10)
    await server.wait_for(lambda c: str(c.chat_id) == str(GROUP_KALTIM) and smd_code in (c.text or ""), timeout=10)
    rt = tg.rt
    assert rt is not None
    async with rt.services.sessions() as s:
        kukar = await s.scalar(select(Tip).where(Tip.code == kukar_code))
    assert kukar is not None and kukar.group_chat_id == GROUP_KUKAR
    member = 31337
    refused = "tidak"  # group.not_allowed
    for chat in (GROUP_KALTIM, UNKNOWN_GROUP):
        for data in (f"tip:st:{kukar.id}:2", f"tip:st:{kukar.id}:4", f"tip:ask:{kukar.id}"):
            mark = server.mark()
            server.inject_update(make_callback(chat, member, data, chat_type="supergroup"))
            call = await server.wait_for(lambda c, ch=chat: to_chat(ch)(c), timeout=10, since=mark)
            assert refused in (call.text or "").lower() and kukar_code not in (call.text or "")
    # the reporter gets no status notice, the tip is unchanged and has only its "diterima" event
    async with rt.services.sessions() as s:
        tip = await s.get(Tip, kukar.id)
        events = (await s.scalars(select(TipEvent).where(TipEvent.tip_id == kukar.id))).all()
    assert tip is not None and tip.status == "diterima"
    assert [e.text for e in events] == ["diterima"]

    # /statistik and /ekspor in the province group: only its own tip
    stats = await _ask(tg, GROUP_KALTIM, member, "/statistik", "1")
    assert kukar_code not in stats
    mark = server.mark()
    server.inject_update(make_message(GROUP_KALTIM, member, "/ekspor"))
    doc = await server.wait_for(lambda c: c.method == "sendDocument" and str(c.chat_id) == str(GROUP_KALTIM)
                                and any((f.filename or "").endswith(".csv") for f in c.files.values()),
                                timeout=15, since=mark)
    data = next(f.data for f in doc.files.values() if (f.filename or "").endswith(".csv"))
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    audit.texts.append(("export csv", data.decode("utf-8-sig")))
    assert [r[0] for r in rows[1:]] == [smd_code]
    # an unknown group sees nothing at all
    empty = await _ask(tg, UNKNOWN_GROUP, member, "/statistik", "Belum ada")
    assert smd_code not in empty and kukar_code not in empty
    # positive control: the tip's own group can change its status
    changed = await _ask(tg, GROUP_KUKAR, member, f"tip:st:{kukar.id}:1", kukar_code, press=True)
    assert "ditelaah" in changed.lower()


async def test_telegram_webhook_requires_the_secret_token(make_settings: Any) -> None:
    settings = make_settings(telegram={
        "token": TOKEN, "mode": "webhook", "webhook_url": "https://contoh.invalid/telegram",
        "webhook_secret": "rahasia-webhook-0123456789", "base_url": "http://127.0.0.1:9/bot",
    })
    rt = Runtime.create(settings)
    channel = TelegramChannel(settings, rt.core.handle)
    queued: list[dict[str, Any]] = []

    async def record(data: dict[str, Any]) -> None:
        queued.append(data)

    channel.process_webhook_update = record  # type: ignore[method-assign]
    app = build_app(rt, channel)
    update = make_message(anon.REPORTER_ID, anon.REPORTER_ID, "halo")
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            no_secret = await client.post("/telegram", json=update)
            wrong = await client.post("/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "x"})
            almost = await client.post("/telegram", json=update,
                                       headers={"X-Telegram-Bot-Api-Secret-Token": "rahasia-webhook-012345678"})
            good = await client.post("/telegram", json=update,
                                     headers={"X-Telegram-Bot-Api-Secret-Token": "rahasia-webhook-0123456789"})
    finally:
        await rt.stop()
    assert [no_secret.status_code, wrong.status_code, almost.status_code] == [403, 403, 403]
    assert good.status_code == 200 and len(queued) == 1


async def test_twilio_webhook_rejects_forged_signatures(make_settings: Any) -> None:
    auth = "twilio-auth-token-0123456789abcdef"
    url = "https://contoh.invalid"
    settings = make_settings(whatsapp={"account_sid": "AC" + "0" * 32, "auth_token": auth,
                                       "sender": "whatsapp:+14155238886", "public_url": url})
    rt = Runtime.create(settings)
    app = build_app(rt, None, whatsapp_webhook(rt).routes())
    params = {"From": f"whatsapp:{anon.WHATSAPP_NUMBER}", "Body": "boleh PNS like postingan capres?",
              "MessageSid": "SM" + "1" * 32, "NumMedia": "0"}
    good_sig = RequestValidator(auth).compute_signature(url + "/whatsapp", params)
    forged_sig = RequestValidator("another-token-0123456789abcdefgh").compute_signature(url + "/whatsapp", params)
    tampered = {**params, "Body": "pesan lain"}
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            none = await client.post("/whatsapp", data=params)
            forged = await client.post("/whatsapp", data=params, headers={"X-Twilio-Signature": forged_sig})
            changed = await client.post("/whatsapp", data=tampered, headers={"X-Twilio-Signature": good_sig})
            status = await client.post("/whatsapp/status", data={"MessageSid": "SMx", "MessageStatus": "read"},
                                       headers={"X-Twilio-Signature": forged_sig})
            good = await client.post("/whatsapp", data=params, headers={"X-Twilio-Signature": good_sig})
    finally:
        await rt.stop()
    assert [none.status_code, forged.status_code, changed.status_code, status.status_code] == [403, 403, 403, 403]
    assert good.status_code == 200
