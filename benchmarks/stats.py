"""Latency summaries shared by the benchmarks (milliseconds in, a JSON-ready dict out)."""

from __future__ import annotations

import statistics


def latency_stats(samples: list[float]) -> dict[str, float]:
    """mean, p50, p99 and max of ``samples`` (ms), rounded to 0.1 µs."""
    ordered = sorted(samples)
    return {
        "mean_ms": round(statistics.fmean(ordered), 4),
        "p50_ms": round(statistics.median(ordered), 4),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 4),
        "max_ms": round(ordered[-1], 4),
    }
