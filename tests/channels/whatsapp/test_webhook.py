"""Webhook security (403 forged, 400 malformed, 413 too large) and status callbacks on outbox rows."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from bot.core.model import Reply
from bot.storage.models import Conversation, Outbox
from tests.channels.whatsapp.conftest import INBOUND_URL, NUMBER, TEMPLATES, USER, WhatsAppHarness, secrets_of
from tests.support.fakes.twilio_server import FORGERIES, build_inbound, post_forged_inbound


async def _count(wa: WhatsAppHarness, model: type) -> int:
    assert wa.rt is not None
    async with wa.rt.services.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "bot.channels.whatsapp" and r.levelno >= logging.WARNING]


@pytest.mark.parametrize("how", FORGERIES)
async def test_forged_webhook_is_rejected_403(wa: WhatsAppHarness, caplog: pytest.LogCaptureFixture, how: str) -> None:
    caplog.set_level(logging.DEBUG)
    resp = await post_forged_inbound(INBOUND_URL, wa.twilio.auth_token, how=how, via=wa.local_url + "/whatsapp",
                                     client=wa.http, from_=USER, body="/start")
    assert resp.status_code == 403
    await wa.drain()
    assert wa.twilio.messages == []
    assert await _count(wa, Outbox) == 0 and await _count(wa, Conversation) == 0
    [warning] = _warnings(caplog)
    assert "invalid signature" in warning.getMessage()
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert not [s for s in secrets_of() if s in logged]


async def test_signature_is_checked_against_the_public_url_not_the_local_one(wa: WhatsAppHarness) -> None:
    local = wa.local_url + "/whatsapp"
    params, headers = build_inbound(local, wa.twilio.auth_token, from_=USER, body="/start")
    assert wa.http is not None
    resp = await wa.http.post(local, data=params, headers=headers)
    assert resp.status_code == 403  # signed for the internal address: not what Twilio would sign


@pytest.mark.parametrize("body", [
    b"this is not a form",
    b"From=whatsapp%3A%2B6281377712345&Body=halo&garbage",
    b"From=whatsapp%3A%2B6281377712345&Body=\xff\xfe",
])
async def test_malformed_webhook_is_rejected_400(
    wa: WhatsAppHarness, caplog: pytest.LogCaptureFixture, body: bytes
) -> None:
    caplog.set_level(logging.DEBUG)
    assert wa.http is not None
    resp = await wa.http.post(wa.local_url + "/whatsapp", content=body,
                              headers={"Content-Type": "application/x-www-form-urlencoded",
                                       "X-Twilio-Signature": "abc"})
    assert resp.status_code == 400
    [warning] = _warnings(caplog)
    assert "malformed" in warning.getMessage()
    assert NUMBER not in f"{warning.getMessage()} {warning.__dict__}"


async def test_signed_but_not_whatsapp_is_400_and_number_not_logged(
    wa: WhatsAppHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    resp = await wa.post("halo", from_=NUMBER)  # SMS sender, no "whatsapp:" prefix
    assert resp.status_code == 400
    [warning] = _warnings(caplog)
    assert not [s for s in secrets_of() if s in f"{warning.getMessage()} {warning.__dict__}"]
    assert await _count(wa, Outbox) == 0


async def test_oversized_webhook_is_rejected_413(wa: WhatsAppHarness) -> None:
    assert wa.http is not None
    resp = await wa.http.post(wa.local_url + "/whatsapp", content=b"Body=" + b"a" * 70_000,
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status_code == 413


async def test_duplicate_webhook_is_answered_once(wa: WhatsAppHarness) -> None:
    first = await wa.post("/start", message_sid="SM" + "d" * 32)
    second = await wa.post("/start", message_sid="SM" + "d" * 32)  # Twilio retrying the same message
    assert first.status_code == second.status_code == 200
    await wa.drain()
    assert len(wa.to_user()) == 1


# --- status callbacks -------------------------------------------------------------------------------

async def test_status_callback_delivered_is_recorded_and_never_downgraded(wa: WhatsAppHarness) -> None:
    await wa.say("/start")
    sid = wa.to_user()[-1].sid
    row = await wa.outbox_row(sid)
    assert row.status == "sent" and row.platform_status is None
    assert (await wa.status_callback(sid, "sent")).status_code == 200
    assert (await wa.status_callback(sid, "delivered")).status_code == 200
    assert (await wa.outbox_row(sid)).platform_status == "delivered"
    await wa.status_callback(sid, "sent")  # late, out of order
    row = await wa.outbox_row(sid)
    assert row.platform_status == "delivered" and row.status == "sent" and row.last_error is None


async def test_forged_status_callback_is_rejected(wa: WhatsAppHarness) -> None:
    await wa.say("/start")
    sid = wa.to_user()[-1].sid
    resp = await wa.post_status_raw(sid, "undelivered", token="f" * 32)
    assert resp.status_code == 403
    assert (await wa.outbox_row(sid)).platform_status is None


async def test_undelivered_63016_on_a_reply_is_recorded_as_failed(wa: WhatsAppHarness) -> None:
    await wa.say("/start")
    await wa.drain()  # the welcome may go out in parts (1,600 characters each): all of them, before counting
    sent = len(wa.to_user())
    sid = wa.to_user()[-1].sid
    assert (await wa.status_callback(sid, "undelivered", 63016)).status_code == 200
    row = await wa.outbox_row(sid)
    assert row.platform_status == "undelivered" and row.status == "failed"
    assert row.last_error is not None and "63016" in row.last_error
    await wa.drain()
    assert len(wa.to_user()) == sent  # a reply has no template: not re-sent


async def test_undelivered_63016_on_a_reminder_is_resent_as_template(wa: WhatsAppHarness) -> None:
    await wa.say("/start")  # window open: the reminder goes free-form first
    assert wa.rt is not None
    async with wa.rt.services.sessions() as s, s.begin():
        await wa.rt.services.outbox.enqueue(s, channel="whatsapp", chat_id=NUMBER, purpose="reminder",
                                            reply=Reply(text="Besok: masa tenang.\n\nASN tetap netral."),
                                            idem_key="rem:test:1")
    wa.rt.worker.notify()
    await wa.drain()
    free = wa.to_user()[-1]
    assert free.content_sid is None and "masa tenang" in (free.body or "")
    row_id = (await wa.outbox_row(free.sid)).id

    assert (await wa.status_callback(free.sid, "undelivered", 63016)).status_code == 200
    await wa.drain()
    tpl = await wa.twilio.wait_for(lambda m: m.content_sid == TEMPLATES["reminder"])
    assert tpl.to == USER and tpl.body is None
    assert tpl.content_variables == {"1": "Besok: masa tenang. ASN tetap netral."}
    row = await wa.outbox_row(idem_key="rem:test:1")
    assert row.id == row_id and row.status == "sent" and row.external_id == tpl.sid
    # the template itself failing with 63016 again is not re-queued a second time
    await wa.status_callback(tpl.sid, "undelivered", 63016)
    await wa.drain()
    row = await wa.outbox_row(idem_key="rem:test:1")
    assert row.status == "failed" and "63016" in (row.last_error or "")
    assert len([m for m in wa.to_user() if m.content_sid]) == 1


async def test_callback_opt_out_code_deactivates_the_subscriber(wa: WhatsAppHarness) -> None:
    await wa.say("/langganan Kukar")
    await wa.press("ASN")
    sid = wa.to_user()[-1].sid
    await wa.status_callback(sid, "failed", 21610)
    row = await wa.outbox_row(sid)
    assert row.status == "blocked"
    sub = await wa.subscriber()
    assert sub is not None and not sub.active and sub.blocked


async def test_callback_for_an_unknown_message_is_acknowledged(wa: WhatsAppHarness) -> None:
    resp = await wa.status_callback("SM" + "0" * 32, "delivered")
    assert resp.status_code == 200
