"""A stall of this process in the middle of a broadcast, in virtual time (``tests/outbox/virtual_time.py``).

A stall (the event loop blocked, the process descheduled, a garbage collection) moves the clock on while
nothing here runs: the send tasks whose start times passed meanwhile, and the delivery loop, all wake together
when it ends. The platform does not stall with us: it counts each request when it arrives, a random 100-300 ms
(or nothing) after it was written, on its own clock, exactly as the fake Bot API server counts (sliding
1-second windows).

What these tests pin: however long the stall, and after the shift ration is used up, no second holds more
than the limit at the platform's counter, and no second of start times on our clock more than even spacing
puts there (``Schedule.share``: 976 of 1000 at a 2.5 % margin, 969 at 3.3 %); every row is sent once. The
sends held back by a stall longer than the shift ration go out together when it ends; the global window alone
(``count`` per ``window``, counted over the times they really started) let the second they open hold the whole
limit, its margin used up (``docs/performance.md``, "Stalls"); the share rule holds the sends after them back.
"""

from __future__ import annotations

import itertools
from collections import deque
from typing import Any

import pytest
from sqlalchemy import select

from bot.outbox.ratelimit import SHIFT_CAPACITY, Limit, Schedule
from bot.storage.models import Outbox
from tests.outbox.test_pacing import FarPlatform, _enqueue, _max_in_window, _virtual_rt
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
    sender = FarPlatform(clock, latency, seed=11, before=before)
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
        lim = rt.worker.limiters["telegram"]
        share = lim._global.share if lim._global is not None else 0
        # even spacing's share of a second: 976 at the base margin (2.5 %), about 968 at the jitter margin (3.3 %)
        assert share == 30 if rate == 30 else (share == 976 if latency is None else 960 <= share <= 972)
        assert _max_in_window(sorted(started), 1.0) <= share  # our clock: the margin kept in every second
        assert _max_in_window(sorted(sender.arrivals), 1.0) <= rate  # the platform's counter: never a 429
        pacing = lim.pacing
        assert pacing is not None and pacing["open"] == 0.0
        assert pacing["gated"] == float(rate == 30 and latency is not None)
    finally:
        await rt.stop()


def test_sends_released_together_after_a_stall_leave_that_second_its_margin() -> None:
    """The schedule alone: 1000/s, each send starts at its slot's time or, after a 0.6 s stall (longer than the
    lookahead and the shift ration), when the stall ends. The sends whose times passed go together; those
    after them wait until no platform second holds more than even spacing puts there (976), not until the
    global window holds the whole limit (1000). Outside the stall, every gap is one spacing."""
    sched = Schedule(Limit(1000, 1.0))
    assert sched.share == 976
    stall = (1.0, 1.6)
    waiting: deque[int] = deque()
    starts: list[float] = []
    now = 0.0
    while now < 4.0:
        while not isinstance(got := sched.take(now), float):
            waiting.append(got[0])
        while waiting and (at := sched.time_of(waiting[0])) is not None and at <= now:
            sched.started(waiting.popleft(), now)
            starts.append(now)
        now = round(now + 0.0001, 6)
        if stall[0] <= now < stall[1]:
            now = stall[1]  # nothing runs meanwhile
    bunch = sum(1 for t in starts if t == stall[1])
    assert bunch >= 200  # the sends of the lookahead, released together
    assert _max_in_window(starts, 1.0) == sched.share  # 976, the margin kept: the window rule alone gave 1000
    after = [t for t in starts if t > stall[1] + 1.0]
    gaps = [b - a for a, b in itertools.pairwise(after)]
    assert max(gaps) < 2 * sched.spacing  # and then evenly spaced again (within the 0.1 ms step)
