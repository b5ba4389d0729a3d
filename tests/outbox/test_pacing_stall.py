"""A stall of this process in the middle of a broadcast, in virtual time (``tests/outbox/virtual_time.py``).

A stall (the event loop blocked, the process descheduled, a garbage collection) moves the clock on while
nothing here runs: the send tasks whose start times passed meanwhile, and the delivery loop, all wake together
when it ends. The platform does not stall with us: it counts each request when it arrives, a random 100-300 ms
(or nothing) after it was written, on its own clock, exactly as the fake Bot API server counts (sliding
1-second windows).

What these tests pin: however long the stall, and after the shift ration is used up, no second holds more
than the limit, neither in the start times on our clock nor at the platform's counter; every row is sent
once. (The sends held back by a stall longer than the shift ration go out together when it ends; the global
window, counted over the times they really started, holds the sends after them back until the second is
over: the busiest second then holds the limit, not more. ``docs/performance.md``, "Stalls".)
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from sqlalchemy import select

from bot.core.model import Reply
from bot.outbox.ports import Claimed, SendResult
from bot.outbox.ratelimit import SHIFT_CAPACITY, _on_wire
from bot.storage.models import Outbox
from tests.outbox.test_pacing import RecordingSender, _enqueue, _max_in_window, _virtual_rt
from tests.outbox.virtual_time import VirtualClock, drive

START = 1000.0


class StallingClock(VirtualClock):
    """A virtual clock on which this process stalls: ``stalls`` are ``(at, seconds)`` after the start. When the
    clock would move past ``at``, it jumps to ``at + seconds`` at least, and everything due by then wakes
    together (as asyncio runs every due timer in one turn after a blocked loop)."""

    def __init__(self, stalls: list[tuple[float, float]]) -> None:
        super().__init__(START)
        self.stalls = sorted((START + at, seconds) for at, seconds in stalls)

    def advance_to(self, t: float) -> None:
        if self.stalls and t > self.stalls[0][0]:
            at, seconds = self.stalls.pop(0)
            t = max(t, at + seconds)
        super().advance_to(t)


class DistantPlatform(RecordingSender):
    """A platform that keeps running while this process stalls: a request written at ``w`` (the transport's
    ``request_on_wire``) is counted at ``w + before * delay`` on the platform's clock, whatever this process
    does meanwhile; the answer comes ``delay`` after the write (read late if this process is stalled then).
    Seeded delays: every run is the same."""

    def __init__(self, clock: VirtualClock, latency: tuple[float, float] | None, seed: int,
                 before: float = 1.0) -> None:
        super().__init__(clock)
        self.latency = latency
        self.before = before
        self.rng = random.Random(seed)
        self.arrivals: list[float] = []

    async def send(self, msg: Claimed, reply: Reply) -> SendResult:
        written_at = self.clock.now
        self.started.append(written_at)
        written = _on_wire.get()
        if written is not None:
            written()
        delay = self.rng.uniform(*self.latency) if self.latency else 0.0
        self.arrivals.append(written_at + self.before * delay)
        if delay > 0:
            await self.clock.sleep(delay)
        return SendResult("sent", external_id="1")


@pytest.mark.parametrize(
    ("rate", "n", "stalls", "latency", "before"),
    [
        # 1000/s, spread (3.3 % margin from the measured jitter), one stall longer than the lookahead and the ration
        (1000, 2500, [(1.0, 0.5)], (0.1, 0.3), 1.0),
        (1000, 2500, [(1.013, 0.3)], (0.1, 0.3), 0.5),
        (1000, 2500, [(1.026, 0.22)], (0.1, 0.3), 1.0),  # just over the ration, within the lookahead
        (1000, 2500, [(1.0, 1.0)], None, 1.0),  # no latency: the counter sees the start times themselves
        # stall after stall: the first uses up the shift ration, the later ones are absorbed
        (1000, 3000, [(1.0, 0.2), (1.3, 0.1), (1.6, 0.1), (1.9, 0.12)], (0.1, 0.3), 1.0),
        (1000, 3000, [(1.0, 0.19), (1.4, 0.06), (1.6, 0.06), (1.8, 0.06), (2.0, 0.06)], None, 1.0),
        # 30/s: gated under latency, spread without
        (30, 240, [(3.0, 1.0)], (0.1, 0.3), 1.0),
        (30, 240, [(3.0, 0.5), (4.2, 0.3)], None, 1.0),
    ],
)
async def test_a_stall_of_this_process_never_puts_more_than_the_limit_in_a_second(
    make_settings: Any, rate: int, n: int, stalls: list[tuple[float, float]], latency: tuple[float, float] | None,
    before: float,
) -> None:
    clock = StallingClock(stalls)
    sender = DistantPlatform(clock, latency, seed=11, before=before)
    rt = _virtual_rt(make_settings, sender, rate)
    try:
        await _enqueue(rt, n)
        await drive(rt.worker, clock, lambda: len(sender.started) >= n)
        started = sender.started
        assert len(started) == n  # every row once
        async with rt.services.sessions() as s:
            assert set((await s.scalars(select(Outbox.status))).all()) == {"sent"}
        # each stall happened mid-broadcast: sends before it and after it, nothing started while it lasted
        for at, seconds in stalls:
            lo, hi = START + at, START + at + seconds
            assert any(t < lo for t in started) and any(t >= hi for t in started)
            assert not any(lo < t < hi for t in started)
        assert sum(seconds for _at, seconds in stalls) > SHIFT_CAPACITY  # more than the ration can shift away
        assert _max_in_window(sorted(started), 1.0) <= rate  # our clock: never more than the limit in a second
        assert _max_in_window(sorted(sender.arrivals), 1.0) <= rate  # the platform's counter: never a 429
        pacing = rt.worker.limiters["telegram"].pacing
        assert pacing is not None and pacing["open"] == 0.0
        assert pacing["gated"] == float(rate == 30 and latency is not None)
    finally:
        await rt.stop()
