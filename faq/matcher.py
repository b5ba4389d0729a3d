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
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process

from faq.kb import KnowledgeBase, load_kb
from faq.normalize import Normalizer, load_slang

THRESHOLDS_PATH = Path(__file__).with_name("thresholds.toml")
LABEL_GUARDS_PATH = Path(__file__).with_name("label-guards.toml")

W_COVERAGE = 0.5
W_PHRASE = 0.4
W_FUZZY = 0.1
TYPO_CUTOFF = 85.0  # rapidfuzz ratio needed to treat an unknown word as a typo of a KB word
TYPO_MIN_LEN = 5  # shorter words are too easily confused ("madu" ~ "adu")
COMMON_DF = 0.15  # tokens in more than this share of entries do not generate candidates
FUZZY_TOP = 12  # entries that get the (slower) fuzzy string comparison
MAX_SUGGESTIONS = 3
UNKNOWN_FACTOR = 1.0  # weight of a word unknown to the KB, relative to the rarest KB word
DIRECT_SUM_ROWS = 64  # up to this many order-sensitive phrase sums are redone one by one, not grouped
DENSE_CELLS = 1_000_000  # vocabulary x (phrasings + entries) up to which a KB keeps dense token rows
STABLE_SORT_MAX = 4096  # candidates sorted by numpy's stable sort up to this many, by two quicksorts above
SUM_SLACK = 1e-9  # relative bound, far above float rounding, on how much a sum's order can change it


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


@dataclass(frozen=True)
class LabelGuards:
    """Words a permissive label's entry must share with the question (``faq/label-guards.toml``), as raw words."""

    support: tuple[str, ...] = ()
    negation: tuple[str, ...] = ()
    actors: tuple[tuple[str, ...], ...] = ()  # groups of words naming one kind of person
    # entry id -> groups of words; the question must hold a word of every group
    requires: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...] = ()


def load_label_guards(path: Path | None = None) -> LabelGuards:
    with (path or LABEL_GUARDS_PATH).open("rb") as fh:
        raw = tomllib.load(fh)
    return LabelGuards(
        support=tuple(str(w) for w in raw.get("support", {}).get("words", ())),
        negation=tuple(str(w) for w in raw.get("negation", {}).get("words", ())),
        actors=tuple(tuple(str(w) for w in ws) for ws in raw.get("actors", {}).values()),
        requires=tuple((str(k), _word_groups(ws)) for k, ws in raw.get("requires", {}).items()),
    )


def _word_groups(value: list[Any]) -> tuple[tuple[str, ...], ...]:
    """A ``[requires]`` value: a list of words (one group) or a list of such lists (every group must match)."""
    if value and all(isinstance(v, list) for v in value):
        return tuple(tuple(str(w) for w in group) for group in value)
    return (tuple(str(w) for w in value),)


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
        guards = load_label_guards()
        self.support_words = frozenset(t for w in guards.support for t in self.normalizer.tokens(w))
        self.negation_words = frozenset(t for w in guards.negation for t in self.normalizer.tokens(w))

        self.ids: list[str] = [e.id for e in kb]
        self._position = {ident: i for i, ident in enumerate(self.ids)}
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
        # for the label guard (_guard_words_agree): per phrasing the tokens it negates; per entry the support
        # words it allows (in a phrasing or keyword without negation)
        stop = slang.stopwords
        self.p_negated: list[frozenset[str]] = []
        allowed: list[set[str]] = [set(self.normalizer.tokens(kw)) for _, kw in texts_per_entry]
        for ei, (phrasings, _) in enumerate(texts_per_entry):
            for text in phrasings:
                p_words = self.normalizer.words(text)
                content = {w for w in p_words if w not in stop and not w.isdigit()}
                if not content:
                    continue
                self.p_negated.append(_negated(p_words, self.negation_words, stop))
                if not content & self.negation_words:
                    allowed[ei].update(content)
        self.allowed_support = [frozenset(a) for a in allowed]
        n = len(self.ids)
        df: dict[str, int] = {}
        for entry_bag in self.bags:
            for tok in entry_bag:
                df[tok] = df.get(tok, 0) + 1
        self.idf = {
            tok: math.log(1.0 + n / d) * (slang.weak_factor if tok in slang.weak else 1.0) for tok, d in df.items()
        }
        self.unknown_weight = math.log(1.0 + n / 0.5) * UNKNOWN_FACTOR
        self.vocab = sorted(self.idf)
        self.common = frozenset(t for t, d in df.items() if d > COMMON_DF * n)
        self.actor_groups = [frozenset(t for w in ws for t in self._guard_tokens(w)) for ws in guards.actors]
        self.requires = {
            k: tuple(frozenset(t for w in group for t in self._guard_tokens(w)) for group in groups)
            for k, groups in guards.requires
        }
        self.p_weight = [sum(self.idf[t] for t in toks) for toks in self.p_tokens]
        self.postings: dict[str, list[int]] = {}
        for pi, p_toks in enumerate(self.p_tokens):
            for tok in p_toks:
                self.postings.setdefault(tok, []).append(pi)
        self.entry_phrasings: list[list[int]] = [[] for _ in range(n)]
        for pi, ei in enumerate(self.p_entry):
            self.entry_phrasings[ei].append(pi)
        self._map_token = lru_cache(maxsize=50000)(self._map_token_uncached)
        self._build_arrays()

    def _build_arrays(self) -> None:
        """Index arrays for the vectorised ``rank``: per token, the phrasings, candidate entries and bags holding
        it; per phrasing, its entry, weight, length and where each of its tokens comes when its frozenset is
        iterated."""
        self._n_phrasings = len(self.p_tokens)
        # ``token_sort_ratio(q, p)`` is ``ratio`` of the two texts with their words sorted: each phrasing's side
        # is sorted once here, so a question compares its sorted text with these by plain ``ratio``.
        self._entry_sorted = [[_sorted_words(self.p_text[pi]) for pi in pis] for pis in self.entry_phrasings]
        self._ids_arr = np.array(self.ids, dtype=object)
        self._p_entry_arr = np.array(self.p_entry, dtype=np.intp)
        self._p_weight_arr = np.array(self.p_weight, dtype=np.float64)
        self._phr_post: dict[str, npt.NDArray[np.intp]] = {
            tok: np.array(pis, dtype=np.intp) for tok, pis in self.postings.items()
        }
        # Every phrasing's tokens (vocabulary indices) in the order its frozenset iterates, one after the
        # other: phrasing pi is ``_p_flat[_p_start[pi] : _p_start[pi] + _p_len[pi]]`` (see ``_shared_sums``).
        self._vocab_index = {tok: i for i, tok in enumerate(self.vocab)}
        self._p_flat = np.array([self._vocab_index[t] for toks in self.p_tokens for t in toks], dtype=np.intp)
        self._p_len = np.array([len(toks) for toks in self.p_tokens], dtype=np.intp)
        self._p_start = np.cumsum(self._p_len) - self._p_len
        # Common tokens' phrasings also as a dense bool vector (one byte per phrasing and common token).
        self._phr_dense: dict[str, npt.NDArray[np.bool_]] = {}
        for tok in self.common:
            if tok in self._phr_post:
                dense = np.zeros(self._n_phrasings, dtype=bool)
                dense[self._phr_post[tok]] = True
                self._phr_dense[tok] = dense
        self._cand_post: dict[str, npt.NDArray[np.intp]] = {
            tok: np.unique(self._p_entry_arr[pis]) for tok, pis in self._phr_post.items()
        }
        bag_post: dict[str, list[int]] = {}
        for ei, bag in enumerate(self.bags):
            for tok in bag:
                bag_post.setdefault(tok, []).append(ei)
        self._bag_post: dict[str, npt.NDArray[np.intp]] = {
            tok: np.array(eis, dtype=np.intp) for tok, eis in bag_post.items()
        }
        # A small KB also keeps, per token, which phrasings hold it and its weight in each bag as dense rows (the
        # shipped one: 1.2 MB): a question's numerators are then a few row operations instead of two or three
        # scatters per token, which on small arrays cost their call overhead, not their work.
        self._dense: tuple[npt.NDArray[np.int8], npt.NDArray[np.float64]] | None = None
        n_vocab, n_entries = len(self.vocab), len(self.ids)
        if n_vocab * (self._n_phrasings + n_entries) <= DENSE_CELLS:
            phr_hit = np.zeros((n_vocab, self._n_phrasings), dtype=np.int8)
            bag_w = np.zeros((n_vocab, n_entries), dtype=np.float64)
            for tok, pis in self._phr_post.items():
                phr_hit[self._vocab_index[tok], pis] = 1
            for tok, eis in self._bag_post.items():
                bag_w[self._vocab_index[tok], eis] = self.idf[tok]
            self._dense = (phr_hit, bag_w)

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

    def _shared_sums(
        self, toks: list[str], rows: npt.NDArray[np.intp], shared: npt.NDArray[np.integer[Any]]
    ) -> npt.NDArray[np.float64]:
        """``sum(idf[t] for t in frozenset(toks) & p_tokens[pi])`` for each phrasing ``pi`` in ``rows``, which
        shares ``shared[i]`` (at least one) tokens with the query.

        A float sum depends on the order of its terms, here the order in which the intersection set iterates.
        That order is fixed by the sequence in which CPython inserted the shared tokens into the new set: it
        walks the smaller operand (the phrasing, unless the phrasing has more tokens than the query) and
        inserts the tokens the other one holds. Phrasings that insert the same tokens in the same sequence
        therefore give the same sum, bit for bit. So the rows are grouped by that sequence (encoded as one
        integer: digit ``j + 1`` for query token ``j``, in base ``q + 1``) and the sum is taken once per group,
        on a real intersection of one of its phrasings.
        """
        q = len(toks)
        qset = frozenset(toks)
        idf = self.idf
        p_tokens = self.p_tokens
        if len(rows) <= DIRECT_SUM_ROWS or q > 62 or (q + 1) ** int(shared.max()) >= 2**63:
            # few rows: summing each is cheaper than grouping them (some twenty numpy calls); or the sequence
            # code would not fit in 63 bits (a question of 14+ tokens sharing 14+ with a phrasing)
            return np.array([sum(idf[t] for t in qset & p_tokens[pi]) for pi in rows.tolist()], dtype=np.float64)
        query_index = np.full(len(self.vocab), -1, dtype=np.int64)
        query_index[[self._vocab_index[t] for t in toks]] = np.arange(q)
        # The rows' tokens in iteration order, flattened; keep those of the query (``shared`` per row).
        lengths = self._p_len[rows]
        ends = np.cumsum(lengths)
        flat = np.arange(int(ends[-1])) + np.repeat(self._p_start[rows] - (ends - lengths), lengths)
        j = query_index[self._p_flat[flat]]
        j = j[j >= 0]
        firsts = np.cumsum(shared) - shared
        place = np.arange(len(j)) - np.repeat(firsts, shared)  # 0, 1, 2 ... within each row
        power = (q + 1) ** place
        code = np.add.reduceat((j + 1) * power, firsts)
        walks_query = lengths > q
        if walks_query.any():  # the query set is walked: the sequence follows from which tokens are shared
            mask = np.bitwise_or.reduceat(np.left_shift(1, j), firsts)
            code[walks_query] = -1 - mask[walks_query]
        _, first, group = np.unique(code, return_index=True, return_inverse=True)
        reps = rows[first].tolist()
        sums = np.array([sum(idf[t] for t in qset & p_tokens[pi]) for pi in reps], dtype=np.float64)
        return sums[group]

    def _numerators(
        self, toks: list[str]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.integer[Any]]]:
        """Per entry the coverage numerator (idf of the query tokens in its bag, added in query order: the order
        of ``sum(idf[t] for t in toks if t in bag)``); per phrasing the phrase numerator (idf of the shared
        tokens) and how many tokens it shares."""
        cov_num = np.zeros(len(self.ids), dtype=np.float64)
        num = np.zeros(self._n_phrasings, dtype=np.float64)
        shared = np.zeros(self._n_phrasings, dtype=np.int32)
        scratch: npt.NDArray[np.float64] | None = None
        for tok in toks:
            w = self.idf[tok]
            bag = self._bag_post.get(tok)
            if bag is not None:
                cov_num[bag] += w
            dense = self._phr_dense.get(tok)
            if dense is not None:  # a common token: adding w or 0.0 everywhere is cheaper than scattering
                if scratch is None:
                    scratch = np.empty(self._n_phrasings, dtype=np.float64)
                np.multiply(dense, w, out=scratch)
                np.add(num, scratch, out=num)
                np.add(shared, dense, out=shared, casting="unsafe")
                continue
            pis = self._phr_post.get(tok)
            if pis is not None:
                num[pis] += w
                shared[pis] += 1
        return cov_num, num, shared

    def _dense_numerators(
        self, toks: list[str], dense: tuple[npt.NDArray[np.int8], npt.NDArray[np.float64]]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.integer[Any]]]:
        """:meth:`_numerators` from the dense rows of a small KB. The coverage rows are added one after the other
        in query order (``add.accumulate``; adding 0.0 leaves a sum as it is), so exactly as there. The phrase
        numerators are a product of the weights with the phrasings' 0/1 rows, summed in numpy's order, which may
        differ from the query's: that changes no sum of one or two terms (w x 1 is w, w x 0 adds nothing), and
        those of three or more are redone in the reference's order wherever they count (``rank``)."""
        phr_hit, bag_w = dense
        rows = [self._vocab_index[t] for t in toks]
        hit = phr_hit[rows]
        cov_num = np.add.accumulate(bag_w[rows], axis=0)[-1]
        return cov_num, np.array([self.idf[t] for t in toks]) @ hit, hit.sum(axis=0)

    def rank(self, text: str) -> list[tuple[str, float]]:
        """All candidate entries with their scores, best first.

        Candidates are the entries with a phrasing that holds a rare query token (any token when all are
        common). Ties keep a fixed order: by score before the fuzzy part, then by entry position, last first.
        Vectorised over the token postings; the floating-point operations are the same, in the same order, as
        in the per-candidate loop this replaced (``tests/faq/reference_matcher.py``), so the scores are
        bit-for-bit the same.
        """
        toks, total, qtext = self._query(text)
        if not toks or total <= 0:
            return []
        rare = [t for t in toks if t not in self.common] or toks
        n = len(self.ids)
        is_cand = np.zeros(n, dtype=bool)
        for tok in rare:
            post = self._cand_post.get(tok)
            if post is not None:
                is_cand[post] = True
        cands = np.flatnonzero(is_cand)
        if not len(cands):
            return []
        if self._dense is not None:
            cov_num, num, shared = self._dense_numerators(toks, self._dense)
        else:
            cov_num, num, shared = self._numerators(toks)
        # phrase: best Dice overlap over the entry's phrasings (0 when none shares a token). Up to two shared
        # tokens, a sum does not depend on the order of its terms. With three or more the per-candidate
        # version may have rounded differently, so those sums are redone in its order, but only for the
        # phrasings that can be their entry's best: the others differ from it by far more than any rounding
        # (SUM_SLACK).
        few = np.flatnonzero((shared > 0) & (shared < 3))  # (on bool arrays: numpy scans ints ten times slower)
        phrase = np.zeros(n, dtype=np.float64)
        np.maximum.at(phrase, self._p_entry_arr[few], 2.0 * num[few] / (total + self._p_weight_arr[few]))
        many = np.flatnonzero(shared >= 3)
        many = many[is_cand[self._p_entry_arr[many]]]
        if len(many):
            many_entry = self._p_entry_arr[many]
            dice = 2.0 * num[many] / (total + self._p_weight_arr[many])
            best = phrase.copy()
            np.maximum.at(best, many_entry, dice)
            close = dice >= best[many_entry] * (1.0 - SUM_SLACK)
            rows = many[close]
            far = ~close
            np.maximum.at(phrase, many_entry[far], dice[far])
            if len(rows):
                exact = 2.0 * self._shared_sums(toks, rows, shared[rows]) / (total + self._p_weight_arr[rows])
                np.maximum.at(phrase, many_entry[close], exact)
        partial = W_COVERAGE * (cov_num[cands] / total) + W_PHRASE * phrase[cands]
        # Best partial score first, ties by entry position, last first (``sort(reverse=True)`` on the tuples
        # (partial, entry, ...)). ``cands`` is ascending, so that is (partial, index) ascending, reversed.
        order = _argsort_pairs(partial)[::-1]
        ordered = cands[order]
        scores = partial[order]
        # The fuzzy part goes to the first FUZZY_TOP only. It can only raise them, and they already lead
        # everything after them, so the final (stable) sort only reorders those few.
        top = min(FUZZY_TOP, len(ordered))
        head_entries = ordered[:top].tolist()
        # the best token_sort_ratio over each entry's phrasings: one ``cdist`` of the question's sorted words
        # against the head entries' sorted phrasings (every candidate has at least one), maximum per entry
        choices: list[str] = []
        starts: list[int] = []
        for ei in head_entries:
            starts.append(len(choices))
            choices.extend(self._entry_sorted[ei])
        ratios = process.cdist([_sorted_words(qtext)], choices, scorer=fuzz.ratio, dtype=np.float64)[0]
        best_fuzzy = np.maximum.reduceat(ratios, starts).tolist()
        head = [
            (self.ids[ei], partial_score + W_FUZZY * (fz / 100.0))
            for ei, partial_score, fz in zip(head_entries, scores[:top].tolist(), best_fuzzy, strict=True)
        ]
        head.sort(key=lambda r: r[1], reverse=True)
        head.extend(zip(self._ids_arr[ordered[top:]].tolist(), scores[top:].tolist(), strict=False))
        return head

    def decide(
        self,
        ranked: list[tuple[str, float]],
        th: Thresholds | None = None,
        n_tokens: int | None = None,
        words: list[str] | None = None,
    ) -> Match:
        """The band of a ranking (see :mod:`faq.decision` for what the user sees in each).

        * ``answer`` (clear): best >= ``answer``, lead over the runner-up >= ``margin``, the question has
          at least ``MIN_CLEAR_TOKENS`` content tokens (when ``n_tokens`` is given), and a permissive label
          (BOLEH / BOLEH DENGAN SYARAT) leads every TIDAK BOLEH candidate scoring >= ``suggest`` by at least
          ``PERMISSIVE_LEAD`` x ``margin``, and (when the question's normalised ``words`` are given) the entry allows
          the support and negation words of ``faq/label-guards.toml`` the question holds (:meth:`_guard_words_agree`).
          ``suggestions``: runners-up scoring >= ``suggest`` (with ``words``: only those whose subject the
          question names).
        * ``suggest`` (uncertain): best >= ``suggest`` but not clear; ``suggestions``: the top candidates (with
          ``words``: those about the person the question names first, :meth:`_same_subject`); ``id`` and
          ``score``: the first of them.
        * ``none`` (weak or none): best < ``suggest``; ``suggestions``: the candidates scoring >=
          ``suggest - 2 * margin`` (weak hints; empty when nothing comes close).
        """
        th = th or self.thresholds
        if not ranked:
            return Match("none", None, 0.0, ())
        best_id, best = ranked[0]
        second = ranked[1][1] if len(ranked) > 1 else 0.0
        if best >= th.answer and best - second >= th.margin and self._label_is_safe(ranked, th, n_tokens, words):
            extra = tuple(
                i for i, s in ranked[1:MAX_SUGGESTIONS]
                if s >= th.suggest and (words is None or self._names_its_subject(i, words))
            )
            return Match("answer", best_id, round(best, 4), extra)
        if best >= th.suggest:
            offered = ranked[:MAX_SUGGESTIONS]
            if words is not None:
                # entries about someone the question does not name ("asn boleh ikut kampanye?" is not about a
                # spouse) come after those that fit, among the close candidates
                close = [c for c in ranked[: 2 * MAX_SUGGESTIONS] if c[1] >= th.suggest]
                fits = [c for c in close if self._same_subject(c[0], words)]
                rest = [c for c in ranked[: 2 * MAX_SUGGESTIONS] if c not in fits]
                offered = (fits + rest)[:MAX_SUGGESTIONS]
            first_id, first = offered[0]
            return Match("suggest", first_id, round(first, 4), tuple(i for i, _ in offered))
        floor = th.suggest - 2 * th.margin
        hints = tuple(i for i, s in ranked[:MAX_SUGGESTIONS] if s >= floor and s > 0)
        return Match("none", None, round(best, 4), hints)

    def _label_is_safe(
        self, ranked: list[tuple[str, float]], th: Thresholds, n_tokens: int | None, words: list[str] | None = None
    ) -> bool:
        if n_tokens is not None and n_tokens < MIN_CLEAR_TOKENS:
            return False
        best_id, best = ranked[0]
        if words is not None and not self._same_subject(best_id, words):
            return False
        entry = self.kb.get(best_id)
        if entry is None or entry.verdict not in PERMISSIVE_VERDICTS:
            return True
        if words is not None and not self._guard_words_agree(best_id, words):
            return False
        for other_id, score in ranked[1:MAX_SUGGESTIONS]:
            other = self.kb.get(other_id)
            if (other is not None and other.verdict == "tidak" and score >= th.suggest
                    and best - score < PERMISSIVE_LEAD * th.margin):
                return False
        return True

    def _guard_tokens(self, word: str) -> list[str]:
        """A guard word's tokens without the common ones it brings along ("pppk" is "asn pppk": every question
        names "asn"), unless it is nothing but common tokens ("partai")."""
        toks = self.normalizer.tokens(word)
        return [t for t in toks if t not in self.common] or toks

    def _names_its_subject(self, entry_id: str, words: list[str]) -> bool:
        """Whether the question holds a word of each group of the entry's required words (``[requires]`` of
        ``faq/label-guards.toml``: the person or event the entry is about), or the entry requires none."""
        return all(not group.isdisjoint(words) for group in self.requires.get(entry_id, ()))

    def _same_subject(self, entry_id: str, words: list[str]) -> bool:
        """Whether the entry is about the person the question is about (``faq/label-guards.toml``): the
        question names the entry's subject (:meth:`_names_its_subject`) and the entry names someone of every
        actor group the question names."""
        if not self._names_its_subject(entry_id, words):
            return False
        q = frozenset(words)
        bag = self.bags[self._position[entry_id]]
        return all(bag & group for group in self.actor_groups if q & group)

    def _guard_words_agree(self, entry_id: str, words: list[str]) -> bool:
        """Whether the permissive entry allows what the question (its normalised ``words``, stopwords kept)
        asks about:

        * every support word of the question (``faq/label-guards.toml``: "dukung", "posko", "partai", ...) is in
          a phrasing or keyword of the entry that holds no negation word ("tanpa nyebut calon" does not allow
          "pilih paslon 1");
        * a word the entry's closest phrasing negates ("ajak warga jangan golput") is negated in the question
          too ("ajak orang golput" is another question; "agar tidak golput" is the same);
        * a word the question negates ("nyaleg tanpa mundur") is not held un-negated by that phrasing.
        """
        ei = self._position[entry_id]
        stop = self.normalizer.slang.stopwords
        negators = self.negation_words
        q_tokens = frozenset(w for w in words if w not in stop)
        q_negated = _negated(words, negators | {"tidak"}, stop)
        allowed = self.allowed_support[ei]
        # "tanpa menyebut calon" asks for no calon; not "tidak", mostly a question tag ("aman ga di posko relawan?")
        excluded = _negation_scope(words, negators, stop)
        if any(w in self.support_words and w not in allowed and w not in excluded for w in q_tokens):
            return False
        closest = max(
            self.entry_phrasings[ei],
            key=lambda pi: (
                sum(self.idf.get(t, 0.0) for t in q_tokens & self.p_tokens[pi]),
                -sum(self.idf.get(t, 0.0) for t in self.p_tokens[pi] - q_tokens),
            ),
        )
        if any(t in q_tokens and t not in q_negated for t in self.p_negated[closest]):
            return False
        held = self.p_tokens[closest] - self.p_negated[closest]
        return not any(t in held for t in _negated(words, negators, stop))

    def guard_words(self, text: str) -> list[str]:
        """The question's normalised words for the label guard (``decide(words=...)``): stopwords kept (the
        negation "tidak" is one), other words mapped to the KB vocabulary as the ranking maps them (typos)."""
        stop = self.normalizer.slang.stopwords
        return [w if w in stop else (self._map_token(w) or w) for w in self.normalizer.words(text)]

    def match(self, text: str) -> Match:
        n_tokens = len(set(self.normalizer.tokens(text)))
        return self.decide(self.rank(text), n_tokens=n_tokens, words=self.guard_words(text))


def _negated(words: list[str], negators: frozenset[str] | set[str], stop: frozenset[str]) -> frozenset[str]:
    """The content words directly governed by a negation word: the first non-stopword after each one
    ("jangan golput" -> golput, "tanpa nyebut calon" -> nyebut, "agar tidak golput" -> golput)."""
    out: set[str] = set()
    for i, w in enumerate(words):
        if w in negators:
            for nxt in words[i + 1 :]:
                if nxt not in stop and not nxt.isdigit():
                    if nxt not in negators:
                        out.add(nxt)
                    break
    return frozenset(out)


SCOPE_ENDS = frozenset({"dan", "lalu", "terus", "trus", "sambil", "tapi", "namun", "atau", "kemudian", "habis"})
MODALS = frozenset({"boleh", "bisa", "dapat", "wajib", "harus", "perlu"})
SCOPE_WORDS = 3


def _negation_scope(words: list[str], negators: frozenset[str] | set[str], stop: frozenset[str]) -> frozenset[str]:
    """The content words a negation keeps out of the question: up to ``SCOPE_WORDS`` after each negation word,
    until a conjunction ("tanpa menyebut calon" -> menyebut, calon; "jangan golput dan pilih paslon 1" ->
    golput). A negated modal ("gak boleh dukung paslon kan?") is the form of the question, and negates nothing."""
    out: set[str] = set()
    for i, w in enumerate(words):
        if w not in negators:
            continue
        taken = 0
        for nxt in words[i + 1 :]:
            if nxt in SCOPE_ENDS or nxt in MODALS or nxt in negators or taken >= SCOPE_WORDS:
                break
            if nxt not in stop and not nxt.isdigit():
                out.add(nxt)
                taken += 1
    return frozenset(out)


def _sorted_words(text: str) -> str:
    """The words of ``text`` sorted, as ``fuzz.token_sort_ratio`` compares them."""
    return " ".join(sorted(text.split()))


def _argsort_pairs(values: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
    """Indices that sort ``values`` ascending, equal values by index: a stable argsort. Above
    ``STABLE_SORT_MAX`` values it is built from two of numpy's (vectorised, unstable) quicksorts, which are
    faster there than its stable sort; below, one stable sort is (fewer calls: 1.8 against 8 us at 76 values)."""
    if len(values) <= STABLE_SORT_MAX:
        return np.argsort(values, kind="stable")
    order = np.argsort(values)
    if len(order) < 2:
        return order
    ordered = values[order]
    runs = np.empty(len(order), dtype=np.int64)
    runs[0] = 0
    np.cumsum(ordered[1:] != ordered[:-1], out=runs[1:])
    if runs[-1] == len(order) - 1:  # no ties
        return order
    return order[np.argsort(runs * len(order) + order)]


@lru_cache(maxsize=1)
def default_matcher() -> Matcher:
    """The matcher over the shipped KB and thresholds, built once per process."""
    return Matcher(load_kb())
