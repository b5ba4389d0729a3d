"""Stage reminders: per-region time zones, fire once, restart-safe jobs, misses reported."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from bot.storage.models import Outbox, ReminderRun, Subscriber
from broadcasts.timeline import Timeline, load_timeline
from tests.broadcasts.conftest import Harness, freeze

TIMELINE = """
id = "uji-2026"
name = "Pemilu Uji 2026"
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
reminder = "ASN dilarang ikut kampanye."
"""

# 1 day before 2027-03-10 at 07:00 local: WITA (UTC+8) = 2027-03-08 23:00 UTC, WIB (UTC+7) = 2027-03-09 00:00 UTC.
WITA_FIRE = datetime(2027, 3, 8, 23, 0, tzinfo=UTC)
WIB_FIRE = datetime(2027, 3, 9, 0, 0, tzinfo=UTC)
WIT_FIRE = datetime(2027, 3, 8, 22, 0, tzinfo=UTC)


def timeline(tmp_path: Path) -> Timeline:
    path = tmp_path / "uji.toml"
    path.write_text(TIMELINE, encoding="utf-8")
    return load_timeline(path)


async def reminder_rows(h: Harness) -> list[tuple[str, str]]:
    ident = h.rt.services.identity
    async with h.rt.services.sessions() as s:
        rows = (await s.scalars(select(Outbox).where(Outbox.purpose == "reminder").order_by(Outbox.id))).all()
    return [(ident.open(r.addr_enc)[1], r.idem_key or "") for r in rows]


async def runs(h: Harness) -> dict[str, str]:
    async with h.rt.services.sessions() as s:
        return {r.key: r.status for r in (await s.scalars(select(ReminderRun))).all()}


async def test_reminder_fires_at_local_07_in_each_zone(harness: Harness, tmp_path: Path) -> None:
    tl = timeline(tmp_path)
    freeze(datetime(2027, 3, 1, tzinfo=UTC))
    wita = await harness.add_subscribers(2, "64.02", prefix="kukar")  # WITA
    wib = await harness.add_subscribers(1, "31.71", prefix="jkt")  # WIB
    await harness.add_subscribers(1, "31.71", prefix="gone")
    async with harness.rt.services.sessions() as s, s.begin():
        await s.execute(update(Subscriber).where(Subscriber.id == 4).values(active=False))
    sched = await harness.rt.start_scheduler(timelines=[tl])
    try:
        jobs = {job.id: job.next_run_time for job in sched._aps.get_jobs()}  # type: ignore[union-attr]
        assert jobs["reminder:uji-2026:kampanye:d1-0700@Asia/Makassar"] == WITA_FIRE
        assert jobs["reminder:uji-2026:kampanye:d1-0700@Asia/Jakarta"] == WIB_FIRE
        assert jobs["reminder:uji-2026:kampanye:d1-0700@Asia/Jayapura"] == WIT_FIRE

        summary = await sched.run_due(WIT_FIRE - timedelta(seconds=1))
        assert summary.reminders_fired == [] and await reminder_rows(harness) == []
        summary = await sched.run_due(WITA_FIRE - timedelta(seconds=1))  # 07:00 WIT: nobody subscribed there
        assert summary.reminders_fired == ["uji-2026:kampanye:d1-0700@Asia/Jayapura"]
        assert await reminder_rows(harness) == []

        freeze(WITA_FIRE)
        summary = await sched.run_due(WITA_FIRE)
        assert summary.reminders_fired == ["uji-2026:kampanye:d1-0700@Asia/Makassar"]
        assert sorted(c for c, _ in await reminder_rows(harness)) == sorted(wita)

        summary = await sched.run_due(WITA_FIRE + timedelta(minutes=30))  # WIB not yet: 06:30 WIB
        assert summary.reminders_fired == []

        freeze(WIB_FIRE)
        summary = await sched.run_due(WIB_FIRE)
        assert summary.reminders_fired == ["uji-2026:kampanye:d1-0700@Asia/Jakarta"]
        rows = await reminder_rows(harness)
        assert sorted(c for c, _ in rows) == sorted(wita + wib)  # the inactive subscriber got nothing
        assert all(k.startswith("rem:uji-2026:kampanye:d1-0700@") for _, k in rows)

        again = await sched.run_due(WIB_FIRE + timedelta(minutes=5))
        assert again.reminders_fired == [] and len(await reminder_rows(harness)) == 3
        statuses = await runs(harness)
        assert statuses["uji-2026:kampanye:d1-0700@Asia/Makassar"] == "done"
        assert statuses["uji-2026:kampanye:d1-0700@Asia/Jakarta"] == "done"
        assert statuses["uji-2026:kampanye:d1-0700@Asia/Jayapura"] == "done"  # fired with 0 recipients

        await harness.rt.worker.drain()
        for chat in wita + wib:
            got = harness.sender.to(chat)
            assert len(got) == 1 and "Dimulai besok: Masa kampanye" in got[0] and "ASN dilarang" in got[0]
    finally:
        await sched.shutdown()


async def test_restart_rebuilds_jobs_and_does_not_repeat(harness: Harness, tmp_path: Path) -> None:
    tl = timeline(tmp_path)
    freeze(datetime(2027, 3, 1, tzinfo=UTC))
    await harness.add_subscribers(1, "64.02")
    sched = await harness.rt.start_scheduler(timelines=[tl])
    first = sched.job_ids()
    await sched.shutdown()
    assert sched.job_ids() == []

    freeze(WITA_FIRE + timedelta(minutes=10))  # "restart" 10 minutes after the WITA instant
    sched = await harness.rt.start_scheduler(timelines=[tl])
    try:
        assert "reminder:uji-2026:kampanye:d1-0700@Asia/Makassar" not in sched.job_ids()  # past: done at start
        assert "reminder:uji-2026:kampanye:d1-0700@Asia/Jakarta" in sched.job_ids()
        assert set(sched.job_ids()) <= set(first)
        assert len(await reminder_rows(harness)) == 1  # caught up at start, within the grace period
        await sched.run_due(WITA_FIRE + timedelta(minutes=11))
        assert len(await reminder_rows(harness)) == 1
    finally:
        await sched.shutdown()


async def test_reminder_missed_beyond_grace_is_reported(make_settings: Any, tmp_path: Path) -> None:
    tl = timeline(tmp_path)
    h = Harness(make_settings(scheduler={"misfire_grace_minutes": 60}))
    try:
        freeze(datetime(2027, 3, 1, tzinfo=UTC))
        await h.add_subscribers(1, "64.02")
        sched = h.rt.new_scheduler(timelines=[tl])
        await sched.ensure_installed(datetime(2027, 3, 1, tzinfo=UTC))
        late = WITA_FIRE + timedelta(minutes=90)  # down for 90 min: WITA missed, WIB (30 min late) still sent
        freeze(late)
        summary = await sched.run_due(late)
        assert summary.reminders_missed == [
            "uji-2026:kampanye:d1-0700@Asia/Jayapura", "uji-2026:kampanye:d1-0700@Asia/Makassar"
        ]
        assert summary.reminders_fired == ["uji-2026:kampanye:d1-0700@Asia/Jakarta"]
        statuses = await runs(h)
        assert statuses["uji-2026:kampanye:d1-0700@Asia/Makassar"] == "missed"
        assert await reminder_rows(h) == []  # the WITA subscriber does not get a late reminder
        await h.rt.worker.drain()
        notice = h.sender.to("console-user")
        assert len(notice) == 1 and "2 pengingat tahapan TIDAK dikirim" in notice[0]
        assert "Masa kampanye" in notice[0]
        await sched.run_due(late + timedelta(minutes=1))
        await h.rt.worker.drain()
        assert len(h.sender.to("console-user")) == 1  # reported once
    finally:
        await h.close()


async def test_occurrences_before_installation_are_history(harness: Harness) -> None:
    """Shipped 2024 timelines: a fresh install in 2026 neither sends nor reports their old reminders."""
    freeze(datetime(2026, 1, 5, tzinfo=UTC))
    await harness.add_subscribers(1, "64.02")
    sched = await harness.rt.start_scheduler()
    try:
        assert sched.timelines, "shipped timelines load"
        summary = await sched.run_due(datetime(2026, 1, 5, 0, 1, tzinfo=UTC))
        assert summary.reminders_fired == [] and summary.reminders_missed == []
        assert await reminder_rows(harness) == []
        assert "scheduler:tick" in sched.job_ids() and "tips:purge" in sched.job_ids()
        assert "retention:purge" in sched.job_ids()
    finally:
        await sched.shutdown()


async def test_the_scheduler_runs_the_retention_purge(harness: Harness) -> None:
    """The hourly job does the purge of bot/storage/retention.py with the configured periods."""
    from bot.core.clock import utcnow
    from bot.storage.models import ProcessedUpdate

    old = utcnow() - timedelta(days=harness.rt.settings.retention.processed_updates_days + 1)
    async with harness.rt.services.sessions() as s, s.begin():
        s.add_all([ProcessedUpdate(key="telegram:old", created_at=old), ProcessedUpdate(key="telegram:new")])
    sched = harness.rt.new_scheduler(timelines=[])
    assert sched.housekeeping["retention:purge"].every == "hour"
    done = await sched.run_housekeeping("retention:purge")
    assert isinstance(done, dict) and done["processed_updates"] == 1
    async with harness.rt.services.sessions() as s:
        assert (await s.scalars(select(ProcessedUpdate.key))).all() == ["telegram:new"]
