"""/hapus while a message to the reporter is in flight (claimed, ``sending``): it is wiped once its send is
recorded, whatever the send ends in, and however the recording interleaves with /hapus.

Both races are driven deterministically: the send is held open by the sender (the port the delivery worker
calls), and on PostgreSQL the recording is committed between two statements of the /hapus transaction.
"""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.util import await_only

from bot.app.runtime import Runtime
from bot.channels.console import ConsoleSender
from bot.core.model import Reply
from bot.outbox.ports import ChannelSender, Claimed, Purpose, SendResult
from bot.storage import retention
from bot.storage.models import Outbox
from bot.texts import t
from handlers.tips.cases import status_label
from handlers.tips.store import purge_expired
from tests.handlers.tips.conftest import TipConsole, code_of
from tests.reliability import anon

REPORTER = str(anon.REPORTER_ID)


class HeldSender:
    """The console sender, except that the first send to ``chat`` waits for ``release`` and then ends in
    ``result`` (a "sent" result is really delivered)."""

    def __init__(self, inner: ChannelSender, chat: str, result: SendResult) -> None:
        self.inner, self.chat, self.result = inner, chat, result
        self.channel = inner.channel
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def send(self, msg: Claimed, reply: Reply) -> SendResult:
        if msg.chat_id != self.chat or self.started.is_set():
            return await self.inner.send(msg, reply)
        self.started.set()
        await self.release.wait()
        if self.result.status == "sent":
            return await self.inner.send(msg, reply)
        return self.result


async def scan(h: TipConsole) -> list[str]:
    return await anon.scan_database(h.rt.services.sessions, identity=h.rt.services.identity)


async def _notice_row(h: TipConsole, tip_id: int) -> Outbox:
    async with h.rt.services.sessions() as s:
        row = await s.scalar(select(Outbox).where(
            Outbox.tip_id == tip_id, Outbox.is_group.is_(False), Outbox.idem_key.contains(":status:")))
    assert row is not None
    return row


@pytest.mark.parametrize("outcome", ["sent", "failed", "unknown", "blocked", "dead"])
async def test_a_reply_in_flight_at_hapus_is_wiped_whatever_its_send_ends_in(tipcon: TipConsole,
                                                                               outcome: str) -> None:
    rt = tipcon.rt
    tip = await tipcon.tip_by_code(code_of(await tipcon.tip(user=REPORTER)))
    held = HeldSender(rt.worker.senders["console"], REPORTER, SendResult(outcome, error=f"test: {outcome}"))  # type: ignore[arg-type]
    rt.worker.senders["console"] = held
    await rt.core.handle(tipcon.incoming(callback=f"tip:st:{tip.id}:1", user="anggota", group=True))
    await rt.worker.step()  # claims the status notice to the reporter; its send is held open
    await held.started.wait()
    assert (await _notice_row(tipcon, tip.id)).status == "sending"

    await rt.core.handle(tipcon.incoming(callback=f"hapus:ok:{tip.id}", user=REPORTER))
    held.release.set()
    await rt.worker.drain()

    row = await _notice_row(tipcon, tip.id)
    assert row.status == outcome  # the send's result was recorded (the claim token still fenced it)
    assert row.addr_enc == "" and row.addr_key == "" and row.payload == {"redacted": True}
    assert await scan(tipcon) == []


async def test_a_send_recorded_between_the_statements_of_hapus_is_wiped(tipcon: TipConsole, db_url: str) -> None:
    """PostgreSQL (READ COMMITTED: every statement sees what committed before it) — the recording of a send
    commits while /hapus is half-way: after its first outbox statement, before its commit."""
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite serializes writers: /hapus holds the write lock from its first write, so no "
                    "recording can commit between its statements (covered on PostgreSQL)")
    rt = tipcon.rt
    store, sessions = rt.services.outbox, rt.services.sessions
    tip = await tipcon.tip_by_code(code_of(await tipcon.tip(user=REPORTER)))
    await rt.core.handle(tipcon.incoming(callback=f"tip:st:{tip.id}:1", user="anggota", group=True))
    notice = await _notice_row(tipcon, tip.id)
    async with sessions() as s, s.begin():  # the delivery worker of another process claims it
        [claimed] = await store.claim(s, [notice.id])

    async def record_sent() -> None:  # ... and records its send as delivered
        async with sessions() as s, s.begin():
            await store.mark_sent(s, [(claimed.id, claimed.token, "4242")])

    async def committed_or_waiting(task: asyncio.Task[None]) -> None:
        """Until the recording committed, or waits for a row lock that /hapus holds (then /hapus goes on)."""
        while not task.done():
            async with rt.engine.connect() as c:  # a fresh transaction: pg_stat_activity is a snapshot
                waiting = await c.scalar(text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"))
            if waiting:
                return
            await asyncio.sleep(0.005)

    recording: list[asyncio.Task[None]] = []

    def after_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not recording and statement.lstrip().upper().startswith("UPDATE OUTBOX"):
            recording.append(asyncio.get_running_loop().create_task(record_sent()))
            await_only(committed_or_waiting(recording[0]))

    event.listen(rt.engine.sync_engine, "after_cursor_execute", after_execute)
    try:
        await rt.core.handle(tipcon.incoming(callback=f"hapus:ok:{tip.id}", user=REPORTER))
    finally:
        event.remove(rt.engine.sync_engine, "after_cursor_execute", after_execute)
    assert recording, "the /hapus transaction wrote no outbox row"
    await recording[0]
    await rt.worker.drain()

    row = await _notice_row(tipcon, tip.id)
    assert row.status == "sent" and row.addr_enc == "" and row.payload == {"redacted": True}
    assert await scan(tipcon) == []


async def test_a_marked_row_lost_in_a_crash_is_wiped_when_recovery_gives_it_up(tipcon: TipConsole) -> None:
    """An at-most-once message (a reminder) to the reporter's chat, in flight at /hapus when the process dies:
    recovery makes it ``unknown`` (never re-sent) and wipes it."""
    rt = tipcon.rt
    store, sessions = rt.services.outbox, rt.services.sessions
    tip = await tipcon.tip_by_code(code_of(await tipcon.tip(user=REPORTER)))
    async with sessions() as s, s.begin():
        await store.enqueue(s, channel="console", chat_id=REPORTER, reply=Reply(text="Pengingat tahapan"),
                            purpose=Purpose.REMINDER, idem_key="rem:test:1")
    async with sessions() as s, s.begin():
        rid = await s.scalar(select(Outbox.id).where(Outbox.idem_key == "rem:test:1"))
        assert rid is not None
        assert len(await store.claim(s, [rid])) == 1  # the process that claimed it dies while sending
    await rt.core.handle(tipcon.incoming(callback=f"hapus:ok:{tip.id}", user=REPORTER))
    async with sessions() as s, s.begin():
        assert await store.recover_expired(s, all_leases=True) == {"unknown": 1, "resend": 0}
    await rt.worker.drain()
    async with sessions() as s:
        row = await s.get(Outbox, rid)
    assert row is not None and row.status == "unknown" and row.addr_enc == "" and row.payload == {"redacted": True}
    assert await scan(tipcon) == []


async def test_a_tip_still_queued_for_the_group_at_hapus_shows_as_delivered_once_sent(tipcon: TipConsole) -> None:
    """/hapus renames queued rows' keys (to mark them); the reporter's view of delivery still finds the tip's."""
    rt = tipcon.rt
    await tipcon.send("/lapor", user=REPORTER)
    for step in ("Kukar", None, "Pak Budi", "Kantor camat", "Poster paslon di kantor"):
        await tipcon.send(step or "", user=REPORTER, callback="lapor:c:medsos" if step is None else None)
    await tipcon.send(callback="lapor:done", user=REPORTER)
    await rt.core.handle(tipcon.incoming(callback="lapor:ok", user=REPORTER))  # the group copy is queued only
    async with rt.services.sessions() as s:
        tip_id = await s.scalar(select(Outbox.tip_id).where(Outbox.is_group.is_(True), Outbox.status == "pending"))
    assert tip_id is not None
    await rt.core.handle(tipcon.incoming(callback=f"hapus:ok:{tip_id}", user=REPORTER))
    await rt.worker.drain()
    listing = (await tipcon.send("/status", user=REPORTER))[-1].text
    assert t("tips.status.menunggu") not in listing and status_label("diterima") in listing


async def _committed_or_waiting(h: TipConsole, task: asyncio.Task[None]) -> None:
    """Until ``task``'s transaction committed, or waits for a row lock (held by the transaction that waits here)."""
    while not task.done():
        async with h.rt.engine.connect() as c:  # a fresh transaction each time: pg_stat_activity is a snapshot
            waiting = await c.scalar(text("SELECT count(*) FROM pg_stat_activity"
                                          " WHERE datname = current_database() AND wait_event_type = 'Lock'"))
        if waiting:
            return
        await asyncio.sleep(0.005)


@pytest.mark.parametrize("action", ["status", "question"])
async def test_a_message_queued_to_the_reporter_while_hapus_runs_is_marked_or_not_queued(
        tipcon: TipConsole, db_url: str, action: str) -> None:
    """PostgreSQL: a group member acts on the tip (a status notice, a question to the reporter) while /hapus is
    half-way (it has wiped the reply address, not committed). The member's transaction must not queue a message
    with the address /hapus is wiping, unseen by /hapus. The member's update comes to a second node, as it would
    with two ``run`` nodes (one node may put it in the same batch as /hapus, or wait for /hapus's batch)."""
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite serializes writers: the two transactions cannot overlap (covered on PostgreSQL)")
    rt = tipcon.rt
    node2 = Runtime.create(rt.settings, {"console": ConsoleSender(io.StringIO())})
    tip = await tipcon.tip_by_code(code_of(await tipcon.tip(user=REPORTER)))
    if action == "question":
        await tipcon.send(callback=f"tip:ask:{tip.id}", user="anggota", group=True)
        await tipcon.send("Jam berapa persisnya?", user="anggota", group=True)
        member = tipcon.incoming(callback="tip:askok", user="anggota", group=True)
    else:
        member = tipcon.incoming(callback=f"tip:st:{tip.id}:1", user="anggota", group=True)
    acting: list[asyncio.Task[None]] = []

    def after_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not acting and statement.lstrip().upper().startswith("UPDATE TIPS"):  # /hapus wiped the address
            acting.append(asyncio.get_running_loop().create_task(node2.core.handle(member)))
            await_only(_committed_or_waiting(tipcon, acting[0]))

    event.listen(rt.engine.sync_engine, "after_cursor_execute", after_execute)
    try:
        await rt.core.handle(tipcon.incoming(callback=f"hapus:ok:{tip.id}", user=REPORTER))
        assert acting, "/hapus did not update the tip"
        await acting[0]
    finally:
        event.remove(rt.engine.sync_engine, "after_cursor_execute", after_execute)
        await node2.stop()
    await rt.worker.drain()
    assert await scan(tipcon) == []


async def test_a_message_queued_to_the_reporter_while_the_purge_runs_is_not_queued(
        tipcon: TipConsole, db_url: str) -> None:
    """PostgreSQL: a group member changes the status of a closed case while its purge is half-way (it has wiped
    what was sent to the reporter, not yet the reply address). The member's transaction must not queue a notice
    with the address the purge is wiping, unseen by the purge: the purge locks the tips it purges first."""
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite serializes writers: the two transactions cannot overlap (covered on PostgreSQL)")
    rt = tipcon.rt
    node2 = Runtime.create(rt.settings, {"console": ConsoleSender(io.StringIO())})
    tip = await tipcon.tip_by_code(code_of(await tipcon.tip(user=REPORTER)))
    await tipcon.send(callback=f"tip:st:{tip.id}:4", user="anggota", group=True)  # closed: the purge is due later
    purge_after = (await tipcon.tip_by_code(tip.code)).purge_after
    assert purge_after is not None
    later = purge_after + timedelta(hours=1)
    async with rt.services.sessions() as s, s.begin():  # what was sent weeks ago is redacted by then
        await retention.purge(s, later, rt.settings.retention)
    member = tipcon.incoming(callback=f"tip:st:{tip.id}:3", user="anggota", group=True)  # still closed: a notice
    acting: list[asyncio.Task[None]] = []

    def before_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not acting and statement.lstrip().upper().startswith("UPDATE TIPS"):  # about to wipe the address
            acting.append(asyncio.get_running_loop().create_task(node2.core.handle(member)))
            await_only(_committed_or_waiting(tipcon, acting[0]))

    event.listen(rt.engine.sync_engine, "before_cursor_execute", before_execute)
    try:
        async with rt.services.sessions() as s, s.begin():
            assert await purge_expired(s, later, rt.services.identity) == 1
        assert acting, "the purge did not update the tip"
        await acting[0]
    finally:
        event.remove(rt.engine.sync_engine, "before_cursor_execute", before_execute)
        await node2.stop()
    await rt.worker.drain()
    assert (await tipcon.tip_by_code(tip.code)).status == "tidak_dapat"  # the member's change was made
    assert await scan(tipcon) == []
