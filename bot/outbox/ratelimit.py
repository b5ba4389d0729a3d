"""The one rate limiter: a paced schedule per channel (global), sliding windows per private chat and per group.

Global limit (e.g. Telegram 30 msg/s, or 1000 msg/s for paid broadcasts): a :class:`Schedule` hands out
start times spaced ``window / count`` apart — a steady stream, never a burst — and never more than ``count``
in any window, nor more than even spacing puts in one platform window (``share``: 976 of 1000 at 2.5 %), even
after a stall released sends together. It may hand out times up to ``lookahead`` seconds ahead, so that the
delivery loop can claim a batch of rows in one transaction and each send task then waits for its own start
time: the rate is kept by the clock, not by how quickly the loop comes back.

Per chat / per group: exact sliding windows, the way Telegram counts, longer by the measured spread of round
trips (a chat's few sends cannot average their jitter out; see ``SlidingWindow``).

A send goes through three steps. ``hold`` decides: it returns a :class:`Slot` (with the time the send may
start) or how long until one may be free; the send task waits until ``slot_time`` (which a stall may move
later). ``start`` records the moment the request goes out and the transport's ``request_on_wire`` the moment
its bytes are written — a late start moves its slot later, so the windows count what the platform will count
even after the loop stalled, and after a real stall the waiting sends move later too instead of going out in a
burst (``Schedule.started``). ``release`` gives back a slot whose send never started. ``reserve`` = ``hold`` +
``start`` now.

All windows are 2.5% longer than the platform's: room for scheduling jitter. The platform counts a send when
it arrives, the schedule when it is written: round trips that vary make arrivals bunch by chance even when
the writes are evenly spaced. Two ways keep that bunching under the limit, and the schedule uses whichever
costs less for the round trips it measures (``Schedule.gated``):

* Spread (many sends a second): the global window's margin is at least what the measured round-trip jitter
  requires (``jitter_margin``): the number of arrivals in any platform window is the planned count plus a
  random excess whose spread grows with the round trips' dispersion and with the square root of the rate;
  the margin keeps ``JITTER_Z`` standard deviations of it below the limit. At 1000 msg/s with 100-300 ms
  round trips that is about 3.3 % (a thousand sends average out their jitter); at 30 msg/s about 21 %
  (thirty do not).
* Gate (few sends a second): the answers tell where earlier sends were counted. A send is counted before its
  answer leaves the platform, so a send answered at ``R`` was counted at ``R`` or earlier, and a send not yet
  answered will be counted later than now (or was, moments ago). So a new send may go when the sends answered
  in the last ``window - min_rtt`` seconds plus every send under way (and every start time handed out but not
  yet ended) leave room for one more: whatever the delays turn out to be, no platform window then holds more
  than the limit, as long as every round trip splits the same way around its count (all of it before, as the
  fake server's worst case, half, or none; ``_gate_at`` has the argument; the window is ``GATE_MARGIN`` longer
  for clock and transit noise). This wastes no margin on the window's far edge, which
  the answers have already resolved: at 30 msg/s with 100-300 ms round trips it allows about 0.87 of the
  limit, against 0.82 spread; at 1000 msg/s the spread margin is far cheaper (0.97 against 0.90).

Both margins grow by one point after each 429 from the platform (a sign they were too thin), up to 25 %;
that widening relaxes one point per quiet ten minutes.
"""

from __future__ import annotations

import asyncio
import math
import time
from bisect import bisect_right
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.outbox.ports import _on_wire

MARGIN = 0.025
MAX_MARGIN = 0.25  # the margin grows with measured round-trip jitter (and after 429s) up to this
JITTER_Z = 4.0  # standard deviations of the arrivals' random excess kept below the limit (see jitter_margin)
WIDEN_STEP = 0.01  # margin added after a 429 ...
RELAX_AFTER = 600.0  # ... and taken back after this many seconds without one
RTT_SAMPLES = 512  # recent round trips the jitter is measured over
RTT_UPDATE_EVERY = 64  # the margin is recomputed every this many round trips (and at 8, 16, 32 at first)
RTT_MIN_SAMPLES = 8
RTT_FLOOR_SHARE = 4.6  # -ln(0.01): see rtt_floor
LOOKAHEAD = 0.25  # seconds of global start times handed out ahead (one claim covers them)
SHIFT_SHARE = 0.05  # stalls may push the schedule back by at most this share of the time ...
SHIFT_CAPACITY = 0.2  # ... with at most this many seconds at once (a token bucket); beyond that, lateness is absorbed
GATE_MARGIN = 0.01  # the gate's window is this much longer than the platform's (transit and clock noise)
OPEN_TTL = 300.0  # a handed-out slot never ended (its task vanished) stops counting for the gate after this
MAX_BATCH = 50  # rows per claim under a busy global limit
UNLIMITED_BATCH = 500  # rows per claim for a channel without a global limit (console)


Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


def mean_abs_difference(samples: list[float]) -> float:
    """E|X - X'| of two independent draws from ``samples`` (Gini's mean difference), in O(n log n)."""
    n = len(samples)
    if n < 2:
        return 0.0
    ordered = sorted(samples)
    total = sum((2 * i - n + 1) * x for i, x in enumerate(ordered))
    return max(0.0, 2.0 * total / (n * (n - 1)))  # never below 0 (float rounding of equal samples)


def jitter_margin(count: int, per_seconds: float, rtts: list[float], z: float = JITTER_Z) -> float:
    """The window margin that keeps arrivals within ``count`` per ``per_seconds`` despite round-trip jitter.

    Writes evenly spaced ``per_seconds * (1 + m) / count`` apart arrive after independent random delays. A
    platform window then holds the sends written well inside it (certain) plus, at each of its two edges, the
    sends written within the jitter's reach of it, each inside with some probability p. The count's mean is
    ``count / (1 + m)``; its variance is the sum of p(1 - p) over both edges, which is ``rate * E|X - X'|``
    (X, X' two delays; ``mean_abs_difference``). The margin keeps ``z`` standard deviations of it below the
    limit (a 429 needs one send more than ``count``: + 0.5). The variance is measured on round trips: the
    part of a round trip on the way back does not bunch arrivals, so this errs on the safe side."""
    return margin_for_dispersion(count, per_seconds, mean_abs_difference(rtts), z)


def margin_for_dispersion(count: int, per_seconds: float, dispersion: float, z: float = JITTER_Z) -> float:
    """``jitter_margin`` for round trips whose ``mean_abs_difference`` is ``dispersion`` seconds."""
    if count < 1 or per_seconds <= 0:
        return 0.0
    sd = math.sqrt(count / per_seconds * dispersion)
    room = count + 0.5 - z * sd  # the mean count per window that the jitter allows
    if room <= count / (1.0 + MAX_MARGIN):
        return MAX_MARGIN
    return max(0.0, count / room - 1.0)


def rtt_floor(samples: list[float]) -> float:
    """A round trip shorter than any of ``samples`` (sorted) is likely to come: the gate's floor is the shortest
    measured less ``RTT_FLOOR_SHARE / n`` of their range (the shortest to the 99th percentile). For round trips spread
    evenly over a range, the shortest of n lies within that share of the range above its true floor in 99 % of
    samples; so few answers give little credit, and 512 nearly all of it. Trusting the shortest of the first
    answers let sends be counted sooner than the gate assumed: a 429 in 5 of 200 seeded runs, all in their
    first 2.2 s (``benchmarks.pacing_ceiling --runs 200 --first-seed 1000``)."""
    n = len(samples)
    spread = samples[int(0.99 * (n - 1))] - samples[0]
    return max(0.0, samples[0] - RTT_FLOOR_SHARE * spread / n)


def gate_cost(count: int, per_seconds: float, rtt_min: float, rtt_mean: float) -> float:
    """The margin the gate (``Schedule._gate_at``) is expected to give up: it keeps the sends that ended in
    the last ``gate window - rtt_min`` seconds plus those under way (on average ``rtt_mean`` each) at
    ``count - 1``, so it sends ``count - 1`` per ``gate window - rtt_min + rtt_mean`` seconds."""
    if count < 1 or per_seconds <= 0:
        return 0.0
    busy = per_seconds * (1.0 + GATE_MARGIN) - rtt_min + rtt_mean
    return max(0.0, count * busy / (max(1, count - 1) * per_seconds) - 1.0)


@dataclass(frozen=True)
class Limit:
    count: int
    per_seconds: float


@dataclass(frozen=True)
class Slot:
    """A held send: it may start at ``at`` (clock time); ``seq`` is its place in the global schedule."""

    at: float
    seq: int | None
    chat_key: str
    is_group: bool


class WireMark:
    """When one send's request was written (set by the transport's hook), for its round-trip time."""

    __slots__ = ("at",)

    def __init__(self) -> None:
        self.at: float | None = None


class Schedule:
    """Start times at least ``window / count`` apart, at most ``count`` in any ``window`` and at most ``share``
    (what that spacing puts there) in any platform window (``per_seconds``).

    Requests written at an even pace reach the platform unevenly when round trips vary (``observe`` measures
    them). Spread: the window's margin is at least what ``jitter_margin`` computes from recent round-trip
    times. Gated: the margin stays at its floor and each start time also waits for the gate (``_gate_at``),
    which counts the sends answered recently and those not yet ended (``end``, ``drop``). ``gated`` is
    whichever the measured round trips make cheaper (``gate``: None chooses so, False never gates, True
    gates as soon as round trips are measured). ``widen``/``relax`` move the floor after 429s. The margin
    stays between ``margin`` and ``MAX_MARGIN``."""

    def __init__(self, limit: Limit, margin: float = MARGIN, lookahead: float = LOOKAHEAD,
                 gate: bool | None = None) -> None:
        self.count = max(1, int(limit.count))
        self.per_seconds = limit.per_seconds
        self.base_margin = margin
        self.lookahead = lookahead
        self.times: deque[float] = deque()  # handed-out start times, in order (moved later by late starts)
        self.first_seq = 0  # sequence number of times[0]
        self._shift_tokens = SHIFT_CAPACITY
        self._shift_clock: float | None = None
        self.rtts: deque[float] = deque(maxlen=RTT_SAMPLES)
        self._since_update = 0
        self.floor = margin  # the base margin, raised by 429s
        self.jitter = 0.0  # the margin the measured round-trip jitter requires (jitter_margin)
        self.rtt_dispersion = 0.0  # E|X - X'| of recent round trips, seconds
        self.rtt_spread = 0.0  # their 1st to 99th percentile, seconds
        self.rtt_min = 0.0  # the gate's floor (rtt_floor): no send is taken to be counted sooner after its write
        self.rtt_mean = 0.0
        self.gate = gate
        self.gated = False
        self.gate_margin = MAX_MARGIN  # what the gate is expected to give up (gate_cost), once measured
        self.answers: deque[float] = deque()  # when recent sends ended (answered or given up), in order
        self.open: dict[int, float] = {}  # seq -> start time, of slots handed out and not yet ended or dropped
        self._apply()

    def _apply(self) -> None:
        if self.gated:
            self.margin = min(MAX_MARGIN, self.floor)
        else:
            self.margin = min(MAX_MARGIN, max(self.floor, self.jitter))
        self.window = self.per_seconds * (1.0 + self.margin)
        self.spacing = self.window / self.count
        # what even spacing puts in one platform window (976 of 1000 at 2.5 %): no window of start times holds
        # more, so that sends released together after a stall do not use up the margin (``next_at``)
        self.share = min(self.count, max(1, math.ceil(self.per_seconds / self.spacing - 1e-9)))
        # the gate's window: the platform's, GATE_MARGIN longer, and wider after 429s as the margin is
        self.gate_window = self.per_seconds * (1.0 + GATE_MARGIN + max(0.0, self.floor - self.base_margin))

    def widen(self) -> None:
        """The platform answered 429 although we kept to the schedule: keep a wider margin from now on."""
        self.floor = min(MAX_MARGIN, self.floor + WIDEN_STEP)
        self._apply()

    def relax(self) -> bool:
        """Take back one widening step (after a quiet period); False when already at the base margin."""
        if self.floor <= self.base_margin:
            return False
        self.floor = max(self.base_margin, self.floor - WIDEN_STEP)
        self._apply()
        return True

    def observe(self, rtt: float) -> None:
        """One request's round trip, from its write to its answer."""
        self.rtts.append(rtt)
        self._since_update += 1
        # soon after start (8, 16, 32 round trips), then every RTT_UPDATE_EVERY
        due = min(RTT_UPDATE_EVERY, max(RTT_MIN_SAMPLES, len(self.rtts) // 2))
        if self._since_update >= due and len(self.rtts) >= RTT_MIN_SAMPLES:
            self._since_update = 0
            samples = sorted(self.rtts)
            self.rtt_spread = samples[int(0.99 * (len(samples) - 1))] - samples[int(0.01 * (len(samples) - 1))]
            self.rtt_dispersion = mean_abs_difference(samples)
            self.jitter = margin_for_dispersion(self.count, self.per_seconds, self.rtt_dispersion)
            self.rtt_min = rtt_floor(samples)
            self.rtt_mean = sum(samples) / len(samples)
            self.gate_margin = gate_cost(self.count, self.per_seconds, self.rtt_min, self.rtt_mean)
            self.gated = self.gate is not False and (self.gate is True or self.gate_margin < self.jitter)
            self._apply()

    def end(self, seq: int, now: float) -> None:
        """Slot ``seq``'s send ended now (answered, failed or given up): the platform counted it by now, if at
        all. Sends that end are kept (``answers``) for as long as the gate may need them."""
        if self.open.pop(seq, None) is None:
            return
        answers = self._prune_answers(now)
        answers.append(max(now, answers[-1]) if answers else now)  # in order

    def _prune_answers(self, now: float) -> deque[float]:
        """The answers a gate may still need: those of the last ``gate_window`` (no cut reaches further back)."""
        answers = self.answers
        while answers and answers[0] <= now - self.gate_window:
            answers.popleft()
        return answers

    def drop(self, seq: int) -> None:
        """Slot ``seq``'s send will not happen: it no longer counts for the gate (its time stays used)."""
        self.open.pop(seq, None)

    def _prune_open(self, now: float) -> None:
        """A slot whose task vanished without ending it must not count (nor be kept) for ever."""
        open_ = self.open
        while open_:
            seq, at = next(iter(open_.items()))
            if at > now - OPEN_TTL:
                break
            del open_[seq]

    def _gate_at(self, now: float) -> float | None:
        """The earliest time a new send may start for the gate, from what is known now; None: not before some
        send under way ends (they alone fill a window).

        Say every send's round trip falls the same way around its count: a share ``F`` of it before, the rest
        after (the fake server's model; ``F`` = 1 is all before). A send starting at ``t`` is then counted at
        ``t + F * rtt_min`` or later, and an earlier send answered at ``R`` was counted at ``R - (1 - F) *
        rtt_min`` or earlier; so each window that can hold the new send holds at most the sends answered after
        ``t + rtt_min - gate_window`` and those not yet ended, whatever ``F`` and the delays are. While that is
        at most ``count - 1``, no window can overflow. Later answers only turn open sends into ended ones,
        which count no more. (Sends whose round trips split differently, one counted on arrival and the next
        at its answer, can still bunch: neither this nor the spread margin rules that out.)

        Answers are kept for a whole ``gate_window``, not only after the cut: ``rtt_min`` may fall as round
        trips are measured, moving the cut earlier."""
        answers = self._prune_answers(now)
        skip = bisect_right(answers, now + self.rtt_min - self.gate_window)  # answered by the cut
        recent = len(answers) - skip
        self._prune_open(now)
        excess = recent + len(self.open) + 1 - self.count
        if excess <= 0:
            return now
        if excess > recent:
            return None
        return answers[skip + excess - 1] + self.gate_window - self.rtt_min

    def _prune(self, now: float) -> None:
        while self.times and self.times[0] <= now - self.window:
            self.times.popleft()
            self.first_seq += 1

    def next_at(self, now: float) -> float | None:
        """The next start time that may be handed out; None: not before a send under way ends (gate)."""
        self._prune(now)
        t = now
        if self.times:
            t = max(t, self.times[-1] + self.spacing)
        if len(self.times) >= self.count:
            t = max(t, self.times[-self.count] + self.window)
        if self.share < self.count and len(self.times) >= self.share:  # never binds while evenly spaced
            t = max(t, self.times[-self.share] + self.per_seconds)
        if self.gated:
            gate = self._gate_at(now)
            if gate is None:
                return None
            t = max(t, gate)
        return t

    def take(self, now: float, lookahead: float | None = None) -> tuple[int, float] | float:
        """``(seq, at)``: a start time within the lookahead, booked. A float: seconds until one is."""
        ahead = self.lookahead if lookahead is None else lookahead
        t = self.next_at(now)
        if t is None:
            return self.spacing  # look again then: answers may have come
        if t - now > ahead:
            return max(t - now - ahead, 0.0005)  # never a vanishing wait (float rounding)
        self.times.append(t)
        seq = self.first_seq + len(self.times) - 1
        self._prune_open(now)
        self.open[seq] = t
        return seq, t

    @property
    def tolerance(self) -> float:
        """Lateness absorbed in place; later starts shift the schedule. Half the base margin (12.5 ms at 2.5 %),
        plus a quarter of the round trips' dispersion (17 ms at 100-300 ms).

        Absorbed lateness can bunch sends by at most this much; the other half of the base margin is for
        scheduling jitter. Where round trips vary a lot, the network smears such a bunch over its own, much
        wider, spread (the ``jitter`` margin is sized for that), so a small stall need not cost a shift."""
        return self.per_seconds * self.base_margin / 2 + self.rtt_dispersion / 4

    def time_of(self, seq: int) -> float | None:
        """Slot ``seq``'s start time now (it may have moved later since it was handed out); None if forgotten."""
        idx = seq - self.first_seq
        return self.times[idx] if 0 <= idx < len(self.times) else None

    def started(self, seq: int, now: float) -> None:
        """Slot ``seq`` really started (or was written) at ``now``; a late start moves times later.

        A little late: this slot, and any handed out after it that it overtook, move to ``now``. Later than
        ``tolerance`` (the loop stalled, a connection took long): this slot and every one after it move later
        by as much, so that the sends whose times passed during the stall do not all go at once — a burst
        would use up the margin meant for network jitter. Their tasks see the new times (``time_of``).
        Shifts are rationed (``_may_shift``); lateness beyond the ration is absorbed as above: after a stall
        longer than the ration, the sends whose times passed go out together, and the ``share`` rule in
        ``next_at`` holds the following ones back so that no platform window holds more than even spacing
        would have put there (the window rule alone let that second hold the whole ``count``, its margin used
        up)."""
        idx = seq - self.first_seq
        if not 0 <= idx < len(self.times) or self.times[idx] >= now:
            return
        late = now - self.times[idx]
        if late > self.tolerance and self._may_shift(now, late):
            for j in range(idx, len(self.times)):
                self.times[j] += late
            return
        for j in range(idx, len(self.times)):
            if self.times[j] >= now:
                break
            self.times[j] = now

    def _may_shift(self, now: float, late: float) -> bool:
        """Shift only when sends are lined up behind this one (the limit binds: otherwise no burst can follow)
        and within the shift budget: a loop that is late all the time (too busy for the rate) would otherwise
        push the schedule back on every batch, and send far below what it could."""
        if not self.times or self.times[-1] - now <= self.tolerance:
            return False
        if self._shift_clock is not None:
            self._shift_tokens = min(SHIFT_CAPACITY, self._shift_tokens + (now - self._shift_clock) * SHIFT_SHARE)
        self._shift_clock = now
        if late > self._shift_tokens:
            return False
        self._shift_tokens -= late
        return True

    def budget(self, now: float, want: int) -> tuple[int, float]:
        """``(n, 0.0)``: about ``n`` ≥ ``want`` start times fit in the lookahead now (gated: fewer, when the
        gate lets fewer go: waiting for ``want`` would only poll); else ``(0, wait)``."""
        t = self.next_at(now)
        if t is None:
            return 0, self.spacing
        horizon = now + self.lookahead
        n = int((horizon - t) / self.spacing) + 1 if t <= horizon else 0
        if self.gated and n > 0:  # the gate lets one more go per answer that leaves its window by the horizon
            room = self.count - 1 - len(self.open)
            leave = horizon + self.rtt_min - self.gate_window
            room -= len(self.answers) - bisect_right(self.answers, leave)
            gate_n = max(1, room + 1)
            if gate_n < min(n, want):  # the gate, not the spacing, binds: claim what it lets go, not nothing
                return gate_n, 0.0
            n = min(n, gate_n)
        if n >= want:
            return n, 0.0
        return 0, max(0.001, t + (want - 1) * self.spacing - horizon)


class SlidingWindow:
    """At most ``count`` sends in any ``window`` seconds; held (not yet started) sends count as sent.

    ``delay(now, spread)``: the window is ``spread`` seconds longer, the measured spread of round trips. A
    chat's limit is a handful of sends (1 per second in a private chat): none averages its jitter out, so
    two sends written 1.025 s apart may arrive 0.8 s apart when one took 100 ms and the next 300 ms."""

    def __init__(self, limit: Limit, margin: float = MARGIN) -> None:
        self.count = max(1, int(limit.count))
        self.window = limit.per_seconds * (1.0 + margin)
        self.stamps: deque[float] = deque()
        self.held = 0

    def delay(self, now: float, spread: float = 0.0) -> float:
        window = self.window + spread
        while self.stamps and now - self.stamps[0] >= window:
            self.stamps.popleft()
        over = len(self.stamps) + self.held + 1 - self.count
        if over <= 0:
            return 0.0
        if over > len(self.stamps):  # only held sends block: they start within moments
            return 0.01
        return self.stamps[over - 1] + window - now

    def hold(self) -> None:
        self.held += 1

    def start(self, now: float) -> None:
        self.held = max(0, self.held - 1)
        if self.stamps and self.stamps[-1] > now:  # keep the deque ordered
            now = self.stamps[-1]
        self.stamps.append(now)

    def release(self) -> None:
        self.held = max(0, self.held - 1)

    def restamp_last(self, now: float) -> None:
        if self.stamps and self.stamps[-1] < now:
            self.stamps[-1] = now


class ChannelLimiter:
    """Limits for one channel: ``global_`` for all sends, ``private`` per chat, ``group`` per group."""

    def __init__(
        self,
        global_: Limit | None,
        private: Limit | None,
        group: Limit | None,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        max_chats: int = 50_000,
        gate: bool | None = None,
    ) -> None:
        """``clock`` and ``sleep`` (a monotonic clock in seconds, and a coroutine that waits on it): the real
        ones unless a test drives the limiter and the delivery engine in virtual time. ``gate``: see
        ``Schedule`` (None: the global schedule gates when that is cheaper than spreading)."""
        self._global = Schedule(global_, gate=gate) if global_ else None
        self._private = private
        self._group = group
        self._chats: OrderedDict[str, SlidingWindow] = OrderedDict()
        self._clock = clock
        self.sleep = sleep  # the delivery engine waits for slot times with this
        self._max_chats = max_chats
        self._paused_until = 0.0
        self._margin_moved_at = 0.0  # when the margin was last widened or relaxed

    def now(self) -> float:
        return self._clock()

    def pause(self, seconds: float) -> None:
        """Nothing goes out on this channel for ``seconds``."""
        self._paused_until = max(self._paused_until, self.now() + seconds)

    def rate_limited(self, retry_after: float) -> None:
        """The platform answered 429 with ``retry_after``: pause, and widen the global margin once per pause
        (the other sends already under way into the same overload get the same answer)."""
        now = self.now()
        if self._global is not None and now >= self._paused_until:
            self._global.widen()
            self._margin_moved_at = now
        self.pause(retry_after)

    def paused_for(self) -> float:
        return max(0.0, self._paused_until - self.now())

    def _chat(self, key: str, is_group: bool) -> SlidingWindow | None:
        limit = self._group if is_group else self._private
        if limit is None:
            return None
        win = self._chats.get(key)
        if win is None:
            win = SlidingWindow(limit)
            self._chats[key] = win
            if len(self._chats) > self._max_chats:
                self._chats.popitem(last=False)
        else:
            self._chats.move_to_end(key)
        return win

    def hold(self, chat_key: str, is_group: bool, *, ahead: bool = True) -> Slot | float:
        """Hold a slot for one send to this chat, or return how long until one may be free.

        ``ahead=False``: only a slot that may start now."""
        now = self.now()
        if now < self._paused_until:
            return self._paused_until - now
        chat = self._chat(chat_key, is_group)
        if chat is not None:
            cwait = chat.delay(now, self.rtt_spread)
            if cwait > 0:
                return cwait
        seq: int | None = None
        at = now
        if self._global is not None:
            got = self._global.take(now, None if ahead else 0.0)
            if isinstance(got, float):
                return got
            seq, at = got
        if chat is not None:
            chat.hold()
        return Slot(at, seq, chat_key, is_group)

    def slot_time(self, slot: Slot) -> float:
        """When the held send may start: its slot's time, moved later if the schedule shifted after a stall."""
        if self._global is not None and slot.seq is not None:
            at = self._global.time_of(slot.seq)
            if at is not None:
                return at
        return slot.at

    def start(self, slot: Slot) -> None:
        """The held send's request goes out now."""
        now = self.now()
        if self._global is not None and slot.seq is not None:
            self._global.started(slot.seq, now)
        chat = self._chat(slot.chat_key, slot.is_group)
        if chat is not None:
            chat.start(now)

    def on_wire(self, slot: Slot) -> None:
        """The started send's request is written only now: count its slot from now (see ``request_on_wire``)."""
        now = self.now()
        if self._global is not None and slot.seq is not None:
            self._global.started(slot.seq, now)
        chat = self._chats.get(slot.chat_key)
        if chat is not None:
            chat.restamp_last(now)

    def watch_wire(self, slot: Slot) -> WireMark:
        """In the send's task: let the transport report when the request is written (``request_on_wire``)."""
        mark = WireMark()

        def written() -> None:
            mark.at = self.now()
            self.on_wire(slot)

        _on_wire.set(written)
        return mark

    def answered(self, mark: WireMark) -> None:
        """The send's answer arrived: its round trip feeds the jitter margin (when the transport reported)."""
        if self._global is not None and mark.at is not None:
            self._global.observe(self.now() - mark.at)

    def finish(self, slot: Slot) -> None:
        """The started send ended, with an answer or without one: the platform has counted it by now, if at
        all (the gate counts it as counted now; ``Schedule.end``)."""
        if self._global is not None and slot.seq is not None:
            self._global.end(slot.seq, self.now())

    def release(self, slot: Slot) -> None:
        """The held send will not happen (another process claimed the row). Its global time stays used."""
        if self._global is not None and slot.seq is not None:
            self._global.drop(slot.seq)
        chat = self._chat(slot.chat_key, slot.is_group)
        if chat is not None:
            chat.release()

    def reserve(self, chat_key: str, is_group: bool) -> float:
        """Hold a slot that starts now and start it (0.0), or return how long until one may be free."""
        got = self.hold(chat_key, is_group, ahead=False)
        if isinstance(got, float):
            return got
        self.start(got)
        return 0.0

    def chat_delay(self, chat_key: str, is_group: bool) -> float:
        """How long this chat alone must wait (ignores the global limit)."""
        chat = self._chat(chat_key, is_group)
        return chat.delay(self.now(), self.rtt_spread) if chat else 0.0

    @property
    def rtt_spread(self) -> float:
        """The spread of recent round trips (1st to 99th percentile; 0 until measured): per-chat windows are
        this much longer (``SlidingWindow``)."""
        return self._global.rtt_spread if self._global is not None else 0.0

    @property
    def paced(self) -> bool:
        """Whether a global schedule spreads this channel's sends over time (``budget`` = a lookahead's worth)."""
        return self._global is not None

    @property
    def pacing(self) -> dict[str, float] | None:
        """The global schedule's state (for benchmarks and the doctor): margins, whether the gate is on (1.0),
        the slots not yet ended, round-trip figures."""
        g = self._global
        if g is None:
            return None
        return {"margin": g.margin, "jitter_margin": g.jitter, "floor": g.floor, "gated": float(g.gated),
                "gate_margin": g.gate_margin, "open": float(len(g.open)), "rtt_min_s": g.rtt_min,
                "rtt_mean_s": g.rtt_mean, "rtt_dispersion_s": g.rtt_dispersion, "rtt_spread_s": g.rtt_spread,
                "rtt_samples": float(len(g.rtts))}

    @property
    def global_margin(self) -> float | None:
        """The global window's current margin (grows with jitter and after 429s); None without a global limit."""
        return self._global.margin if self._global is not None else None

    @property
    def batch(self) -> int:
        """Sends worth claiming together: half the lookahead's worth (capped); 1 for slow channels."""
        if self._global is None:
            return UNLIMITED_BATCH
        return max(1, min(MAX_BATCH, int(self._global.lookahead / self._global.spacing / 2)))

    def budget(self) -> tuple[int, float]:
        """``(n, 0.0)``: ``n`` sends may be claimed now — at least ``batch`` of them, so that a busy loop claims
        in batches rather than one row per wake-up. ``(0, wait)``: come back in ``wait`` seconds."""
        now = self.now()
        if now < self._paused_until:
            return 0, self._paused_until - now
        if self._global is None:
            return UNLIMITED_BATCH, 0.0
        if now - self._margin_moved_at >= RELAX_AFTER and self._global.relax():
            self._margin_moved_at = now
        return self._global.budget(now, self.batch)
