import pytest

from faq.normalize import normalize


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
