"""Question -> KB entry matching with three outcomes: answer, suggest, none.

Scoring (per entry, all in [0, 1]):

* every content token gets an IDF weight computed over entries (a word used by many entries, such as
  "asn" or "boleh", weighs little; a word unknown to the KB weighs as much as the rarest KB word, so
  off-topic questions score low). Unknown tokens of 4+ letters are first mapped to the closest KB
  word with rapidfuzz (typos: "kampaye" -> "kampanye") when the similarity is high enough;
* ``coverage``: weighted share of the question's tokens found anywhere in the entry (questions, title,
  keywords);
* ``phrase``: best weighted Dice overlap between the question and one phrasing of the entry;
* ``fuzzy``: best rapidfuzz ``token_sort_ratio`` between the normalised question and a phrasing.

``score = W_COVERAGE * coverage + W_PHRASE * phrase + W_FUZZY * fuzzy``. The decision thresholds
(answer score, margin over the runner-up, suggest score) are read from ``faq/thresholds.toml``,
which ``python -m faq tune`` writes from a labelled question file.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from rapidfuzz import fuzz, process

from faq.kb import KnowledgeBase, load_kb
from faq.normalize import Normalizer, load_slang

THRESHOLDS_PATH = Path(__file__).with_name("thresholds.toml")

W_COVERAGE = 0.5
W_PHRASE = 0.4
W_FUZZY = 0.1
TYPO_CUTOFF = 85.0  # rapidfuzz ratio needed to treat an unknown word as a typo of a KB word
TYPO_MIN_LEN = 5  # shorter words are too easily confused ("madu" ~ "adu")
COMMON_DF = 0.15  # tokens in more than this share of entries do not generate candidates
FUZZY_TOP = 12  # entries that get the (slower) fuzzy string comparison
MAX_SUGGESTIONS = 3
UNKNOWN_FACTOR = 1.0  # weight of a word unknown to the KB, relative to the rarest KB word


@dataclass(frozen=True)
class Thresholds:
    answer: float = 0.55
    margin: float = 0.08
    suggest: float = 0.30


@dataclass(frozen=True)
class Match:
    status: Literal["answer", "suggest", "none"]
    id: str | None
    score: float
    suggestions: tuple[str, ...]


# Matcher.decide (see faq/decision.py for the bands)
MIN_CLEAR_TOKENS = 2  # a one-word question ("kampanye", "mulai") never gets a verdict label
PERMISSIVE_VERDICTS = frozenset({"boleh", "bersyarat"})
PERMISSIVE_LEAD = 3.0  # x margin: lead a BOLEH label needs over a close TIDAK BOLEH candidate


def load_thresholds(path: Path | None = None) -> Thresholds:
    path = path or THRESHOLDS_PATH
    if not path.exists():
        return Thresholds()
    with path.open("rb") as fh:
        raw = tomllib.load(fh)
    t = raw.get("thresholds", raw)
    return Thresholds(answer=float(t["answer"]), margin=float(t["margin"]), suggest=float(t["suggest"]))


class Matcher:
    def __init__(self, kb: KnowledgeBase, thresholds: Thresholds | None = None) -> None:
        self.kb = kb
        self.thresholds = thresholds or load_thresholds()
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

    # -- scoring -------------------------------------------------------------------------------
    def _map_token_uncached(self, tok: str) -> str | None:
        if tok in self.idf:
            return tok
        if len(tok) < TYPO_MIN_LEN:
            return None
        for cand, _score, _i in process.extract(tok, self.vocab, scorer=fuzz.ratio, score_cutoff=TYPO_CUTOFF, limit=3):
            # a typo keeps the first letter and roughly the length ("kampaye" -> "kampanye")
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
        """All candidate entries with their scores, best first."""
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

    def decide(
        self, ranked: list[tuple[str, float]], th: Thresholds | None = None, n_tokens: int | None = None
    ) -> Match:
        """The band of a ranking (see :mod:`faq.decision` for what the user sees in each).

        * ``answer`` (clear): best >= ``answer``, lead over the runner-up >= ``margin``, the question has
          at least ``MIN_CLEAR_TOKENS`` content tokens (when ``n_tokens`` is given), and a permissive label
          (BOLEH / BOLEH DENGAN SYARAT) leads every TIDAK BOLEH candidate scoring >= ``suggest`` by at least
          ``PERMISSIVE_LEAD`` x ``margin``. ``suggestions``: runners-up scoring >= ``suggest``.
        * ``suggest`` (uncertain): best >= ``suggest`` but not clear; ``suggestions``: the top candidates.
        * ``none`` (weak or none): best < ``suggest``; ``suggestions``: the candidates scoring >=
          ``suggest - 2 * margin`` (weak hints; empty when nothing comes close).
        """
        th = th or self.thresholds
        if not ranked:
            return Match("none", None, 0.0, ())
        best_id, best = ranked[0]
        second = ranked[1][1] if len(ranked) > 1 else 0.0
        if best >= th.answer and best - second >= th.margin and self._label_is_safe(ranked, th, n_tokens):
            extra = tuple(i for i, s in ranked[1:MAX_SUGGESTIONS] if s >= th.suggest)
            return Match("answer", best_id, round(best, 4), extra)
        if best >= th.suggest:
            return Match("suggest", best_id, round(best, 4), tuple(i for i, _ in ranked[:MAX_SUGGESTIONS]))
        floor = th.suggest - 2 * th.margin
        hints = tuple(i for i, s in ranked[:MAX_SUGGESTIONS] if s >= floor and s > 0)
        return Match("none", None, round(best, 4), hints)

    def _label_is_safe(self, ranked: list[tuple[str, float]], th: Thresholds, n_tokens: int | None) -> bool:
        if n_tokens is not None and n_tokens < MIN_CLEAR_TOKENS:
            return False
        best_id, best = ranked[0]
        entry = self.kb.get(best_id)
        if entry is None or entry.verdict not in PERMISSIVE_VERDICTS:
            return True
        for other_id, score in ranked[1:MAX_SUGGESTIONS]:
            other = self.kb.get(other_id)
            if (other is not None and other.verdict == "tidak" and score >= th.suggest
                    and best - score < PERMISSIVE_LEAD * th.margin):
                return False
        return True

    def match(self, text: str) -> Match:
        return self.decide(self.rank(text), n_tokens=len(set(self.normalizer.tokens(text))))


@lru_cache(maxsize=1)
def default_matcher() -> Matcher:
    """The matcher over the shipped KB and thresholds, built once per process."""
    return Matcher(load_kb())
