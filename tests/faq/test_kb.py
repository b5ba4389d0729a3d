"""Knowledge-base schema tests and a lint of the shipped KB (``faq/kb/*.toml``).

The lint is what keeps the first line of an answer trustworthy: the verdict label users act on must agree
with how the answer text opens, every entry names its legal sources and review date, and no phrasing sits
in two entries (which would let the matcher pick either verdict for the same question).
"""

import datetime as dt
import re
import tomllib
from pathlib import Path

import pytest

from faq import default_matcher
from faq.evaluate import evaluate, load_questions
from faq.kb import VERDICTS, KBError, Source, load_kb

HERE = Path(__file__).resolve().parent
TOPICS = HERE / "topics.toml"  # in-repo copy of the topic ids and verdicts
DEV = HERE / "dev-questions.toml"  # the public dev set (in-repo copy)
HELDOUT = HERE / "heldout-questions.toml"
REGRESSION = HERE / "regression-questions.toml"


MIN_ENTRIES = 70
MIN_PHRASINGS = 6

GOOD = """
[[entry]]
id = "a"
title = "A"
verdict = "tidak"
questions = ["boleh a?"]
answer = "Tidak boleh."
legal_basis = "UU"
sources = [{ ref = "UU 1/2000 Pasal 1", url = "https://example.go.id/uu-1-2000" }]
reviewed = 2026-12-01
related = ["b"]

[[entry]]
id = "b"
title = "B"
verdict = "info"
questions = ["apa b?"]
answer = "B."
legal_basis = "UU"
sources = ["UU 2/2000 Pasal 2"]
reviewed = "2026-11-30"
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def phrase_key(text: str) -> str:
    """Case, punctuation and spacing do not make two phrasings different."""
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text.lower()).split())


# --- the opening rule ----------------------------------------------------------------------------------
# tidak     <-> the answer starts with "Tidak boleh"
# bersyarat <-> the answer starts with "Boleh, dengan syarat" or "Boleh, asalkan"
# boleh     <-> the answer starts with "Boleh." (a bare yes; conditions come later, never in the opening)
# info      <-> the answer starts with none of those and with no other verdict-like word
#               (Boleh / Tidak boleh / Dilarang / Jangan / Sebaiknya), e.g. "Sanksinya ...", "Bisa. ...".
_AMBIGUOUS_OPENING = re.compile(r"(boleh|tidak boleh|dilarang|jangan|sebaiknya)\b", re.IGNORECASE)


def opening_verdict(answer: str) -> str | None:
    text = answer.lstrip()
    if text.startswith("Tidak boleh"):
        return "tidak"
    if text.startswith(("Boleh, dengan syarat", "Boleh, asalkan")):
        return "bersyarat"
    if text.startswith("Boleh."):
        return "boleh"
    if _AMBIGUOUS_OPENING.match(text):
        return None  # a verdict word in a form the rule does not allow
    return "info"


def test_opening_rule_itself() -> None:
    assert opening_verdict("Tidak boleh. Karena ...") == "tidak"
    assert opening_verdict("Tidak boleh ikut kampanye, dan ...") == "tidak"
    assert opening_verdict("Boleh, dengan syarat Anda PNS ...") == "bersyarat"
    assert opening_verdict("Boleh, asalkan ...") == "bersyarat"
    assert opening_verdict("Boleh. Bahkan dianjurkan.") == "boleh"
    assert opening_verdict("Sanksinya bertingkat.") == "info"
    assert opening_verdict("Bisa, untuk perbuatan tertentu.") == "info"
    assert opening_verdict("Tidak bisa. Pengunduran diri ...") == "info"
    for bad in ("Boleh dengan syarat.", "Boleh, bahkan dianjurkan.", "Sebaiknya jangan.", "Dilarang.", "Jangan."):
        assert opening_verdict(bad) is None, bad


# --- lint of the shipped KB ----------------------------------------------------------------------------
KB = load_kb()


def test_shipped_kb_size_and_phrasings() -> None:
    assert len(KB) >= MIN_ENTRIES
    for entry in KB:
        assert entry.verdict in VERDICTS
        assert len(entry.questions) >= MIN_PHRASINGS, entry.id
        assert entry.legal_basis and entry.answer and entry.title


@pytest.mark.parametrize("entry", list(KB), ids=lambda e: e.id)
def test_verdict_agrees_with_opening(entry) -> None:
    assert opening_verdict(entry.answer) == entry.verdict, (entry.id, entry.verdict, entry.answer[:60])


def test_every_entry_has_sources_and_review_date() -> None:
    for entry in KB:
        assert entry.sources, entry.id
        for src in entry.sources:
            assert isinstance(src, Source) and src.ref.strip(), entry.id
            assert src.url is None or src.url.startswith("https://"), (entry.id, src.url)
        assert isinstance(entry.reviewed, dt.date), entry.id
        assert entry.reviewed <= dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1), entry.id


def test_no_phrasing_in_two_entries() -> None:
    seen: dict[str, str] = {}
    for entry in KB:
        for q in (*entry.questions, entry.title):
            key = phrase_key(q)
            assert key not in seen or seen[key] == entry.id, (q, seen.get(key), entry.id)
            seen[key] = entry.id
        keys = [phrase_key(q) for q in entry.questions]
        assert len(keys) == len(set(keys)), entry.id


def test_related_ids_exist_and_are_not_self() -> None:
    for entry in KB:
        for rel in entry.related:
            assert rel != entry.id and KB.get(rel) is not None, (entry.id, rel)


def test_review_items_are_reflected() -> None:
    """Spot checks of the legal review's critical items (the texts users act on)."""
    assert KB.get("hadir-kampanye").verdict == "tidak"  # C3
    assert "sebelum" in KB.get("nyalon-mundur").answer and "KTA" in KB.get("nyalon-mundur").answer  # C1
    pasangan = KB.get("pasangan-calon-cuti").answer  # C2
    assert "PPPK tidak mengenal CLTN" in pasangan and "5 tahun" in pasangan
    assert KB.get("pppk-pasangan-calon").verdict == "tidak"
    assert KB.get("umumkan-pilihan").verdict == "tidak"  # C4
    assert not any("dikasih tau" in q for q in KB.get("hak-pilih").questions)
    assert not any(re.search(r"\b(tni|polri)\b", q, re.I) for q in KB.get("hak-pilih").questions)
    for ident in ("pj-kepala-daerah", "antar-bakal-calon"):  # C5
        assert KB.get(ident).verdict == "tidak"
    assert KB.get("keluarga-bukan-asn").verdict == "info"
    assert KB.get("ajak-pakai-hak-pilih").verdict == "boleh"  # M10
    assert KB.get("ikuti-akun-resmi").verdict == "boleh"
    assert not any("kpu" in q.lower() for q in KB.get("medsos-follow-grup").questions)
    assert not any("golput" in q.lower() or "tps" in q.lower() for q in KB.get("ajak-memilih").questions)
    for entry in KB:  # KASN is gone: never send cases there (M9, m1)
        assert "ke KASN" not in entry.answer, entry.id
    assert "anonim:" not in KB.get("lapor-anonim").answer  # M12


def test_topics_are_covered_with_their_verdicts() -> None:
    topics = tomllib.loads(TOPICS.read_text(encoding="utf-8"))["topic"]
    assert len(topics) >= 41
    for topic in topics:
        entry = KB.get(topic["id"])
        assert entry is not None, topic["id"]
        assert entry.verdict == topic["verdict"], topic["id"]


def test_kb_does_not_copy_evaluation_questions() -> None:
    dev = {
        phrase_key(q["text"])
        for path in (DEV, HELDOUT)
        for q in tomllib.loads(path.read_text(encoding="utf-8"))["q"]
    }
    copied = [q for e in KB for q in e.questions if phrase_key(q) in dev]
    assert copied == []


def test_regression_questions_are_fresh_and_cover_new_entries() -> None:
    qs = tomllib.loads(REGRESSION.read_text(encoding="utf-8"))["q"]
    topics = {t["id"] for t in tomllib.loads(TOPICS.read_text(encoding="utf-8"))["topic"]}
    phrasings = {phrase_key(q) for e in KB for q in e.questions}
    per_entry: dict[str, int] = {}
    for q in qs:
        assert q["topic"] == "" or KB.get(q["topic"]) is not None, q
        assert phrase_key(q["text"]) not in phrasings, q["text"]  # written apart from the KB phrasings
        per_entry[q["topic"]] = per_entry.get(q["topic"], 0) + 1
    for entry in KB:
        if entry.id not in topics:
            assert per_entry.get(entry.id, 0) >= 3, entry.id
    assert per_entry.get("", 0) >= 15


def test_regression_set_meets_the_bar_without_dangerous_labels() -> None:
    """The in-repo regression set (tuned on, so a guard against regressions, not a held-out measure)."""
    matcher = default_matcher()
    questions = load_questions(REGRESSION)
    result = evaluate(matcher, questions)
    assert result["correct_answer_rate"] >= 0.92, result
    assert result["wrong_answer_rate"] <= 0.02, result
    assert result["hit_rate"] >= 0.97, result
    assert result["oos_not_answered_rate"] >= 0.95, result
    dangerous = []
    for q in questions:
        if q.topic and KB.get(q.topic).verdict == "tidak":
            m = matcher.match(q.text)
            if m.status == "answer" and KB.get(m.id).verdict in ("boleh", "bersyarat"):
                dangerous.append((q.text, m.id))
    assert dangerous == []


# --- schema --------------------------------------------------------------------------------------------
def test_valid_small_kb(tmp_path: Path) -> None:
    kb = load_kb(write(tmp_path, "x.toml", GOOD))
    assert sorted(kb.entries) == ["a", "b"]
    a, b = kb.get("a"), kb.get("b")
    assert a.related == ("b",)
    assert a.sources == (Source("UU 1/2000 Pasal 1", "https://example.go.id/uu-1-2000"),)
    assert b.sources == (Source("UU 2/2000 Pasal 2"),)
    assert a.reviewed == dt.date(2026, 12, 1) and b.reviewed == dt.date(2026, 11, 30)
    assert kb.get("zzz") is None


def test_unknown_related_names_file_and_entry(tmp_path: Path) -> None:
    with pytest.raises(KBError, match=r"x\.toml: entry 'a': unknown related id 'c'"):
        load_kb(write(tmp_path, "x.toml", GOOD.replace('related = ["b"]', 'related = ["c"]')))


@pytest.mark.parametrize("ident", ["a:b", "a b", "x" * 61])
def test_an_id_that_cannot_be_sent_in_a_button_is_refused(tmp_path: Path, ident: str) -> None:
    """Every reply's buttons are built once per KB (faq/reply.py), so an id that is no valid button payload
    (``faq:<id>``, at most 64 bytes, no ':') is refused when the KB loads, not when its button is shown."""
    text = GOOD.replace('id = "b"', f'id = "{ident}"').replace('related = ["b"]', f'related = ["{ident}"]')
    with pytest.raises(KBError, match=r"x\.toml: entry .*'id' must be one word without ':'"):
        load_kb(write(tmp_path, "x.toml", text))
    load_kb(write(tmp_path, "x.toml", GOOD.replace('id = "b"', f'id = "{"x" * 60}"')
                  .replace('related = ["b"]', f'related = ["{"x" * 60}"]')))


def test_duplicate_id_across_files(tmp_path: Path) -> None:
    write(tmp_path, "one.toml", GOOD)
    dup = GOOD.split("[[entry]]")[2]
    with pytest.raises(KBError, match=r"two\.toml: entry 'b': duplicate id \(already defined in one\.toml\)"):
        load_kb(write(tmp_path, "two.toml", "[[entry]]" + dup))


def test_bad_verdict(tmp_path: Path) -> None:
    with pytest.raises(KBError, match=r"x\.toml: entry 'a': bad verdict 'mungkin'"):
        load_kb(write(tmp_path, "x.toml", GOOD.replace('verdict = "tidak"', 'verdict = "mungkin"')))


def test_missing_field_and_empty_questions(tmp_path: Path) -> None:
    with pytest.raises(KBError, match=r"entry 'a': missing or empty 'legal_basis'"):
        load_kb(write(tmp_path, "x.toml", GOOD.replace('legal_basis = "UU"\nsources = [{', "sources = [{", 1)))
    sub = tmp_path / "sub"
    sub.mkdir()
    with pytest.raises(KBError, match=r"entry 'a': 'questions' must contain at least one question"):
        load_kb(write(sub, "y.toml", GOOD.replace('questions = ["boleh a?"]', "questions = []")))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('sources = ["UU 2/2000 Pasal 2"]\n', "", r"x\.toml: entry 'b': 'sources' must be a non-empty list"),
        ('sources = ["UU 2/2000 Pasal 2"]', "sources = []", r"entry 'b': 'sources' must be a non-empty list"),
        ('sources = ["UU 2/2000 Pasal 2"]', 'sources = [""]', r"entry 'b': source #1 must be a string or a table"),
        ('sources = ["UU 2/2000 Pasal 2"]', 'sources = [{ url = "https://x.go.id" }]', r"source #1 must be"),
        ('sources = ["UU 2/2000 Pasal 2"]', 'sources = [{ ref = "UU", link = "x" }]', r"source #1: unknown field"),
        ('sources = ["UU 2/2000 Pasal 2"]', 'sources = [{ ref = "UU", url = "http://x" }]', r"'url' must start"),
        ('reviewed = "2026-11-30"\n', "", r"x\.toml: entry 'b': missing or invalid 'reviewed'"),
        ('reviewed = "2026-11-30"', 'reviewed = "kemarin"', r"entry 'b': missing or invalid 'reviewed'"),
        ('reviewed = "2026-11-30"', "reviewed = 20261130", r"entry 'b': missing or invalid 'reviewed'"),
    ],
)
def test_sources_and_reviewed_are_validated(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in GOOD
    with pytest.raises(KBError, match=message):
        load_kb(write(tmp_path, "x.toml", GOOD.replace(old, new)))


def test_invalid_toml(tmp_path: Path) -> None:
    with pytest.raises(KBError, match=r"bad\.toml: invalid TOML"):
        load_kb(write(tmp_path, "bad.toml", "[[entry]\nid ="))
