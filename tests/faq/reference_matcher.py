"""Reference ORACLE for the FAQ matcher's scoring: the implementation of ``faq.matcher`` as of ``de42a01``.

It is the straightforward per-candidate Python version (index building, token mapping, ``_query`` and
``rank``) copied verbatim, with its own copies of the scoring constants, so that a change to the scoring
in ``faq/matcher.py`` (weights, typo mapping, candidate selection, tie order) makes
``tests/faq/test_matcher_scale.py`` fail. Keep it unchanged unless the scoring is meant to change, and
then change both, in the same commit, and say why. ``benchmarks.faq`` imports it for the "before" figures.
"""

from __future__ import annotations

import math
from functools import lru_cache

from rapidfuzz import fuzz, process

from faq.kb import KnowledgeBase
from faq.normalize import Normalizer, load_slang

W_COVERAGE = 0.5
W_PHRASE = 0.4
W_FUZZY = 0.1
TYPO_CUTOFF = 85.0
TYPO_MIN_LEN = 5
COMMON_DF = 0.15
FUZZY_TOP = 12
UNKNOWN_FACTOR = 1.0


class ReferenceMatcher:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        slang = load_slang()
        base = Normalizer(slang)
        lexicon: set[str] = set()
        texts_per_entry: list[tuple[list[str], str]] = []
        for e in kb:
            phrasings = [*e.questions, e.title]
            texts_per_entry.append((phrasings, " ".join(e.keywords)))
            for text in [*phrasings, *e.keywords]:
                lexicon.update(base.raw_tokens(text))
        self.normalizer = Normalizer(slang, extra_lexicon=lexicon)

        self.ids: list[str] = [e.id for e in kb]
        self.p_entry: list[int] = []
        self.p_tokens: list[frozenset[str]] = []
        self.p_text: list[str] = []
        bags: list[set[str]] = []
        for ei, (phrasings, keywords) in enumerate(texts_per_entry):
            bag: set[str] = set(self.normalizer.tokens(keywords))
            for text in phrasings:
                toks = self.normalizer.tokens(text)
                if not toks:
                    continue
                self.p_entry.append(ei)
                self.p_tokens.append(frozenset(toks))
                self.p_text.append(" ".join(toks))
                bag.update(toks)
            bags.append(bag)
        self.bags = [frozenset(b) for b in bags]
        n = len(self.ids)
        df: dict[str, int] = {}
        for bag in self.bags:
            for tok in bag:
                df[tok] = df.get(tok, 0) + 1
        self.idf = {
            tok: math.log(1.0 + n / d) * (slang.weak_factor if tok in slang.weak else 1.0) for tok, d in df.items()
        }
        self.unknown_weight = math.log(1.0 + n / 0.5) * UNKNOWN_FACTOR
        self.vocab = sorted(self.idf)
        self.common = frozenset(t for t, d in df.items() if d > COMMON_DF * n)
        self.p_weight = [sum(self.idf[t] for t in toks) for toks in self.p_tokens]
        self.postings: dict[str, list[int]] = {}
        for pi, toks in enumerate(self.p_tokens):
            for tok in toks:
                self.postings.setdefault(tok, []).append(pi)
        self.entry_phrasings: list[list[int]] = [[] for _ in range(n)]
        for pi, ei in enumerate(self.p_entry):
            self.entry_phrasings[ei].append(pi)
        self._map_token = lru_cache(maxsize=50000)(self._map_token_uncached)

    def _map_token_uncached(self, tok: str) -> str | None:
        if tok in self.idf:
            return tok
        if len(tok) < TYPO_MIN_LEN:
            return None
        for cand, _score, _i in process.extract(tok, self.vocab, scorer=fuzz.ratio, score_cutoff=TYPO_CUTOFF, limit=3):
            if cand[0] == tok[0] and abs(len(cand) - len(tok)) <= 2 and len(cand) >= TYPO_MIN_LEN:
                return cand
        return None

    def _query(self, text: str) -> tuple[list[str], float, str]:
        seen: dict[str, None] = {}
        unknown = 0
        for tok in self.normalizer.tokens(text):
            mapped = self._map_token(tok)
            if mapped is None:
                unknown += 1
            else:
                seen.setdefault(mapped, None)
        toks = list(seen)
        total = sum(self.idf[t] for t in toks) + unknown * self.unknown_weight
        return toks, total, " ".join(toks)

    def rank(self, text: str) -> list[tuple[str, float]]:
        toks, total, qtext = self._query(text)
        if not toks or total <= 0:
            return []
        rare = [t for t in toks if t not in self.common] or toks
        candidates: set[int] = set()
        for tok in rare:
            for pi in self.postings.get(tok, ()):
                candidates.add(self.p_entry[pi])
        qset = frozenset(toks)
        pre: list[tuple[float, int, float, float]] = []
        for ei in candidates:
            bag = self.bags[ei]
            coverage = sum(self.idf[t] for t in toks if t in bag) / total
            phrase = 0.0
            for pi in self.entry_phrasings[ei]:
                inter = qset & self.p_tokens[pi]
                if inter:
                    dice = 2.0 * sum(self.idf[t] for t in inter) / (total + self.p_weight[pi])
                    phrase = max(phrase, dice)
            pre.append((W_COVERAGE * coverage + W_PHRASE * phrase, ei, coverage, phrase))
        pre.sort(reverse=True)
        results: list[tuple[str, float]] = []
        for rank_i, (partial, ei, _cov, _phr) in enumerate(pre):
            fz = 0.0
            if rank_i < FUZZY_TOP:
                fz = max(fuzz.token_sort_ratio(qtext, self.p_text[pi]) for pi in self.entry_phrasings[ei]) / 100.0
            results.append((self.ids[ei], partial + W_FUZZY * fz))
        results.sort(key=lambda r: r[1], reverse=True)
        return results
