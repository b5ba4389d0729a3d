import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faq.matcher import default_matcher
from faq.normalize import RECENT_TEXTS, Normalizer, load_slang, normalize
from tests.faq import reference_normalize
from tests.faq.golden_replies import golden_questions

_SLANG = load_slang()
# pieces that reach every branch of the cleaning: hyphens, reduplication, "2", stretched letters, slang keys
# (some of which keep their repeated letters), phrases, full-width and accented letters, punctuation
_PIECES = sorted(
    {*list(_SLANG.words)[:60], *list(_SLANG.phrases)[:20], "bagi-bagi", "bagi2", "nge-share", "di-like", "ke-",
     "bolehhh", "gaaa", "xx2", "2", "-", "--", "ｂｏｌｅｈ", "café", "Ⅱ", "!!", "?", ",", " ", "  ", "aaa-aaa", "p3k"}
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pns boleh ngelike foto paslon di ig ga sih", "asn boleh like foto calon di medsos tidak sih"),
        ("Bolehhh gak PPPK nge-share video cagub??", "boleh tidak asn pppk share video calon gubernur"),
        ("p3k blh ikutan kampanye gk", "asn pppk boleh ikut kampanye tidak"),
        ("membagikan visi-misi capres", "share visimisi calon presiden"),
        ("gmn kalo yg nyebarin caleg", "bagaimana kalau yang share calon"),
        ("bagi-bagi sembako", "bagi sembako"),
        ("bagi2 amplop", "bagi amplop"),
        ("dilaporin ke bawaslu", "lapor ke bawaslu"),
        ("mengarahkan bawahan", "arah bawahan"),
        ("kumpulin ktp", "kumpul ktp"),
        ("Tim Sukses cakada", "timses calon"),
        ("nggak boleeeh", "tidak boleh"),
        ("istri saya bukan PNS, boleh kampanye?", "istri saya nonasn boleh kampanye"),
        ("suami non asn", "suami nonasn"),
    ],
)
def test_normalize_cases(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_protected_words_are_not_stemmed() -> None:
    # "pasangan" must not become "pasang" (putting up banners), "bersama" must not become "sama".
    assert normalize("pasangan foto bersama") == "pasangan foto bersama"


def test_cached_words_are_the_uncached_words_and_stay_unshared() -> None:
    """``Normalizer.words`` caches one-word texts and the last few longer ones: same results as computing them
    anew, for every question of the question sets and every word of them, and a caller changing the returned
    list changes nothing for the next caller."""
    cached, fresh = Normalizer(load_slang()), Normalizer(load_slang())
    texts: list[str] = []
    for name in ("dev-questions.toml", "regression-questions.toml", "heldout-questions.toml"):
        data = tomllib.loads((Path(__file__).with_name(name)).read_text(encoding="utf-8"))
        texts += [str(q["text"]) for q in data.get("q", []) if q.get("text")]
    assert len(texts) > 400
    for _round in range(2):  # the second round is served from the caches
        for text in texts:
            for piece in [text, *text.split()]:
                assert cached.words(piece) == list(fresh._words(piece)), piece
    got = cached.words("pns boleh")
    got.append("x")
    assert cached.words("pns boleh") == list(fresh._words("pns boleh"))
    assert cached._recent.cache_info().currsize <= RECENT_TEXTS


def _pieces_of_questions() -> list[str]:
    texts = golden_questions()
    return texts + [w for t in texts for w in t.split()]


def test_clean_is_what_it_was() -> None:
    """The substitutions skipped when their literal character is absent, and the stretched-letter pass skipped
    when no letter repeats, clean exactly as before (``tests/faq/reference_normalize.py``), for the matcher's
    normaliser and the plain one, on every question and word of the question sets; some of them are changed by
    each skipped step."""
    matcher_normalizer = default_matcher().normalizer
    for normalizer in (matcher_normalizer, Normalizer(_SLANG)):
        for text in _pieces_of_questions():
            assert normalizer._clean(text) == reference_normalize.clean(normalizer, text), text
    texts = _pieces_of_questions()
    assert any("-" in t for t in texts) and any("2" in t for t in texts)
    assert any(reference_normalize._REPEAT.search(t.lower()) for t in texts)


@given(st.lists(st.sampled_from(_PIECES), max_size=12), st.sampled_from(["", " ", "-", "2"]))
@settings(max_examples=500, deadline=None)
def test_clean_is_what_it_was_on_generated_texts(pieces: list[str], sep: str) -> None:
    normalizer = default_matcher().normalizer
    text = sep.join(pieces)
    assert normalizer._clean(text) == reference_normalize.clean(normalizer, text)
