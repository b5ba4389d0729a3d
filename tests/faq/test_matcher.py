from bot.texts import t
from faq import Match, Thresholds, default_matcher, render_answer


def test_clear_questions_are_answered() -> None:
    m = default_matcher()
    cases = {
        "pns boleh ngelike postingan cagub di fb gak": "medsos-like",
        "pns jadi timses caleg boleh ga": "jadi-timses",
        "asn yg jadi timses bisa dipenjara berapa lama?": "sanksi-pidana",
        "bolehkah pppk jadi anggota kpps": "penyelenggara-pemilu",
        "pake mobil dinas ke kampanye paslon boleh?": "fasilitas-negara",
        "gmn cara lapor asn yg kampanye di ig": "cara-lapor",
    }
    for text, expected in cases.items():
        result = m.match(text)
        assert result.status == "answer", (text, result)
        assert result.id == expected, (text, result)


def test_typo_still_matches() -> None:
    result = default_matcher().match("pns boleh masang sepanduk caleg dirumah?")
    assert (result.status, result.id) == ("answer", "pasang-apk")


def test_out_of_scope_is_none() -> None:
    m = default_matcher()
    for text in ["resep soto banjar", "kapan gaji ke-13 cair", "cuaca hari ini", "halo selamat siang"]:
        result = m.match(text)
        assert result.status == "none", (text, result)
        assert result.id is None


def test_asn_adjacent_out_of_scope_is_not_answered() -> None:
    m = default_matcher()
    for text in ["cara daftar cpns", "kenaikan pangkat pns kapan", "pns boleh kerja sampingan ojol?"]:
        assert m.match(text).status != "answer", text


def test_ambiguous_question_gives_suggestions() -> None:
    # "medsos calon" alone fits several social-media entries equally: no confident answer.
    result = default_matcher().match("asn medsos calon")
    assert result.status == "suggest", result
    assert 2 <= len(result.suggestions) <= 3
    assert result.id == result.suggestions[0]


def test_decide_thresholds() -> None:
    m = default_matcher()
    ranked = [("medsos-like", 0.8), ("medsos-share", 0.79), ("medsos-komentar", 0.5)]
    th = Thresholds(answer=0.6, margin=0.05, suggest=0.3)
    assert m.decide(ranked, th) == Match(
        "suggest", "medsos-like", 0.8, ("medsos-like", "medsos-share", "medsos-komentar")
    )
    clear = [("medsos-like", 0.8), ("medsos-share", 0.5)]
    assert m.decide(clear, th).status == "answer"
    # below suggest: "none"; candidates within 2 x margin of suggest come back as weak hints
    assert m.decide([("medsos-like", 0.25), ("medsos-share", 0.1)], th) == Match("none", None, 0.25, ("medsos-like",))
    assert m.decide([("medsos-like", 0.19)], th) == Match("none", None, 0.19, ())
    assert m.decide([], th).status == "none"


def test_render_answer_plain_text() -> None:
    kb = default_matcher().kb
    entry = kb.get("medsos-like")
    text = render_answer(entry)
    assert text.startswith(t("faq.verdict.tidak"))
    assert entry.title in text and entry.answer in text
    assert t("faq.legal_basis", basis=entry.legal_basis) in text
    assert kb.get("medsos-share").title in text  # related topics line
    assert "<" not in text


def test_console_audit_gaps_are_answered() -> None:
    """Console audit (2026-12): these got "belum punya jawaban" (score 0: "panwas" was typo-mapped to a keyword,
    "ayah" is only a keyword, so no phrasing made keluarga-calon a candidate; "selamat" was typo-mapped to
    "selama")."""
    m = default_matcher()
    cases = {
        "pns boleh jadi panwas?": "penyelenggara-pemilu",
        "ayah saya pns, boleh kampanye untuk saya?": "keluarga-calon",
        "boleh ucapin selamat ke bupati terpilih?": "ucapan-selamat-syukuran",
    }
    for text, expected in cases.items():
        result = m.match(text)
        assert (result.status, result.id) == ("answer", expected), (text, result)
