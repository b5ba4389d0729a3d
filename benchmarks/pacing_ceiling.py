"""The ceiling at 30 msg/s under platform latency: pacing policies simulated against the fake's counter.

    .venv/bin/python -m benchmarks.pacing_ceiling                     # 20 runs of 450 sends, F = 1, 0.5 and 0
    .venv/bin/python -m benchmarks.pacing_ceiling --sends 9000 --runs 3 \
        --policies informed,informed-burst,oracle,oracle-burst            # steady state, bursts allowed

The counter is the fake Bot API server's global limit (``_Windows`` in ``tests/support/fakes/telegram_server.py``):
exact sliding windows of 1 s, at most ``--limit`` accepted sends in any window ``(c - 1, c]``; a send arriving
when the window ending at its arrival already holds ``--limit`` is refused (a 429) and not counted. The
simulation neither retries a refused send nor pauses after it, so rows with 429s look better here than they
would be. Each request takes a delay ``d`` uniform in ``--delay LO,HI`` (100-300 ms); each seed gives the same
sequence of delays to every policy. ``--split F`` says where the count falls: a send written at ``w`` is counted
at ``w + F * d`` and answered at ``w + d`` (``set_latency(before_fraction=F)`` in the fake): F = 1, the worst
case, counts right before the answer; 0.5 is a round trip half uplink, half downlink; 0 counts on arrival.

Policies (``--policies``, a comma list):

* ``even-M``: writes evenly spaced ``(1 + M) / limit`` apart, whatever happens: a fixed margin M. 0.21 is the
  first pass's jitter margin at 30/s; 1 / 1.053 is 0.95 of the limit. A model.
* ``gate``: the real limiter, ``bot.outbox.ratelimit.Schedule`` as the delivery engine builds it (``gate=None``:
  it measures the round trips and gates once that is cheaper than spreading, from the eighth answer on), driven
  directly in virtual time as in ``tests/outbox/test_pacing.py``: each send starts at the time the schedule
  hands out, its answer ends its slot and feeds its round trip back. No delivery loop, database or HTTP.
* ``spread``: the same real Schedule with the gate off (``gate=False``: the measured jitter margin alone).
* ``informed``: a greedy model of a limiter that learns from the answers and also knows F and the delay range
  exactly: so it knows each answered send's count time (``w + F * (R - w)``), and nothing of the sends not yet
  answered but that they are counted somewhere their write and the delay range allow. It writes each send
  at the earliest time from which no delays at all can make a window overflow. Our gate reasons the same way
  but does not know F (it takes an answer as "counted by now") nor the range (it measures the shortest round
  trip).
* ``oracle``: greedy as ``informed``, but it knows every earlier send's count time exactly, answered or not,
  and only not its own next delay. A model, and no limiter can know that much.
* ``-burst`` after either (``informed-burst``, ``oracle-burst``): it may write several sends at once; without
  it, writes are at least ``1 / limit`` apart (never faster than the limit's own pace, no bursts). Bursting
  policies pack the first seconds full and settle lower later, so a run of 450 sends says little about them
  (the 5th percentile falls inside the first burst): judge them over long runs (``--sends 9000``). The paced
  greedy rows' means are the same over 450 sends as over 9000 (within 0.002).

The greedy rows are computed exactly, without time steps (``earliest_start``). Greedy is not optimal: the rows
show what these policies reach, not what no policy can.

For each policy and split: each run's sustained ratio (sends per second at the counter between the 5th and the
95th percentile of the accepted count times, divided by the limit: ``benchmarks.broadcast.sustained_rate``, the
figure the goal is checked on), min, mean and max over the runs; the 429s in all runs; the runs with any.

``naive_ceilings``: two simple arguments for a ceiling, printed to be checked against the rows, and wrong.
Picture the limit as ``limit`` lanes, one count per window each, and a send that may not be counted before its
lane's window has passed whatever its delay: it is written when its earliest possible count is there and is
counted ``F * (d - LO)`` later, time its lane loses. Losing the whole before-count spread each cycle gives
1 / (1 + F * (HI - LO)) (``whole_spread``, 0.83 at F = 1); losing what the delay turned out to be, on average
half of it, 1 / (1 + F * (HI - LO) / 2) (``half_spread``, 0.91). The oracle and even ``informed`` beat the
first (0.89 and 0.88 at F = 1: they know where earlier sends were counted, so a send loses only what its own
delay turned out to be), and the bursting oracle beats both (0.96 at F = 1, 0.97 at F = 0.5, over long runs:
sends of different lanes fill each other's lost time). Neither bounds every policy.
"""

from __future__ import annotations

import argparse
import heapq
import json
import random
import statistics
import sys
import time
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.broadcast import sustained_rate
from bot.outbox.ratelimit import Limit, Schedule

WINDOW = 1.0  # the platform's window, seconds
EPS = 1e-9  # spans end this much later: c + 1 may round to below where the counter's c' - 1 leaves c behind
DEFAULT_POLICIES = ("even-0.21", "even-0.10", "even-0.053", "spread", "gate", "informed", "oracle")
REAL = {
    "gate": "the real bot.outbox.ratelimit.Schedule (gate=None, as the engine builds it), in virtual time",
    "spread": "the real bot.outbox.ratelimit.Schedule with gate=False (jitter margin only), in virtual time",
}
GREEDY = {
    "informed": "greedy, knowing F, the delay range and the count times of answered sends (a model)",
    "oracle": "greedy, knowing every earlier send's count time exactly, not its own next delay (a model)",
}
DEFAULT_SPLITS = (1.0, 0.5, 0.0)


@dataclass(frozen=True)
class Model:
    limit: int = 30
    lo: float = 0.1
    hi: float = 0.3

    def delays(self, seed: int) -> Callable[[], float]:
        rng = random.Random(seed)
        return lambda: rng.uniform(self.lo, self.hi)


def count(arrivals: list[float], limit: int, window: float = WINDOW) -> tuple[list[float], int]:
    """The fake's counter: ``(accepted count times, sorted; refused)``. Sends are taken in order of arrival; one
    is refused when the window ``(c - window, c]`` already holds ``limit`` accepted sends."""
    accepted: list[float] = []
    refused = 0
    for c in sorted(arrivals):
        if len(accepted) - bisect_right(accepted, c - window) >= limit:
            refused += 1
        else:
            accepted.append(c)
    return accepted, refused


def even(model: Model, sends: int, seed: int, split: float, margin: float) -> list[float]:
    """Count times of sends written ``(1 + margin) / limit`` apart."""
    delay = model.delays(seed)
    spacing = WINDOW * (1.0 + margin) / model.limit
    return [i * spacing + split * delay() for i in range(sends)]


def span(first: float, last: float) -> tuple[float, float]:
    """The windows ``(a - 1, a]`` that may hold a send counted somewhere in ``[first, last]``: ``a`` in
    ``[first, last + 1)`` (``EPS`` later, for float rounding)."""
    return first, last + WINDOW + EPS


def earliest_start(spans: list[tuple[float, float]], earliest: float, width: float, limit: int) -> float:
    """The earliest ``s >= earliest`` such that at every ``a`` in ``[s, s + width]`` at most ``limit - 1`` of
    ``spans`` cover ``a`` (``start <= a < end``): a send counted anywhere in ``[s, s + width]`` then fits.

    A send counted at ``c`` is in the windows ``(a - 1, a]`` with ``a`` in ``[c, c + 1)``; one that may be
    counted anywhere in ``[lo, hi]`` may be in those with ``a`` in ``[lo, hi + 1)``: that is its span. The
    cover only rises where a span starts, so the points to check are ``s`` and the starts in ``(s, s + width]``.
    Where ``k >= limit`` spans cover one, no ``s`` before the ``(k - limit + 1)``-th of their ends works (until
    then ``limit`` of them still cover it, or it is in ``[s, s + width]``): jump there and look again."""
    s = earliest
    while True:
        for a in [s, *sorted(st for st, _ in spans if s < st <= s + width)]:
            ends = sorted(e for st, e in spans if st <= a < e)
            if len(ends) >= limit:
                s = max(s, ends[len(ends) - limit])
                break
        else:
            return s


def greedy(model: Model, sends: int, seed: int, split: float, *, clairvoyant: bool, burst: bool) -> list[float]:
    """Count times under a greedy limiter that writes each send as early as no delay of its own can make a
    window overflow, given what it knows: ``clairvoyant``, every earlier send's count time (the oracle); else
    the split, the delay range and the count times of the sends answered by then (``informed``), the others
    anywhere their write and the delay range allow. ``burst``: several sends may be written at once; else each
    write is at least ``1 / limit`` after the previous one (never faster than the limit's own pace)."""
    delay = model.delays(seed)
    lo, width = split * model.lo, split * (model.hi - model.lo)
    gap = 0.0 if burst else WINDOW / model.limit
    known: list[tuple[float, float]] = []  # spans of the sends whose count times the limiter knows
    inflight: list[tuple[float, float, float]] = []  # (answer time, write time, delay) of the others: a heap
    out: list[float] = []
    now, written = 0.0, -gap
    while len(out) < sends:
        first = max(now, written + gap)
        known = [span for span in known if span[1] > first + lo]  # no longer in any window the next may be in
        spans = known + [span(w + lo, w + split * model.hi) for _r, w, _d in inflight]
        t = earliest_start(spans, first + lo, width, model.limit) - lo
        if inflight and inflight[0][0] <= t:  # an answer comes first: it tells where that send was counted
            now, w, d = heapq.heappop(inflight)
            known.append(span(w + split * d, w + split * d))
            continue
        d = delay()
        c = t + split * d
        out.append(c)
        written = t
        if clairvoyant:
            known.append(span(c, c))
        else:
            heapq.heappush(inflight, (t + d, t, d))
    return out


def schedule(model: Model, sends: int, seed: int, split: float, gate: bool | None) -> tuple[list[float], bool]:
    """Count times under the real ``Schedule`` (and whether it was gated at the end): ``counted_under``."""
    sched = Schedule(Limit(model.limit, WINDOW), gate=gate)
    return counted_under(sched, sends, model.delays(seed), split), sched.gated


def counted_under(sched: Schedule, sends: int, delay: Callable[[], float], split: float) -> list[float]:
    """Each send starts at the time ``sched`` hands out, takes ``delay()`` to its answer, is counted ``split``
    of the way through it; the answer ends its slot (``end``) and feeds its round trip back (``observe``).
    Returns the count times in the order the sends started (also used by ``tests/outbox/test_pacing.py``)."""
    answers: list[tuple[float, int, float]] = []  # (answer time, seq, round trip): a heap
    out: list[float] = []
    now = 0.0
    while len(out) < sends:
        while answers and answers[0][0] <= now:
            at, seq, rtt = heapq.heappop(answers)
            sched.end(seq, at)
            sched.observe(rtt)
        t = sched.next_at(now)
        if t is None or t > now:  # on to the next start time, or to the next answer if that comes first
            now = min(t if t is not None else float("inf"), answers[0][0] if answers else float("inf"))
            continue
        got = sched.take(now, 0.0)
        assert not isinstance(got, float)
        seq, start = got
        rtt = delay()
        out.append(start + split * rtt)
        heapq.heappush(answers, (start + rtt, seq, rtt))
    return out


def naive_ceilings(model: Model, split: float) -> dict[str, float]:
    """The two lane arguments of the module's docstring (not bounds: the oracle rows beat them)."""
    spread = split * (model.hi - model.lo) / WINDOW
    return {"whole_spread": round(1.0 / (1.0 + spread), 4), "half_spread": round(1.0 / (1.0 + spread / 2.0), 4)}


def describe(policy: str) -> str:
    """What ``policy`` is (ValueError if it is none of the known ones)."""
    if policy in REAL:
        return REAL[policy]
    base = policy.removesuffix("-burst")
    if base in GREEDY:
        return GREEDY[base] + ("; may write bursts" if policy.endswith("-burst") else "; writes >= 1/limit apart")
    if policy.startswith("even-"):
        try:
            margin = float(policy.removeprefix("even-"))
        except ValueError:
            margin = -1.0
        if margin >= 0.0:
            return f"writes evenly spaced (1 + {margin:g}) / limit apart (a model)"
    raise ValueError(f"unknown policy {policy!r}")


def run(policy: str, model: Model, sends: int, seed: int, split: float) -> tuple[float, int, bool | None]:
    """One run: ``(sustained ratio, 429s, whether the Schedule was gated at the end or None)``."""
    describe(policy)  # ValueError for an unknown policy
    gated: bool | None = None
    if policy.startswith("even-"):
        arrivals = even(model, sends, seed, split, float(policy.removeprefix("even-")))
    elif policy in REAL:
        arrivals, gated = schedule(model, sends, seed, split, None if policy == "gate" else False)
    else:
        arrivals = greedy(model, sends, seed, split, clairvoyant=policy.startswith("oracle"),
                          burst=policy.endswith("-burst"))
    accepted, refused = count(arrivals, model.limit)
    return sustained_rate(accepted) / model.limit, refused, gated


def summary(policy: str, model: Model, sends: int, seeds: range, split: float) -> dict[str, Any]:
    ratios: list[float] = []
    refused: list[int] = []
    gated: list[bool] = []
    for seed in seeds:
        ratio, bad, g = run(policy, model, sends, seed, split)
        ratios.append(ratio)
        refused.append(bad)
        if g is not None:
            gated.append(g)
    out: dict[str, Any] = {
        "policy": policy,
        "split": split,
        "model": policy not in REAL,  # False: the limiter's own code
        "description": describe(policy),
        "ratio": {"min": round(min(ratios), 4), "mean": round(statistics.fmean(ratios), 4),
                  "max": round(max(ratios), 4)},
        "total_429s": sum(refused),
        "runs_with_429": sum(1 for b in refused if b),
        "runs": len(ratios),
    }
    if gated:
        out["runs_gated_at_end"] = sum(gated)
    return out


def _splits(raw: str) -> list[float]:
    values = [float(x) for x in raw.split(",") if x.strip()]
    if not values or any(not 0.0 <= v <= 1.0 for v in values):
        raise argparse.ArgumentTypeError(f"expected fractions between 0 and 1, got {raw!r}")
    return values


def _delay(raw: str) -> tuple[float, float]:
    lo, hi = (float(x) for x in raw.split(","))
    if not 0.0 <= lo <= hi:
        raise argparse.ArgumentTypeError(f"expected LO,HI seconds with 0 <= LO <= HI, got {raw!r}")
    return lo, hi


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--limit", type=int, default=30, help="sends per 1 s window at the counter")
    p.add_argument("--runs", type=int, default=20, help="seeded runs per policy and split")
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--sends", type=int, default=450, help="sends per run (450: about 15 s at 30/s)")
    p.add_argument("--delay", type=_delay, default=(0.1, 0.3), metavar="LO,HI", help="uniform delay, seconds")
    p.add_argument("--split", action="append", type=_splits, default=None, metavar="F",
                   help="share of each delay before the count; repeatable or a comma list (default 1,0.5,0)")
    p.add_argument("--policies", default=",".join(DEFAULT_POLICIES),
                   help="comma list of even-MARGIN, gate, spread, informed, oracle, informed-burst, oracle-burst")
    args = p.parse_args(argv)
    splits = [f for group in args.split for f in group] if args.split else list(DEFAULT_SPLITS)
    policies = [x.strip() for x in args.policies.split(",") if x.strip()]
    for policy in policies:
        try:
            describe(policy)
        except ValueError as exc:
            p.error(str(exc))
    model = Model(args.limit, *args.delay)
    seeds = range(args.first_seed, args.first_seed + args.runs)
    t0 = time.process_time()
    results = [summary(policy, model, args.sends, seeds, split) for split in splits for policy in policies]
    out = {
        "model": {"limit": model.limit, "window_s": WINDOW, "delay_s": [model.lo, model.hi], "sends": args.sends,
                  "runs": args.runs, "seeds": [seeds.start, seeds.stop - 1]},
        "naive_ceilings": {str(f): naive_ceilings(model, f) for f in splits},
        "results": results,
        "cpu_s": round(time.process_time() - t0, 1),
    }
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
