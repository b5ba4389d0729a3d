"""The 24-hour window: reminders through the scheduler use a template when it is closed; error 63016."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.core.clock import set_clock
from bot.core.model import Reply
from broadcasts.timeline import load_timeline
from tests.channels.whatsapp.conftest import NUMBER, TEMPLATES, USER, WhatsAppHarness

TIMELINE = """
id = "uji-wa-2027"
name = "Pemilu Uji 2027"
kind = "pemilu"
enabled = true
regions = ["*"]
timezone = "local"
reminders = [{ days_before = 1, at = "07:00" }]

[[stage]]
id = "kampanye"
name = "Masa kampanye"
start = 2027-03-10
end = 2027-03-20
reminder = "ASN dilarang ikut kampanye.\\nTetap netral."
"""
T0 = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)
WITA_FIRE = datetime(2027, 3, 8, 23, 0, tzinfo=UTC)  # 07:00 WITA on 9 March
OTHER = "whatsapp:+6281399988877"


def freeze(at: datetime) -> None:
    set_clock(lambda: at)


async def _subscribe(wa: WhatsAppHarness, user: str, region: str = "Kukar") -> None:
    await wa.say(f"/langganan {region}", from_=user)
    [done] = await wa.press("ASN", from_=user)
    assert "Terima kasih" in done


async def test_reminder_uses_the_template_outside_the_window(wa: WhatsAppHarness, tmp_path: Path) -> None:
    assert wa.rt is not None
    path = tmp_path / "uji.toml"
    path.write_text(TIMELINE, encoding="utf-8")
    sched = wa.rt.new_scheduler(timelines=[load_timeline(path)])
    freeze(T0)
    await sched.ensure_installed(T0)
    await _subscribe(wa, USER)  # last message a week before the reminder: window closed by then
    freeze(WITA_FIRE - timedelta(hours=2))
    await _subscribe(wa, OTHER, "Samarinda")  # wrote 2 hours before: window still open
    freeze(WITA_FIRE)
    mark = len(wa.twilio.messages)
    summary = await sched.run_due(WITA_FIRE)
    assert "uji-wa-2027:kampanye:d1-0700@Asia/Makassar" in summary.reminders_fired
    await wa.drain()

    [closed] = wa.to_user(USER, since=mark)
    assert closed.content_sid == TEMPLATES["reminder"] and closed.body is None
    variable = closed.content_variables["1"] if closed.content_variables else ""
    assert "Masa kampanye" in variable and "ASN dilarang ikut kampanye. Tetap netral." in variable
    assert "\n" not in variable

    [open_] = wa.to_user(OTHER, since=mark)
    assert open_.content_sid is None and "Masa kampanye" in (open_.body or "")
    assert "ASN dilarang ikut kampanye.\nTetap netral." in (open_.body or "")

    # the user answers the template: the window is open again, replies are free-form
    [answer] = await wa.say("/tahapan")
    assert "Kutai Kartanegara" in answer
    assert wa.to_user(USER)[-1].content_sid is None


async def _enqueue(wa: WhatsAppHarness, purpose: str, text: str, idem: str) -> None:
    assert wa.rt is not None
    async with wa.rt.services.sessions() as s, s.begin():
        await wa.rt.services.outbox.enqueue(s, channel="whatsapp", chat_id=NUMBER, reply=Reply(text=text),
                                            purpose=purpose, idem_key=idem)
    wa.rt.worker.notify()
    await wa.drain()


async def test_window_closed_without_template_fails_with_a_clear_reason(wa: WhatsAppHarness) -> None:
    await _enqueue(wa, "reply", "Halo", "x:1")  # nobody wrote: no window at all
    row = await wa.outbox_row(idem_key="x:1")
    assert row.status == "failed" and "window closed" in (row.last_error or "")
    assert wa.twilio.messages == []
    await _enqueue(wa, "broadcast", "Pengumuman\n\npenting", "x:2")
    msg = await wa.twilio.wait_for(lambda m: m.content_sid == TEMPLATES["broadcast"])
    assert msg.content_variables == {"1": "Pengumuman penting"}
    assert (await wa.outbox_row(idem_key="x:2")).status == "sent"


async def test_synchronous_63016_fails_a_reply_and_falls_back_to_template_for_reminders(
    wa: WhatsAppHarness,
) -> None:
    await wa.say("/start")
    wa.twilio.reject_next(code=63016)
    await _enqueue(wa, "reply", "Jawaban", "y:1")
    row = await wa.outbox_row(idem_key="y:1")
    assert row.status == "failed" and "63016" in (row.last_error or "") and "24h window" in (row.last_error or "")

    wa.twilio.reject_next(code=63016)
    mark = len(wa.twilio.messages)
    await _enqueue(wa, "reminder", "Besok masa tenang", "y:2")
    [msg] = wa.to_user(since=mark)
    assert msg.content_sid == TEMPLATES["reminder"]
    assert (await wa.outbox_row(idem_key="y:2")).status == "sent"
    # Twilio said the window was closed: later reminders go straight to the template
    await _enqueue(wa, "reminder", "Lusa pemungutan suara", "y:3")
    assert wa.to_user()[-1].content_sid == TEMPLATES["reminder"]
    rejected = [r for r in wa.twilio.requests if r.code == 63016]
    assert len(rejected) == 2


async def test_rate_limit_and_opt_out_errors_from_twilio(wa: WhatsAppHarness) -> None:
    await wa.say("/start")
    wa.twilio.rate_limit_next(1, retry_after=0.2)
    await _enqueue(wa, "reply", "Satu", "z:1")
    assert wa.rt is not None
    await wa.rt.worker.drain(retries=True)
    assert (await wa.outbox_row(idem_key="z:1")).status == "sent"
    wa.twilio.set_recipient_error(USER, code=21610)
    await _enqueue(wa, "reply", "Dua", "z:2")
    row = await wa.outbox_row(idem_key="z:2")
    assert row.status == "blocked" and "21610" in (row.last_error or "")
