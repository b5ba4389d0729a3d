import tomllib
from pathlib import Path

import pytest

from faq.normalize import RECENT_TEXTS, Normalizer, load_slang, normalize


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
