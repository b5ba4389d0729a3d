"""Region resolution latency: free-text lookups ("samarnda", "kutai timr") against the Kemendagri list, each a
cache miss; prints JSON with the mean per call and p50/p99. Goal: under 2 ms per call on one core.

    .venv/bin/python -m benchmarks.regions
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot import regions  # noqa: E402

GOAL_MS = 2.0


def main() -> int:
    regions.resolve("warm up")  # loads the data; not timed
    queries = [f"samarnda {i}" for i in range(100)] + [f"kutai timr{'x' * (i % 3)} {i}" for i in range(100)]
    times_ms: list[float] = []
    for q in queries:
        start = time.perf_counter()
        regions.resolve(q)
        times_ms.append((time.perf_counter() - start) * 1000)
    ordered = sorted(times_ms)
    mean = sum(times_ms) / len(times_ms)
    print(json.dumps({
        "ok": mean < GOAL_MS,
        "calls": len(queries),
        "mean_ms": round(mean, 3),
        "p50_ms": round(ordered[len(ordered) // 2], 3),
        "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))], 3),
        "goal_mean_ms": GOAL_MS,
    }, indent=2))
    return 0 if mean < GOAL_MS else 1


if __name__ == "__main__":
    sys.exit(main())
