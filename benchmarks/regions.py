"""Region resolution latency, uncached: free-text lookups against the Kemendagri list (every name, short name and
alias, two typo variants of every key, codes and garbage; ``tests/regions/region_queries.py``), each
call after clearing the lookup cache. Times the current ``bot.regions.resolve`` ("after") and the implementation
it replaced ("before", ``tests/regions/reference_regions.py``), checks both return the same regions,
and prints JSON: mean/p50/p99 per call, wall (``perf_counter``) and CPU (``process_time``, which other processes
on a shared machine inflate less), and per query the least CPU time over the rounds (``cpu_best_of_rounds``), for
all queries and for the typo queries alone (the fuzzy search).

    .venv/bin/python -m benchmarks.regions [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.stats import latency_stats as _stats
from bot import regions
from tests.regions.reference_regions import reference_resolve
from tests.regions.region_queries import exact_queries, odd_queries, typo_queries

GOAL_P99_MS = 0.3


def measure(resolve: Callable[[str], list[regions.Region]], texts: list[str], rounds: int) -> dict[str, Any]:
    wall: list[float] = []
    cpu: list[float] = []
    best = [float("inf")] * len(texts)
    for _ in range(rounds):
        for i, text in enumerate(texts):
            regions._resolve_cached.cache_clear()
            c0, w0 = time.process_time(), time.perf_counter()
            resolve(text)
            w1, c1 = time.perf_counter(), time.process_time()
            wall.append((w1 - w0) * 1000)
            cpu.append((c1 - c0) * 1000)
            best[i] = min(best[i], (c1 - c0) * 1000)
    return {"calls": len(wall), "wall": _stats(wall), "cpu": _stats(cpu), "cpu_best_of_rounds": _stats(best)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    regions.resolve("warm up")  # loads the data; not timed
    typos = typo_queries()
    texts = exact_queries() + typos + odd_queries()
    differing = 0
    for text in texts:
        regions._resolve_cached.cache_clear()
        differing += regions.resolve(text) != reference_resolve(text)
    result: dict[str, Any] = {
        "queries": len(texts),
        "typo_queries": len(typos),
        "keys": len(regions._data().choice_keys),
        "identical_results": differing == 0,
        "differing_results": differing,
        "after": {
            "all": measure(regions.resolve, texts, args.rounds),
            "typos": measure(regions.resolve, typos, args.rounds),
        },
        "before": {
            "all": measure(reference_resolve, texts, args.rounds),
            "typos": measure(reference_resolve, typos, args.rounds),
        },
        "goal_p99_ms": GOAL_P99_MS,
    }
    print(json.dumps(result, indent=2))
    return 0 if differing == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
