"""The vectorised FAQ matcher ranks exactly like the per-candidate reference it replaced.

``tests/faq/reference_matcher.py`` is today's scoring kept as an oracle. Every question of the dev set, the
held-out set and the tuning negatives, a few hundred generated perturbations and hypothesis-made texts must get
the same ranked list from both, compared with ``==``: the same ids in the same order and the same float scores,
bit for bit (tolerance 0; the vectorised code performs the same float operations in the same order). This
holds on the real KB, on a synthetic 2,000-entry KB (``benchmarks.faq`` checks 10,000) and on small hand-made
KBs that reach the rare paths. The last tests show the comparison is not vacuous: ties and order-sensitive
sums do occur, and changing a weight, the tie order or the summation order makes it fail.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import faq.matcher as matcher_module
from faq.kb import Entry, KnowledgeBase, load_kb
from faq.matcher import Matcher
from tests.faq.perturb import perturbed_questions, real_questions
from tests.faq.reference_matcher import ReferenceMatcher
from tests.faq.synthetic_kb import synthetic_kb

SYNTHETIC_ENTRIES = 2000


def _differences(fast: Matcher, ref: ReferenceMatcher, texts: Iterable[str]) -> list[tuple[str, list, list]]:
    out = []
    for text in texts:
        got, want = fast.rank(text), ref.rank(text)
        if got != want:
            out.append((text, got[:5], want[:5]))
    return out


@pytest.fixture(scope="module")
def real_pair() -> tuple[Matcher, ReferenceMatcher]:
    kb = load_kb()
    return Matcher(kb), ReferenceMatcher(kb)


@pytest.fixture(scope="module")
def synthetic_pair() -> tuple[Matcher, ReferenceMatcher]:
    kb = synthetic_kb(load_kb(), SYNTHETIC_ENTRIES)
    return Matcher(kb), ReferenceMatcher(kb)


@pytest.fixture(scope="module")
def questions() -> list[str]:
    return real_questions() + perturbed_questions(400)


def test_question_files_are_there() -> None:
    texts = real_questions()
    assert len(texts) >= 150  # 88 dev + 60 held-out + 30 negatives at the time of writing
    assert len(set(perturbed_questions(400))) > 350


def test_real_kb_rankings_identical_to_reference(real_pair, questions) -> None:
    fast, ref = real_pair
    assert _differences(fast, ref, questions) == []


def test_real_kb_answers_identical_to_reference(real_pair, questions) -> None:
    fast, ref = real_pair
    for text in questions:
        n_tokens = len(set(fast.normalizer.tokens(text)))
        words = fast.guard_words(text)
        assert fast.match(text) == fast.decide(ref.rank(text), n_tokens=n_tokens, words=words), text


def test_synthetic_kb_rankings_identical_to_reference(synthetic_pair, questions) -> None:
    fast, ref = synthetic_pair
    assert len(fast.ids) == SYNTHETIC_ENTRIES
    assert _differences(fast, ref, questions) == []


_words = st.sampled_from(sorted({w for q in real_questions() for w in q.lower().split()}))
_noise = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=9)
_texts = st.lists(st.one_of(_words, _words, _words, _noise), min_size=0, max_size=24).map(" ".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_texts)
def test_generated_texts_rank_identically(real_pair, synthetic_pair, text: str) -> None:
    for fast, ref in (real_pair, synthetic_pair):
        assert fast.rank(text) == ref.rank(text)


def _entry(ident: str, title: str, questions: tuple[str, ...], keywords: tuple[str, ...] = ()) -> Entry:
    return Entry(
        id=ident,
        title=title,
        questions=questions,
        verdict="info",
        answer="-",
        legal_basis="-",
        related=(),
        keywords=keywords,
    )


LONG = (
    "netralitas pegawai aparatur sipil negara kampanye pemilihan umum kepala daerah media sosial "
    "unggahan dukungan partai politik relawan pemenangan spanduk baliho atribut fasilitas kendaraan dinas"
)


def test_rare_paths_rank_identically() -> None:
    kb = KnowledgeBase(
        {
            # a phrasing sharing 20+ tokens with a long question: the sequence code would overflow, the sums are
            # taken phrasing by phrasing
            "long": _entry("long", "aturan panjang", (LONG, "netralitas pegawai kampanye")),
            # longer than most questions: the intersection walks the question instead of the phrasing
            "wide": _entry("wide", "aturan lebar", (LONG + " sanksi hukuman disiplin teguran tertulis",)),
            # no phrasing at all (stopwords and a number only), reachable through its keywords only
            "empty": _entry("empty", "2024", ("apa itu",), keywords=("netralitas", "pegawai")),
            "dup-a": _entry("dup-a", "kampanye pegawai", ("pegawai ikut kampanye",)),
            "dup-b": _entry("dup-b", "kampanye pegawai", ("pegawai ikut kampanye",)),  # an exact tie with dup-a
            "other": _entry("other", "cuti melahirkan", ("cara urus cuti melahirkan pegawai",)),
        }
    )
    fast, ref = Matcher(kb), ReferenceMatcher(kb)
    texts = [
        LONG,
        LONG + " " + LONG,
        LONG + " sanksi teguran",
        "pegawai ikut kampanye",
        "kampanye",
        "netralitas",
        "pegawai kampanye media sosial relawan",
        "cuti",
        "apa itu",
        "",
        "zzzz qqqq",
        "kampnye pegawaii",
        " ".join(reversed(LONG.split())),
    ]
    assert _differences(fast, ref, texts) == []
    assert [i for i, _ in fast.rank("pegawai ikut kampanye")][:2] == ["dup-b", "dup-a"]  # tie: later entry first


def test_empty_kb() -> None:
    kb = KnowledgeBase({})
    assert Matcher(kb).rank("pns boleh kampanye") == ReferenceMatcher(kb).rank("pns boleh kampanye") == []


def test_order_sensitive_sums_grouped_or_one_by_one_rank_identically(
    real_pair, synthetic_pair, questions, monkeypatch
) -> None:
    """A few order-sensitive phrase sums are redone one by one, many are grouped by insertion sequence
    (``DIRECT_SUM_ROWS``); either way on both KBs (each forced where the other would run) ranks like the
    reference, and both ways do run with the shipped setting."""
    sizes: list[int] = []
    fast, ref = synthetic_pair
    shared_sums = Matcher._shared_sums

    def counting(self, toks, rows, shared):
        sizes.append(len(rows))
        return shared_sums(self, toks, rows, shared)

    monkeypatch.setattr(Matcher, "_shared_sums", counting)
    assert _differences(fast, ref, questions[:300]) == []
    assert min(sizes) <= matcher_module.DIRECT_SUM_ROWS < max(sizes)
    monkeypatch.setattr(matcher_module, "DIRECT_SUM_ROWS", 0)  # always grouped
    for pair in (real_pair, synthetic_pair):
        assert _differences(*pair, questions[:300]) == []
    monkeypatch.setattr(matcher_module, "DIRECT_SUM_ROWS", 10**9)  # always one by one
    for pair in (real_pair, synthetic_pair):
        assert _differences(*pair, questions[:300]) == []


def test_dense_and_sparse_numerators_rank_identically(questions, monkeypatch) -> None:
    """A small KB keeps dense token rows (``DENSE_CELLS``), a large one scatters postings; either way ranks like
    the reference: the real KB (dense as shipped) forced sparse, and a 400-entry synthetic KB (sparse as
    shipped) forced dense."""
    kb = load_kb()
    synthetic = synthetic_kb(kb, 400)
    assert Matcher(kb)._dense is not None and Matcher(synthetic)._dense is None
    for size, some_kb in ((0, kb), (10**9, synthetic)):
        monkeypatch.setattr(matcher_module, "DENSE_CELLS", size)
        fast = Matcher(some_kb)
        assert (fast._dense is None) == (size == 0)
        assert _differences(fast, ReferenceMatcher(some_kb), questions) == []


_MAX = matcher_module.STABLE_SORT_MAX


@pytest.mark.parametrize("size", [0, 1, 2, 76, _MAX, _MAX + 1, 20_000])
def test_candidates_sort_stably_by_either_sort(size: int) -> None:
    """``_argsort_pairs`` (one stable sort up to ``STABLE_SORT_MAX`` values, two quicksorts above, where no KB
    compared above has that many candidates) orders exactly like a stable sort, many ties included."""
    rng = np.random.default_rng(size)
    for values in (rng.random(size), np.round(rng.random(size), 2), np.zeros(size), np.arange(size, 0, -1) / 7.0):
        assert matcher_module._argsort_pairs(values).tolist() == np.argsort(values, kind="stable").tolist()


# -- the comparison can fail -----------------------------------------------------------------------------------


def test_rankings_contain_exact_ties_and_order_sensitive_sums(synthetic_pair, questions) -> None:
    """The identity above covers tie order and rounding: both occur in the compared rankings."""
    _fast, ref = synthetic_pair
    tied = 0
    for text in questions[:300]:
        scores = [s for _, s in ref.rank(text)]
        tied += any(a == b for a, b in itertools.pairwise(scores))
    assert tied > 50
    # sums of three or more shared weights whose float value depends on the order of the terms
    sensitive = 0
    for text in questions[:300]:
        toks, _total, _ = ref._query(text)
        qset = frozenset(toks)
        for p in ref.p_tokens:
            inter = qset & p
            if len(inter) >= 3 and sum(ref.idf[t] for t in inter) != sum(ref.idf[t] for t in toks if t in inter):
                sensitive += 1
    assert sensitive > 100


def test_changed_weight_is_detected(synthetic_pair, questions, monkeypatch) -> None:
    fast, ref = synthetic_pair
    monkeypatch.setattr(matcher_module, "W_PHRASE", 0.4000001)
    assert len(_differences(fast, ref, questions[:100])) > 50


def test_changed_tie_order_is_detected(synthetic_pair, questions, monkeypatch) -> None:
    fast, ref = synthetic_pair
    monkeypatch.setattr(matcher_module, "_argsort_pairs", lambda values: np.argsort(-values, kind="stable")[::-1])
    assert _differences(fast, ref, questions[:200])


def test_changed_summation_order_is_detected(synthetic_pair, questions, monkeypatch) -> None:
    """Adding the shared weights in query order (what a plain vectorised sum does) changes some scores'
    last bits; the exact comparison sees it."""
    fast, ref = synthetic_pair

    def query_order(toks, rows, shared):
        qset = frozenset(toks)
        return np.array([sum(fast.idf[t] for t in toks if t in qset & fast.p_tokens[pi]) for pi in rows.tolist()])

    monkeypatch.setattr(fast, "_shared_sums", query_order)
    assert _differences(fast, ref, questions[:300])
