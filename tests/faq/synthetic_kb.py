"""A synthetic knowledge base of any size, made from the real one (used by the scale test and ``benchmarks.faq``).

Each new entry copies a real entry's title (with a number), verdict, answer and keywords, gets a fresh id
``syn-N`` and as many questions as its model, each the first half of one real phrasing joined to the
second half of another. The vocabulary therefore stays the KB's while the postings grow with the size,
which is what makes per-candidate work expensive. Deterministic for a given seed.
"""

from __future__ import annotations

import random

from faq.kb import Entry, KnowledgeBase


def synthetic_kb(kb: KnowledgeBase, size: int, seed: int = 7) -> KnowledgeBase:
    """Scale ``kb`` to ``size`` entries (the real entries first) by recombining halves of real phrasings."""
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
