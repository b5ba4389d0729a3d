"""FAQ benchmark: eval metrics on the dev questions and match latency (real KB and 10,000 entries).

Usage: ``python benchmarks/faq.py [--questions PATH] [--heldout PATH] [--entries 10000]``. Prints JSON.
Latency is measured in this single process (one core), per ``Matcher.match`` call.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from faq.evaluate import evaluate, load_questions  # noqa: E402
from faq.kb import Entry, KnowledgeBase, load_kb  # noqa: E402
from faq.matcher import Matcher, load_thresholds  # noqa: E402


def synthetic_kb(kb: KnowledgeBase, size: int, seed: int = 7) -> KnowledgeBase:
    """Scale the KB to ``size`` entries by recombining halves of real phrasings across entries."""
    rng = random.Random(seed)
    real = list(kb)
    phrasings = [q for e in real for q in e.questions]
    entries = dict(kb.entries)
    i = 0
    while len(entries) < size:
        base = real[i % len(real)]
        qs = []
        for _ in range(len(base.questions)):
            a, b = rng.choice(phrasings).split(), rng.choice(phrasings).split()
            qs.append(" ".join(a[: len(a) // 2] + b[len(b) // 2 :]))
        ident = f"syn-{i}"
        entries[ident] = Entry(
            id=ident,
            title=f"{base.title} {i}",
            questions=tuple(qs),
            verdict=base.verdict,
            answer=base.answer,
            legal_basis=base.legal_basis,
            related=(),
            keywords=base.keywords,
        )
        i += 1
    return KnowledgeBase(entries)


def latency(matcher: Matcher, texts: list[str], rounds: int) -> dict[str, float]:
    for t in texts:  # warm caches (token typo map, stems) like a running bot
        matcher.match(t)
    samples = []
    for _ in range(rounds):
        for t in texts:
            start = time.perf_counter()
            matcher.match(t)
            samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 3),
        "p99_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))], 3),
        "n": len(samples),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=Path, default=ROOT / "tests/faq/dev-questions.toml")
    parser.add_argument("--heldout", type=Path, default=ROOT / "tests/faq/heldout-questions.toml")
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    kb = load_kb()
    matcher = Matcher(kb)
    questions = load_questions(args.questions)
    texts = [q.text for q in questions]
    result: dict = {"kb_entries": len(kb), "thresholds": load_thresholds().__dict__}
    result["dev"] = evaluate(matcher, questions)
    if args.heldout.exists():
        result["heldout"] = evaluate(matcher, load_questions(args.heldout))
    result["latency_real_kb"] = latency(matcher, texts, args.rounds)
    t0 = time.perf_counter()
    big = Matcher(synthetic_kb(kb, args.entries), thresholds=matcher.thresholds)
    result["build_s_scaled"] = round(time.perf_counter() - t0, 2)
    result[f"latency_{args.entries}_entries"] = latency(big, texts, 1)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
