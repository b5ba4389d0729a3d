"""The ceiling simulation (``benchmarks/pacing_ceiling.py``, docs/performance.md "The ceiling at 30/s") at small
size: its counter is the fake server's, its greedy limiters never overflow a window and start each send at the
earliest safe time, and the properties the documentation draws from it hold. Deterministic (seeded); no
timing."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from benchmarks.pacing_ceiling import (
    EPS,
    Model,
    count,
    earliest_start,
    main,
    naive_ceilings,
    span,
    summary,
)
from tests.support.fakes.telegram_server import Limits, Stats, _Windows

MODEL = Model()  # 30 per second, 100-300 ms
SEEDS = range(3)
SENDS = 200


def _cover(spans: list[tuple[float, float]], a: float) -> int:
    return sum(1 for st, e in spans if st <= a < e)


def _safe(spans: list[tuple[float, float]], s: float, width: float, limit: int) -> bool:
    """No point of ``[s, s + width]`` is covered by ``limit`` spans (the cover only rises at a span's start)."""
    points = [s, *(st for st, _ in spans if s < st <= s + width)]
    return all(_cover(spans, a) < limit for a in points)


def test_the_counter_refuses_the_31st_send_in_a_window_and_counts_as_the_fake_does() -> None:
    thirty_one = [i * 0.01 for i in range(31)]  # 0.00 .. 0.30
    accepted, refused = count([*thirty_one, 1.0], 30)
    assert refused == 1 and 0.30 not in accepted  # the 31st within one second is refused, not counted
    assert accepted[-1] == 1.0  # the window (0, 1] no longer holds the send at 0.00: room again
    # The fake's own windows decide every send of random clumpy arrivals the same way.
    rng = random.Random(7)
    arrivals = sorted(rng.choice((0.0, 0.5)) + k * 0.6 + rng.uniform(0, 0.3) for k in range(20) for _ in range(25))
    windows, stats, limits = _Windows(), Stats(), Limits(global_per_sec=30)
    fake_accepted = []
    for t in arrivals:
        if windows.check(None, t, limits) is None:
            windows.record(None, t, stats)
            fake_accepted.append(t)
    accepted, refused = count(arrivals, 30)
    assert accepted == fake_accepted and refused == len(arrivals) - len(fake_accepted) > 0


def test_earliest_start_is_safe_and_nothing_earlier_is() -> None:
    """Random spans (points and intervals): the start found leaves every point of its range under the limit, and
    every earlier candidate on a fine grid would have one at the limit."""
    rng = random.Random(3)
    for trial in range(40):
        limit = rng.choice((2, 3, 5))
        spans = []
        for _ in range(rng.randint(limit, 4 * limit)):
            first = rng.uniform(0.0, 2.0)
            spans.append(span(first, first + rng.choice((0.0, rng.uniform(0.0, 0.3)))))
        width = rng.choice((0.0, 0.1, 0.2))
        s = earliest_start(spans, 0.5, width, limit)
        assert s >= 0.5 and _safe(spans, s, width, limit), trial
        grid = [0.5 + i * (s - 0.5) / 400 for i in range(400)]
        assert all(not _safe(spans, g, width, limit) for g in grid if g < s - 10 * EPS), trial


def _row(policy: str, split: float, sends: int = SENDS, seeds: range = SEEDS) -> dict[str, Any]:
    return summary(policy, MODEL, sends, seeds, split)


def test_even_spacing_with_a_ten_percent_margin_overflows_when_the_whole_delay_comes_first() -> None:
    row = _row("even-0.10", 1.0, sends=450, seeds=range(5))
    assert row["runs_with_429"] >= 4 and row["total_429s"] >= row["runs_with_429"]
    assert _row("even-0.21", 1.0)["total_429s"] == 0


@pytest.mark.parametrize("split", [1.0, 0.5, 0.0])
@pytest.mark.parametrize("policy", ["informed", "oracle", "informed-burst", "oracle-burst"])
def test_the_greedy_limiters_never_get_a_429(policy: str, split: float) -> None:
    row = _row(policy, split)
    assert row["total_429s"] == 0 and row["runs_with_429"] == 0 and row["runs"] == len(SEEDS)
    assert row["ratio"]["min"] > 0.8


def test_the_gate_row_is_the_real_schedule_and_sends_more_than_spreading() -> None:
    """No 429 on these seeds under any split (nor on 200 others: the next test)."""
    for split in (0.5, 0.0):
        assert _row("gate", split)["total_429s"] == 0
    gate, spread, even = _row("gate", 1.0), _row("spread", 1.0), _row("even-0.21", 1.0)
    assert gate["total_429s"] == 0 and spread["total_429s"] == 0
    assert gate["model"] is False and spread["model"] is False and even["model"] is True
    assert gate["runs_gated_at_end"] == len(SEEDS) and spread["runs_gated_at_end"] == 0
    assert gate["ratio"]["min"] > max(spread["ratio"]["max"], even["ratio"]["max"])


def test_the_gate_gets_no_429_in_its_first_seconds_over_200_seeds() -> None:
    """Regression: the gate trusted the shortest of its first answers as the shortest round trip. In 5 of these
    200 runs (seeds 1000-1199, F = 1) sends were then counted sooner than it assumed: 6 429s, all in the first
    2.2 s. It now takes less credit from few answers (``rtt_floor``)."""
    row = _row("gate", 1.0, sends=120, seeds=range(1000, 1200))
    assert row["total_429s"] == 0, row


def test_what_the_limiter_knows_sets_its_ceiling() -> None:
    """Under F = 1 the oracle beats the limiter that learns only from answers, which beats the gate (it knows
    neither F nor the delay range); with the count on arrival (F = 0) both greedy limiters reach the limit."""
    oracle, informed, gate = _row("oracle", 1.0), _row("informed", 1.0), _row("gate", 1.0)
    assert oracle["ratio"]["mean"] > informed["ratio"]["mean"] > gate["ratio"]["mean"]
    for policy in ("oracle", "informed"):
        assert _row(policy, 0.0)["ratio"]["min"] >= 0.95


def test_the_naive_ceilings_are_not_bounds() -> None:
    """Losing the whole before-count spread per lane and cycle (0.83 at F = 1) is beaten by the oracle; losing
    half of it on average (0.91) by the oracle that may write bursts, over a longer run."""
    naive = naive_ceilings(MODEL, 1.0)
    assert naive == {"whole_spread": pytest.approx(1 / 1.2, abs=1e-4), "half_spread": pytest.approx(1 / 1.1, abs=1e-4)}
    assert _row("oracle", 1.0)["ratio"]["min"] > naive["whole_spread"]
    assert _row("oracle-burst", 1.0, sends=1500, seeds=range(1))["ratio"]["min"] > naive["half_spread"]


def test_main_prints_one_row_per_policy_and_split(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--runs", "2", "--sends", "100", "--split", "1,0.5", "--split", "0",
                 "--policies", "even-0.1,gate"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(r["split"], r["policy"]) for r in out["results"]] == [
        (f, p) for f in (1.0, 0.5, 0.0) for p in ("even-0.1", "gate")]
    assert set(out["naive_ceilings"]) == {"1.0", "0.5", "0.0"}
    assert out["model"]["runs"] == 2 and all(r["runs"] == 2 for r in out["results"])
    with pytest.raises(SystemExit):
        main(["--policies", "gate,even-x"])
