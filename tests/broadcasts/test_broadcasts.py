"""Admin broadcasts: the /siaran flow, listing, cancelling, sending, reports, misses and crash recovery."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.core.model import Reply
from bot.storage.models import AuditLog, Broadcast, Outbox, Subscriber
from broadcasts import audience
from broadcasts.scheduler import MAX_IDEM, idem_prefixes
from handlers.broadcast_admin import parse_when
from tests.broadcasts.conftest import ADMIN, Harness, freeze

NOW = datetime(2027, 1, 10, 2, 0, tzinfo=UTC)  # 10:00 WITA


async def broadcasts(h: Harness) -> list[Broadcast]:
    async with h.rt.services.sessions() as s:
        return list((await s.scalars(select(Broadcast).order_by(Broadcast.id))).all())


async def audit_actions(h: Harness) -> list[tuple[str, str]]:
    async with h.rt.services.sessions() as s:
        return [(a.actor, a.action) for a in (await s.scalars(select(AuditLog).order_by(AuditLog.id))).all()]


async def outbox_statuses(h: Harness, bid: int) -> dict[str, int]:
    async with h.rt.services.sessions() as s:
        return await h.rt.services.outbox.counts(s, broadcast_id=bid)


async def create_via_flow(h: Harness, text: str, when: str, audience_button: str = "1") -> str:
    out = await h.say("/siaran")
    assert "Tulis teks siaran" in out
    out = await h.say(text)
    assert "Pratinjau" in out and text in out and "Pengumuman JagaNetral" in out
    await h.say(audience_button)
    out = await h.say(when)
    assert "Periksa sekali lagi" in out, out
    return await h.say("1")  # ✅ Jadwalkan siaran


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sekarang", NOW),
        ("2027-12-01 07:00", datetime(2027, 11, 30, 23, 0, tzinfo=UTC)),
        ("besok 07:00", datetime(2027, 1, 10, 23, 0, tzinfo=UTC)),
        ("01/12/2027 07.00", datetime(2027, 11, 30, 23, 0, tzinfo=UTC)),
        ("besok pukul 07.00 WIB", datetime(2027, 1, 11, 0, 0, tzinfo=UTC)),
        ("hari ini 19:30", datetime(2027, 1, 10, 11, 30, tzinfo=UTC)),
        ("lusa 7:05 wit", datetime(2027, 1, 11, 22, 5, tzinfo=UTC)),
        ("besok", None),
        ("32/13/2027 07.00", None),
        ("kapan-kapan", None),
        ("2027-12-01 25:00", None),
    ],
)
def test_parse_when(text: str, expected: datetime | None) -> None:
    assert parse_when(text, NOW, "Asia/Makassar") == expected


async def test_schedule_list_cancel_never_sent(harness: Harness) -> None:
    freeze(NOW)
    await harness.add_subscribers(3, "64.02")
    sched = await harness.rt.start_scheduler(timelines=[])
    try:
        out = await create_via_flow(harness, "Rapat koordinasi netralitas besok pagi.", "besok 07:00")
        assert "Siaran #1 dijadwalkan" in out and "11-01-2027 07:00 WITA" in out
        [b] = await broadcasts(harness)
        assert b.status == "scheduled" and b.audience == "all"
        assert b.scheduled_at == datetime(2027, 1, 10, 23, 0, tzinfo=UTC)
        assert harness.rt.services.identity.open(b.creator_enc) == ("console", ADMIN)
        assert "broadcast:1" in sched.job_ids()

        out = await harness.say("/jadwal")
        assert "#1" in out and "11-01-2027 07:00 WITA" in out and "Rapat koordinasi" in out and "terjadwal" in out

        out = await harness.say("/batal 1")
        assert "dibatalkan" in out
        assert "broadcast:1" not in sched.job_ids()
        out = await harness.say("/batal 1")
        assert "tidak bisa dibatalkan" in out
        assert "Tidak ada siaran" in await harness.say("/jadwal")

        summary = await sched.run_due(datetime(2027, 1, 10, 23, 0, 5, tzinfo=UTC))
        assert summary.broadcasts_started == []
        await harness.rt.worker.drain()
        assert harness.sender.purposes("broadcast") == []
        assert [b.status for b in await broadcasts(harness)] == ["cancelled"]
        assert await audit_actions(harness) == [
            (f"console:{ADMIN}", "broadcast.create"),
            (f"console:{ADMIN}", "broadcast.cancel"),
        ]
    finally:
        await sched.shutdown()


async def test_batal_without_id_cancels_the_flow(harness: Harness) -> None:
    await harness.say("/siaran")
    out = await harness.say("/batal")
    assert "Dibatalkan" in out
    out = await harness.say("/jadwal")
    assert "Tidak ada siaran" in out
    assert await broadcasts(harness) == []


async def test_non_admin_refused(make_settings: Any) -> None:
    h = Harness(make_settings(console_admin=False))
    try:
        async with h.rt.services.sessions() as s, s.begin():
            s.add(Broadcast(text="x", audience="all", scheduled_at=NOW + timedelta(days=1), creator_channel="console",
                            creator_enc="-", creator_label="console:admin"))
        for cmd in ("/siaran", "/jadwal"):
            assert "hanya untuk admin" in await h.say(cmd)
        out = await h.say("/batal 1")  # a non-admin's /batal only cancels their own flow: here, none
        assert "Tidak ada yang sedang berjalan" in out
        assert [b.status for b in await broadcasts(h)] == ["scheduled"]
        assert await audit_actions(h) == []
    finally:
        await h.close()


async def test_province_audience_send_now_with_report(harness: Harness) -> None:
    freeze(NOW)
    kukar = await harness.add_subscribers(3, "64.02", role="asn", prefix="k")
    smd = await harness.add_subscribers(2, "64.72", role="publik", prefix="s")
    jkt = await harness.add_subscribers(2, "31.71", role="asn", prefix="j")
    harness.sender.blocked.add("k2")
    sched = await harness.rt.start_scheduler(timelines=[])
    try:
        await harness.say("/siaran")
        await harness.say("Apel netralitas ASN se-Kaltim.")
        out = await harness.say("2")  # Satu provinsi
        assert "nama provinsi" in out
        out = await harness.say("Kaltim")
        assert "Kapan dikirim" in out
        out = await harness.say("sekarang")
        assert "pelanggan di Kalimantan Timur (5 pelanggan aktif saat ini)" in out
        out = await harness.say("1")
        assert "Siaran #1 dijadwalkan (sekarang)" in out

        summary = await sched.run_due(NOW + timedelta(seconds=2))
        assert summary.broadcasts_started == [1] and summary.enqueued == 5
        await harness.rt.worker.drain()
        got = sorted(harness.sender.purposes("broadcast"))
        assert got == sorted(c for c in kukar + smd if c != "k2")
        assert all(harness.sender.to(c) == [] for c in jkt)
        subs = {s.region_code + s.addr_key: s for s in await harness.subscribers()}
        ident = harness.rt.services.identity
        blocked = [s for s in subs.values() if s.addr_key == ident.key("addr", "console", "k2")]
        assert len(blocked) == 1 and not blocked[0].active and blocked[0].blocked

        summary = await sched.run_due(NOW + timedelta(seconds=5))
        assert summary.reports_sent == [1]
        await harness.rt.worker.drain()
        report = harness.sender.to(ADMIN)[-1]
        assert "Laporan siaran #1" in report
        assert "Penerima: 5" in report and "Terkirim: 4" in report and "Memblokir bot: 1" in report
        assert "Gagal: 0" in report and "Tidak pasti/tertunda: 0" in report
        again = await sched.run_due(NOW + timedelta(seconds=10))
        assert again.reports_sent == []
        [b] = await broadcasts(harness)
        assert b.status == "done" and b.report_sent and b.expanded
        actions = [a for _, a in await audit_actions(harness)]
        assert actions == ["broadcast.create", "broadcast.send_start", "broadcast.report"]
    finally:
        await sched.shutdown()


async def test_kabkota_and_asn_audiences(harness: Harness) -> None:
    await harness.add_subscribers(2, "64.02", role="asn", prefix="k")
    await harness.add_subscribers(1, "64.02", role="publik", prefix="kp")
    await harness.add_subscribers(2, "64.72", role="asn", prefix="s")
    await harness.add_subscribers(1, "64", role="asn", prefix="p")
    async with harness.rt.services.sessions() as s:
        assert await audience.count(s, audience.Audience("region", "64.02").condition()) == 3
        assert await audience.count(s, audience.Audience("region", "64").condition()) == 6
        assert await audience.count(s, audience.Audience("asn").condition()) == 5
        assert await audience.count(s, audience.Audience("all").condition()) == 6


async def test_missed_broadcast_beyond_grace_is_reported(harness: Harness) -> None:
    await harness.add_subscribers(2, "64.02")
    ident = harness.rt.services.identity
    async with harness.rt.services.sessions() as s, s.begin():
        for minutes in (30, 120):  # 30 min late: still sent; 2 h late (grace 60 min): missed
            s.add(Broadcast(text=f"late {minutes}", audience="all", scheduled_at=NOW - timedelta(minutes=minutes),
                            creator_channel="console", creator_enc=ident.seal("console", ADMIN),
                            creator_label="console:admin"))
    freeze(NOW)
    sched = harness.rt.new_scheduler(timelines=[])
    summary = await sched.run_due(NOW)
    assert summary.broadcasts_started == [1] and summary.broadcasts_missed == [2]
    await harness.rt.worker.drain()
    texts = [t for t in (harness.sender.to("u0") + harness.sender.to("u1"))]
    assert texts and all("late 30" in t for t in texts) and len(texts) == 2
    notice = [m for m in harness.sender.to(ADMIN) if "#2" in m]
    assert len(notice) == 1 and "TIDAK dikirim" in notice[0]
    assert [b.status for b in await broadcasts(harness)] == ["sending", "missed"]
    await sched.run_due(NOW + timedelta(minutes=1))
    await harness.rt.worker.drain()
    assert len([m for m in harness.sender.to(ADMIN) if "#2" in m and "TIDAK" in m]) == 1


# --- crash and resume ------------------------------------------------------------------------------

async def settle(h: Harness, bid: int) -> dict[str, int]:
    """Let the running delivery loop work until nothing of the broadcast (or admin notices) is pending."""
    for _ in range(200):
        async with h.rt.services.sessions() as s:
            busy = await s.scalar(select(Outbox.id).where(Outbox.status.in_(("pending", "sending"))).limit(1))
        if busy is None:
            return await outbox_statuses(h, bid)
        await asyncio.sleep(0.05)
    raise AssertionError(f"outbox not drained: {await outbox_statuses(h, bid)}")


async def _new_broadcast(h: Harness) -> int:
    ident = h.rt.services.identity
    async with h.rt.services.sessions() as s, s.begin():
        b = Broadcast(text="Pesan penting", audience="all", scheduled_at=NOW, creator_channel="console",
                      creator_enc=ident.seal("console", ADMIN), creator_label="console:admin")
        s.add(b)
        await s.flush()
        return b.id


async def test_crash_mid_expansion_and_delivery_resumes_without_duplicates(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    freeze(NOW)
    h1 = Harness(settings)
    chats = await h1.add_subscribers(250, "64.02")
    bid = await _new_broadcast(h1)
    monkeypatch.setattr(audience, "CHUNK", 100)

    # Crash 1: the process dies after the first chunk of the expansion.
    real = h1.rt.services.outbox.enqueue_audience
    calls = {"n": 0}

    async def dying(session: Any, *args: Any, **kwargs: Any) -> tuple[int, int, int | None]:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("process killed")
        return await real(session, *args, **kwargs)

    monkeypatch.setattr(h1.rt.services.outbox, "enqueue_audience", dying)
    with pytest.raises(RuntimeError):
        await h1.rt.new_scheduler(timelines=[]).run_due(NOW)
    assert (await outbox_statuses(h1, bid)) == {"pending": 100}
    monkeypatch.setattr(h1.rt.services.outbox, "enqueue_audience", real)

    # Deliver part of it, then stop abruptly between worker turns (nothing left in "sending").
    h1.rt.worker.max_inflight = 30
    await h1.rt.worker.step()
    await h1.rt.worker.stop()
    assert (await outbox_statuses(h1, bid)) == {"sent": 30, "pending": 70}
    first = list(h1.sender.purposes("broadcast"))
    await h1.rt.engine.dispose()  # no orderly Runtime.stop: the process is gone

    # Restart on the same database: the scheduler resumes the expansion, the worker drains.
    h2 = Harness(settings)
    try:
        await h2.rt.start()
        sched = await h2.rt.start_scheduler(timelines=[])
        try:
            await settle(h2, bid)
            assert await outbox_statuses(h2, bid) == {"sent": 250}
            second = h2.sender.purposes("broadcast")
            everyone = first + second
            assert sorted(everyone) == sorted(chats)  # exactly once each: no loss, no duplicate
            await sched.run_due(NOW + timedelta(seconds=1))
            await settle(h2, bid)
            report = h2.sender.to(ADMIN)
            assert len(report) == 1 and "Terkirim: 250" in report[0]
        finally:
            await sched.shutdown()
    finally:
        await h2.close()


async def test_rows_in_sending_at_crash_become_unknown_and_are_not_resent(settings: Any) -> None:
    freeze(NOW)
    h1 = Harness(settings)
    await h1.add_subscribers(20, "64.02")
    bid = await _new_broadcast(h1)
    await h1.rt.new_scheduler(timelines=[]).run_due(NOW)
    # The crash happened while 5 requests were in flight: their rows stay "sending", lease expired.
    async with h1.rt.services.sessions() as s, s.begin():
        ids = (await s.scalars(select(Outbox.id).where(Outbox.broadcast_id == bid).order_by(Outbox.id).limit(5))).all()
        await s.execute(
            update(Outbox).where(Outbox.id.in_(ids)).values(status="sending", lease_until=NOW - timedelta(minutes=5))
        )
    await h1.rt.engine.dispose()

    h2 = Harness(settings)
    try:
        await h2.rt.start()  # the delivery loop recovers expired leases first
        sched = await h2.rt.start_scheduler(timelines=[])
        try:
            counts = await settle(h2, bid)
            assert counts == {"sent": 15, "unknown": 5}
            ident = h2.rt.services.identity
            async with h2.rt.services.sessions() as s:
                unknown = {ident.open(e)[1] for e in (await s.scalars(
                    select(Outbox.addr_enc).where(Outbox.id.in_(ids)))).all()}
            assert not unknown & set(h2.sender.purposes("broadcast"))
            await sched.run_due(NOW + timedelta(seconds=1))
            await settle(h2, bid)
            report = h2.sender.to(ADMIN)
            assert len(report) == 1 and "Terkirim: 15" in report[0] and "Tidak pasti/tertunda: 5" in report[0]
        finally:
            await sched.shutdown()
    finally:
        await h2.close()


async def test_subscriber_query_ignores_inactive(harness: Harness) -> None:
    await harness.add_subscribers(2, "64.02")
    async with harness.rt.services.sessions() as s, s.begin():
        await s.execute(update(Subscriber).where(Subscriber.id == 1).values(active=False))
    async with harness.rt.services.sessions() as s:
        assert await audience.count(s, audience.Audience("all").condition()) == 1


def idem(prefix: str, key: str, subscriber_id: int) -> str:
    """The key format, stated independently: ``prefix:key:subscriber``, the key part hashed beyond 128 chars."""
    full = f"{prefix}:{key}:{subscriber_id}"
    if len(full) <= MAX_IDEM:
        return full
    return f"{prefix}:{hashlib.sha256(key.encode()).hexdigest()[:40]}:{subscriber_id}"


async def test_expansion_inside_the_database_copies_each_subscriber_once_with_the_same_keys(harness: Harness) -> None:
    """``enqueue_audience`` (INSERT … SELECT) writes the rows the Python path would: addresses, template
    columns, and idempotency keys equal to ``idem()``, hashed ones included; a repeat adds nothing."""
    await harness.add_subscribers(12, "64.02")
    await harness.add_subscribers(3, "64.02", role="publik", prefix="p")
    outbox = harness.rt.services.outbox
    template = outbox.row_values(channel="console", chat_id="-", reply=Reply(text="Halo <b>semua</b>"),
                                 purpose="reminder", priority=5)
    cond = audience.Audience("all", role="asn").condition()
    long_key = "k" * (MAX_IDEM - len("rem::") - 1)  # "rem:k…k:1" fits, "rem:k…k:10" is hashed
    prefixes = idem_prefixes("rem", long_key)
    async with harness.rt.services.sessions() as s, s.begin():
        first = await outbox.enqueue_audience(s, template, cond, prefixes, after=0, limit=10)
        second = await outbox.enqueue_audience(s, template, cond, prefixes, after=first[2] or 0, limit=10)
        done = await outbox.enqueue_audience(s, template, cond, prefixes, after=second[2] or 0, limit=10)
        again = await outbox.enqueue_audience(s, template, cond, prefixes, after=0, limit=100)
    assert (first[:2], second[:2], done) == ((10, 10), (2, 2), (0, 0, None))
    assert again[:2] == (0, 12)  # every key exists already: nobody is queued twice
    async with harness.rt.services.sessions() as s:
        subs = {r.id: r for r in (await s.scalars(select(Subscriber).where(Subscriber.role == "asn"))).all()}
        rows = list((await s.scalars(select(Outbox).order_by(Outbox.id))).all())
    assert sorted(r.idem_key for r in rows) == sorted(idem("rem", long_key, sid) for sid in subs)
    assert any(len(r.idem_key) < MAX_IDEM - 5 for r in rows) and any(r.idem_key.endswith(":1") for r in rows)
    by_key = {idem("rem", long_key, sid): sub for sid, sub in subs.items()}
    for row in rows:
        sub = by_key[row.idem_key]
        assert (row.channel, row.addr_key, row.addr_enc) == (sub.channel, sub.addr_key, sub.addr_enc)
        assert (row.payload, row.purpose, row.priority, row.status, row.is_group) == (
            template["payload"], "reminder", 5, "pending", False)
