"""Virtual time for the delivery engine: a clock and a sleep for ``ChannelLimiter(clock=..., sleep=...)``.

The engine's send tasks wait for their slot's start time with the limiter's ``sleep``; here that sleep parks
the task until the test moves the clock. ``drive`` plays the delivery loop: one ``step``, then it lets every
send task run until it is done or asleep on the clock, then moves the clock to the earliest wake-up (or by
the step's own wait). Nothing depends on how fast the machine is: start times are exactly what the pacing
logic chose, so a test can check them exactly.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable

from bot.outbox.delivery import DeliveryWorker
from bot.outbox.ratelimit import ChannelLimiter, Limit


class VirtualClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._seq), fut))
        await fut

    @property
    def asleep(self) -> int:
        return sum(1 for _t, _s, fut in self._sleepers if not fut.done())

    def next_wake(self) -> float | None:
        while self._sleepers and self._sleepers[0][2].done():  # cancelled sleepers
            heapq.heappop(self._sleepers)
        return self._sleepers[0][0] if self._sleepers else None

    def advance_to(self, t: float) -> None:
        """Move the clock to ``t`` and wake every sleeper due by then."""
        self.now = max(self.now, t)
        while self._sleepers and self._sleepers[0][0] <= self.now:
            _t, _s, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)


def virtual_limiter(
    clock: VirtualClock, global_: Limit | None, private: Limit | None = Limit(1, 1.0),
    group: Limit | None = Limit(20, 60.0),
) -> ChannelLimiter:
    return ChannelLimiter(global_, private, group, clock=clock, sleep=clock.sleep)


async def settle(worker: DeliveryWorker, clock: VirtualClock, extra: Callable[[], int] = lambda: 0) -> None:
    """Run the event loop until every send task is finished or asleep on the virtual clock.

    ``extra``: how many other coroutines (e.g. a fake platform's answers) also sleep on the clock."""
    for _ in range(100_000):
        running = sum(1 for t in worker._inflight if not t.done())
        if running + extra() <= clock.asleep:
            return
        await asyncio.sleep(0)
    raise AssertionError("send tasks neither finished nor slept on the virtual clock")


async def drive(
    worker: DeliveryWorker, clock: VirtualClock, done: Callable[[], bool], *, max_steps: int = 100_000,
    extra: Callable[[], int] = lambda: 0, step_every: float = 0.0,
) -> None:
    """Play the delivery loop in virtual time until ``done()`` (checked when nothing is in flight).

    ``step_every``: a loop too busy to come back sooner claims only every this many (virtual) seconds,
    while the send tasks it started still run at their times."""
    for _ in range(max_steps):
        wait = await worker.step()
        last = clock.now
        await settle(worker, clock, extra)
        if not worker._inflight and clock.next_wake() is None:
            await worker._record()
            if done():
                return
        if step_every > 0:
            while (nxt := clock.next_wake()) is not None and nxt <= last + step_every:
                clock.advance_to(nxt)
                await settle(worker, clock, extra)
            clock.advance_to(last + step_every)
            await settle(worker, clock, extra)
            continue
        if wait <= 0:
            continue  # claimed something: claim again before time moves (the real loop does the same)
        nxt = clock.next_wake()
        target = clock.now + wait
        clock.advance_to(min(target, nxt) if nxt is not None else target)
        await settle(worker, clock, extra)
    raise AssertionError("delivery did not finish in virtual time")
