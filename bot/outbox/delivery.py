"""Delivery engine: drains the outbox through per-channel senders, within the rate limits.

One loop per process: each turn it records the results of finished sends and claims the next rows the
limiter allows, in a single transaction, then starts their sends concurrently (bounded). Retryable
errors go back to ``pending`` with exponential backoff (or the platform's retry_after, which also
pauses the whole channel); 403 "blocked" marks the recipient inactive; permanent errors fail the row.

A send that got no answer after its request was written (``SendResult.answered`` False while the transport
reported the write), or whose message was only partly delivered (``partial``), is not retried for an
at-most-once purpose (broadcast, reminder): it becomes ``unknown``. Results are recorded in the next claim
transaction; if that transaction fails they are put back and recorded on the next turn, and every write is
fenced by the row's claim token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.clock import utcnow
from bot.core.identity import short
from bot.core.model import Reply
from bot.outbox.ports import AT_MOST_ONCE, ChannelSender, Claimed, OutboxStatus, Purpose, SendResult
from bot.outbox.ratelimit import MAX_BATCH, UNLIMITED_BATCH, ChannelLimiter, Slot
from bot.outbox.store import OutboxStore
from bot.storage.db import SessionMaker
from bot.storage.models import Outbox, Subscriber
from bot.storage.retention import redact_ephemeral

log = logging.getLogger(__name__)

MAX_BACKOFF = 300.0
MAX_ATTEMPTS = 10  # default attempt cap (``delivery.max_attempts``); tips are never given up
RECOVERY_EVERY = 30.0  # seconds between checks for rows whose lease expired (a crashed process's sends)
STOP_GRACE = 3.0  # seconds a stopping process goes on delivering what is due, except bulk sends (``stop``)


def no_answer_fate(msg: Claimed, result: SendResult, written: bool) -> SendResult:
    """At-most-once purposes: a written request without an answer, or a partly delivered message, is ``unknown``
    (it may have arrived: never re-sent). Other results are returned unchanged."""
    if result.status != "retry" or msg.purpose not in AT_MOST_ONCE:
        return result
    if result.partial:
        return SendResult("unknown", error=f"partly delivered, then {result.error}"[:200])
    if not result.answered and written:
        return SendResult("unknown", error=f"written, no answer ({result.error}): not re-sent"[:200])
    return result


ChatMoved = Callable[[AsyncSession, str, str, str], Awaitable[None]]  # (session, channel, old id, new id)


@dataclass
class _Done:
    msg: Claimed
    result: SendResult


def backoff(attempts: int) -> float:
    base: float = min(MAX_BACKOFF, 2.0 ** max(0, attempts - 1))
    return base * (0.75 + random.random() * 0.5)  # noqa: S311 (jitter, not a secret)


class DeliveryWorker:
    def __init__(
        self,
        sessions: SessionMaker,
        store: OutboxStore,
        senders: dict[str, ChannelSender],
        limiters: dict[str, ChannelLimiter],
        *,
        max_inflight: int = 64,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.sessions = sessions
        self.store = store
        self.senders = senders
        self.limiters = limiters
        self.max_inflight = max_inflight
        self.max_attempts = max_attempts
        self.chat_moved: ChatMoved | None = None  # called in the recording transaction (tips follow the move)
        self._wake = asyncio.Event()
        self._stopping = False
        self._running = False  # run() was called: only then does a stop's grace deliver anything
        self._recovered = False  # the start-up recovery ran (the first step does it, under the step lock)
        self._bulk = True  # False while stopping: broadcasts and reminders are left for the next start
        self._inflight: set[asyncio.Task[None]] = set()
        self._waiting = 0  # of the in-flight tasks, those still waiting for their slot's start time
        self._done: list[_Done] = []
        self._step_lock = asyncio.Lock()
        self.stats = {"sent": 0, "retry": 0, "blocked": 0, "failed": 0, "unknown": 0, "dead": 0}
        self.recovery_every = RECOVERY_EVERY

    @property
    def _room(self) -> int:
        """Free send slots: ``max_inflight`` bounds the requests under way (it sizes the HTTP pool). Sends
        claimed ahead that still wait for their start time do not count: the limiter's lookahead bounds them."""
        return self.max_inflight - (len(self._inflight) - self._waiting)

    @property
    def _min_room(self) -> int:
        """Free send slots worth a claim: a quarter of the window (at most the limiter's batch size)."""
        return max(1, min(self.max_inflight // 4, MAX_BATCH))

    @property
    def channels(self) -> list[str]:
        return list(self.senders)

    def notify(self) -> None:
        self._wake.set()

    # --- main loop ---------------------------------------------------------------------------------
    async def _recover(self, *, startup: bool) -> None:
        async with self.sessions() as s, s.begin():
            # SQLite has one sending process by design: at start-up every "sending" row belongs to a dead one
            # (a restart within the lease must not leave them stuck). Elsewhere only expired leases count.
            single = startup and s.get_bind().dialect.name == "sqlite"
            recovered = await self.store.recover_expired(s, all_leases=single)
        if any(recovered.values()):
            log.warning("outbox recovery after unclean stop", extra=recovered)

    async def run(self) -> None:
        self._running = True
        loop = asyncio.get_running_loop()
        next_recovery = loop.time() + self.recovery_every
        while not self._stopping:
            if loop.time() >= next_recovery:  # leases of a crashed process expire while we run
                next_recovery = loop.time() + self.recovery_every
                try:
                    await self._recover(startup=False)
                except Exception:
                    log.exception("outbox recovery failed; retrying later")
            self._wake.clear()  # before the step: a wake-up during the step must not be lost
            try:
                wait = await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("delivery loop error; retrying in 1 s")
                wait = 1.0
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=wait)

    async def stop(self, timeout: float = 10.0, *, grace: float = 0.0) -> None:
        """Stop claiming; let in-flight sends finish and record them.

        With ``grace`` (``serve`` and ``worker`` pass ``STOP_GRACE``) it first goes on for up to that many seconds
        with what is due within them, except broadcasts and reminders: a reply committed just before the stop
        (by an update in flight, or one waiting for its chat's 1 per second), a tip, an alert, a broadcast's
        report. They reach people now instead of at the next start. Bulk rows stay pending for the next start
        or another worker; every row stays in the outbox either way.
        """
        if grace > 0 and self._running and not self._stopping:  # not after a failed start
            self._bulk = False  # the delivery loop, still running, leaves bulk rows too
            self._wake.set()
            try:
                await self.drain(grace, within=grace)
            except TimeoutError:
                log.info("stopping with messages still due; they are sent at the next start")
            except Exception:  # a failing database must not keep the process from stopping
                log.exception("delivery before stopping failed")
        self._stopping = True
        self._wake.set()
        async with self._step_lock:  # a step under way (the delivery loop's) starts its sends before the wait below
            pass
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=timeout)
        await self._record()

    async def drain(self, timeout: float = 10.0, *, retries: bool = False, within: float = 0.0) -> None:
        """Send everything that is due now (tests, console); returns when nothing due is left.

        With ``within`` it also waits for rows due in that many seconds (a chat's own limit, a short backoff);
        with ``retries=True``, for rows scheduled however late (backoff, retry_after).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            wait = await self.step()
            if not self._inflight and wait >= 0.5:
                await self._record()
                async with self.sessions() as s:
                    nxt = await self.store.next_due_at(s, self.channels, bulk=self._bulk)
                if nxt is None or (nxt > utcnow() + timedelta(seconds=within) and not retries):
                    return
            if self._inflight:
                await asyncio.wait(set(self._inflight), timeout=max(0.01, min(wait, 0.2)))
            else:
                await asyncio.sleep(min(max(wait, 0.005), 0.2))
        raise TimeoutError("outbox not drained in time")

    async def step(self) -> float:
        """Record finished sends, claim what may go now, start it. Returns how long to wait."""
        async with self._step_lock:
            if self._stopping:  # stop() waits for the sends started so far: nothing is claimed after them
                await self._record()
                return 0.0
            if not self._recovered:  # before this worker's first claim, whoever steps first (loop or drain):
                # on SQLite it takes every "sending" row for a dead process's, so none may be ours yet
                await self._recover(startup=True)
                self._recovered = True
            return await self._step()

    async def _step(self) -> float:
        room = self._room
        if room < 1:
            await self._record()
            return 0.05
        wait = 1.0
        ready: list[str] = []
        budget = paced = 0
        bound = False  # a rate limit binds within the lookahead on some channel
        for channel in self.channels:
            n, delay = self.limiters[channel].budget()
            if n > 0:
                ready.append(channel)
                budget += n
                if self.limiters[channel].paced:
                    paced += n
                    bound = bound or n < UNLIMITED_BATCH
            else:
                wait = min(wait, delay)
        if not ready:
            await self._record()
            return wait
        # Claim in batches: wait until enough sends have finished. Unless a rate limit binds within the
        # lookahead (its schedule has room for fewer sends than a big claim): then the schedule, not the room,
        # sets the pace, and any room is used so that it never runs dry (1000 msg/s over 100-300 ms round
        # trips keeps 200-300 requests under way, close to ``max_inflight``).
        if room < self._min_room and not bound:
            await self._record()
            return 0.05
        # Sends of a paced channel start one by one over the lookahead, as earlier ones finish: a batch of them
        # may be claimed although fewer slots are free now. Unpaced sends all start at once: the room bounds them.
        batch = min(max(room, min(paced, MAX_BATCH)), budget, UNLIMITED_BATCH)
        held: dict[int, tuple[str, Slot]] = {}  # limiter slots by outbox id: started or released below
        taken, self._done = self._done, []  # recorded in this transaction, or put back if it fails
        try:
            async with self.sessions() as s, s.begin():
                await self._record_in(s, taken)
                rows = await self.store.due(s, channels=ready, limit=batch, bulk=self._bulk)
                now = utcnow()
                deferrals: list[tuple[int, datetime]] = []
                for row in rows:
                    lim = self.limiters[row.channel]
                    cdelay = lim.chat_delay(row.addr_key, row.is_group)
                    if cdelay > 0:  # this chat is at its own limit: look at the row again later
                        deferrals.append((row.id, now + timedelta(seconds=cdelay)))
                        wait = min(wait, cdelay)
                        continue
                    slot = lim.hold(row.addr_key, row.is_group)
                    if isinstance(slot, float):  # this channel's budget is used up; its rows stay pending
                        wait = min(wait, slot)
                        continue
                    held[row.id] = (row.channel, slot)
                await self.store.defer(s, deferrals)
                claimed = await self.store.claim(s, list(held))
                if len(rows) == batch and not claimed:
                    wait = min(wait, 0.05)
                if not rows:
                    nxt = await self.store.next_due_at(s, self.channels, bulk=self._bulk)
                    if nxt is not None:
                        wait = min(wait, max(0.0, (nxt - now).total_seconds()))
        except BaseException:
            claimed = []
            self._put_back(taken)
            raise
        else:
            self._count(taken)
        finally:  # slots of rows not (or no longer) ours go back: another process claimed them, or we failed
            for oid in held.keys() - {c.id for c in claimed}:
                channel, slot = held[oid]
                self.limiters[channel].release(slot)
        for msg in claimed:
            task = asyncio.create_task(self._send(msg, held[msg.id][1]))
            self._inflight.add(task)
            task.add_done_callback(self._on_done)
        return 0.0 if claimed else wait

    def _on_done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        # Wake the loop once a batch worth of room is free (or the last send finished), not on every send.
        if not self._inflight or self._room == self._min_room:
            self._wake.set()

    async def _send(self, msg: Claimed, slot: Slot) -> None:
        sender = self.senders[msg.channel]
        lim = self.limiters[msg.channel]
        result: SendResult | None = None
        slept = False
        self._waiting += 1
        try:
            while (wait := lim.slot_time(slot) - lim.now()) > 0:  # the schedule's start time (it may move later)
                await lim.sleep(wait)  # the limiter's clock (a test may run it in virtual time)
                slept = True
        finally:
            self._waiting -= 1
        if slept:
            paused = lim.paused_for()
            if paused > 0:  # a 429 arrived meanwhile: do not send into it
                lim.release(slot)
                result = SendResult("retry", retry_after=paused, error="paused after 429")
        if result is None:
            lim.start(slot)
            wire = lim.watch_wire(slot)  # this task's own context: the transport moves the slot to the real write
            try:
                result = await sender.send(msg, Reply.from_payload(msg.payload))
            except Exception as exc:  # a sender bug must not kill the loop or lose the row
                log.exception("sender raised", extra={"outbox_id": msg.id})
                result = SendResult("retry", error=f"{type(exc).__name__}", answered=False)
            finally:
                lim.finish(slot)  # ended, answered or not: counted by the platform by now, if at all
            if result.answered:
                lim.answered(wire)
            result = no_answer_fate(msg, result, written=wire.at is not None)
            if result.status == "retry" and result.retry_after:  # the platform's 429, not our own pause
                lim.rate_limited(result.retry_after)
        self._done.append(_Done(msg, result))

    async def _record(self) -> None:
        if not self._done:
            return
        taken, self._done = self._done, []
        try:
            async with self.sessions() as s, s.begin():
                await self._record_in(s, taken)
        except BaseException:
            self._put_back(taken)
            raise
        self._count(taken)

    def _put_back(self, taken: list[_Done]) -> None:
        """The recording transaction failed: keep the results for the next one (the rows stay ``sending``)."""
        if taken:
            self._done[:0] = taken
            log.warning("send results not recorded; kept for the next attempt", extra={"n": len(taken)})

    def _count(self, recorded: list[_Done]) -> None:
        for d in recorded:
            self.stats[d.result.status] += 1

    async def _record_in(self, s: AsyncSession, done: list[_Done]) -> None:
        """Write the finished sends' results in ``s`` (the caller puts them back if the transaction fails)."""
        if not done:
            return
        now = utcnow()
        sent: list[tuple[int, str, str | None]] = []
        for d in done:
            r, m = d.result, d.msg
            if r.status == "sent":
                sent.append((m.id, m.token, r.external_id))
                continue
            values: dict[str, object] = {"lease_until": None, "last_error": r.error[:200] or None}
            if r.moved_to is not None:  # re-target this row (and, through the hook, everything of that chat)
                if self.chat_moved is not None:
                    await self.chat_moved(s, m.channel, m.chat_id, r.moved_to)
                values.update(
                    status=OutboxStatus.PENDING.value, next_attempt_at=now, attempts=Outbox.attempts - 1,
                    addr_key=self.store.identity.key("addr", m.channel, r.moved_to),
                    addr_enc=self.store.identity.seal(m.channel, r.moved_to),
                )
                log.warning("chat moved to a new id; message re-targeted", extra={"outbox_id": m.id})
            elif r.status == "blocked":
                values.update(status=OutboxStatus.BLOCKED.value)
                await s.execute(
                    update(Subscriber)
                    .where(Subscriber.addr_key == m.addr_key)
                    .values(active=False, blocked=True, updated_at=now)
                )
                log.info("recipient blocked the bot; subscriber deactivated", extra={"addr": short(m.addr_key)})
            elif r.status == "failed":
                values.update(status=OutboxStatus.FAILED.value)
                log.warning("outbox message failed permanently", extra={"outbox_id": m.id, "error": r.error})
            elif r.status == "unknown":
                values.update(status=OutboxStatus.UNKNOWN.value)
                log.warning("outbox message fate unknown; not re-sent", extra={"outbox_id": m.id, "error": r.error})
            elif r.status == "dead" or (
                not r.retry_after and m.attempts >= self.max_attempts and m.purpose != Purpose.TIP
            ):
                # the dead letter: given up, shown to admins (bot.app.alerts, doctor). Tips keep retrying; the
                # delivery watch makes a stuck tip visible instead.
                values.update(status=OutboxStatus.DEAD.value)
                d.result = SendResult("dead", error=r.error)
                log.warning("outbox message given up after its attempt cap",
                            extra={"outbox_id": m.id, "attempts": m.attempts, "error": r.error})
            else:
                if r.retry_after:
                    delay = r.retry_after
                    values["attempts"] = Outbox.attempts - 1  # a 429 is not the message's fault
                else:
                    delay = backoff(m.attempts)
                values.update(status=OutboxStatus.PENDING.value, next_attempt_at=now + timedelta(seconds=delay))
            await s.execute(
                update(Outbox)
                .where(Outbox.id == m.id, Outbox.status == OutboxStatus.SENDING, Outbox.claim_token == m.token)
                .values(**values)
            )
        await self.store.mark_sent(s, sent)
        # rows /hapus marked while they were in flight: wiped now that their send ended (sent ones: mark_sent)
        await redact_ephemeral(s, [d.msg.id for d in done if d.result.status != "sent"])
