"""Intents (faq/intents.toml) and the order in which faq.decision.resolve applies them."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.texts import TEXTS
from faq import default_matcher
from faq.decision import default_intents, resolve
from faq.evaluate import load_questions
from faq.intents import IntentError, load_intents, load_intents_data
from tests.faq import reference_intents
from tests.faq.golden_replies import golden_questions

HERE = Path(__file__).parent
# words of greetings and thanks as typed, and a few of questions, for generated texts
_WORDS = sorted(
    {w for i in load_intents_data()[0] if i.kind == "courtesy" for p in i.phrasings for w in p.split()}
    | {"pns", "asn", "boleh", "gak", "kampanye", "like", "postingan", "paslon?", "senam", "pagi", "malam", "7", "-"}
)


def intent_of(text: str) -> str | None:
    res = resolve(text)
    return res.intent.id if res.intent is not None else None


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        # the report flow
        ("saya mau lapor", "lapor"),
        ("mau melaporkan pelanggaran", "lapor"),
        ("gimana cara lapor", "lapor"),
        ("gmn cara ngelapor min", "lapor"),
        ("selamat pagi, saya mau lapor", "lapor"),
        ("Saya ingin membuat laporan.", "lapor"),
        # greetings and thanks
        ("halo", "greeting"),
        ("pagi min", "greeting"),
        ("Assalamualaikum", "greeting"),
        ("P", "greeting"),
        ("makasih", "thanks"),
        ("terima kasih banyak", "thanks"),
        ("makasih ya min 🙏", "thanks"),
        ("🙏", "thanks"),
        ("halo makasih", "thanks"),
        # out of scope
        ("cara daftar cpns", "scope-asn"),
        ("Kapan pendaftaran CPNS dibuka tahun ini?", "scope-asn"),
        ("gaji pppk berapa", "scope-asn"),
        ("kapan tunjangan kinerja cair bulan ini", "scope-asn"),
        ("calon mana yang bagus", "scope-choice"),
        ("siapa yang harus saya pilih", "scope-choice"),
        ("siapa capres yg bagus", "scope-choice"),
        # election dates
        ("jadwal pencoblosan", "tahapan"),
        ("jadwal pencoblosan kapan", "tahapan"),
        ("kapan pemilu", "tahapan"),
        ("kapan pilkada?", "tahapan"),
        ("kapan pilkada kukar", "tahapan"),
        ("jadwal pencoblosan di kutai kartanegara kapan", "tahapan"),
        # variants that are not phrasings in the data
        ("aku mau laporin asn", "lapor"),
        ("gmn caranya ngelapor", "lapor"),
        ("hallo min selamat siang", "greeting"),
        ("terimakasih infonya min", "thanks"),
        ("oke min makasih", "thanks"),
        ("gaji pns naik gak tahun depan", "scope-asn"),
        ("daftar pppk kapan dibuka", "scope-asn"),
        ("sebaiknya milih siapa", "scope-choice"),
        ("kapan coblosan pilkada", "tahapan"),
        ("kapan pemilu 2029", "tahapan"),
        ("is civil servant allowed to campaign", "english"),
        # walkthrough 11/12: English, STOP and MULAI typed outside WhatsApp
        ("can civil servants campaign?", "english"),
        ("STOP", "berhenti"),
        ("MULAI", "mulai"),
    ],
)
def test_intent_is_recognised(text: str, intent: str) -> None:
    res = resolve(text)
    assert res.band == "intent" and res.intent is not None and res.intent.id == intent, (text, res)
    assert res.verdict(default_matcher()) is None
    assert not res.logged


@pytest.mark.parametrize(
    ("text", "entries"),
    [
        # real knowledge-base questions that share words with an intent: the KB answers them
        ("boleh gak lapor atasan yang kampanye",
         {"lapor-anonim", "cara-lapor", "tekanan-atasan", "lapor-jalur-kepegawaian"}),
        ("halo, boleh gak like postingan paslon?", {"medsos-like"}),
        ("pagi min, pns boleh jadi timses caleg ga", {"jadi-timses"}),
        ("makasih, terus kalau share video capres di grup wa gimana?", {"medsos-share"}),
        ("gmn cara lapor asn yg kampanye di ig", {"cara-lapor"}),
        ("pns boleh nyoblos kan?", {"hak-pilih"}),
        ("asn boleh like post campaign caleg?", {"medsos-like"}),
        ("kapan masa tenang pilkada", {"masa-tenang"}),
    ],
)
def test_intents_do_not_swallow_faq_questions(text: str, entries: set[str]) -> None:
    res = resolve(text)
    assert res.intent is None, (text, res)
    assert res.band == "clear" and res.match.id in entries, (text, res)


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("pagi min, pns boleh jadi timses caleg ga", "pns boleh jadi timses caleg ga"),
        ("selamat pagi, mau tanya, asn boleh like postingan paslon? makasih ya", "asn boleh like postingan paslon?"),
        ("boleh tanya pns boleh kampanye", "pns boleh kampanye"),
        ("pns boleh kampanye? terima kasih banyak min 🙏", "pns boleh kampanye?"),
        # a word of a courtesy phrasing is not the phrasing; a greeting word inside the question stays
        ("boleh gak pns kampanye", "boleh gak pns kampanye"),
        ("senam pagi ada calon, asn aman?", "senam pagi ada calon, asn aman?"),
        # after the question only thanks go ("malam" is part of it here); courtesy alone is left to the intents
        ("pagi, pns boleh pasang spanduk malam", "pns boleh pasang spanduk malam"),
        ("halo makasih", "halo makasih"),
    ],
)
def test_courtesy_around_a_question_is_left_out_of_the_match(text: str, question: str) -> None:
    assert default_intents().strip_courtesy(text) == question


def _courtesy_texts() -> list[str]:
    """Courtesy phrasings (of every intent) around real questions, alone and together, with punctuation."""
    intents = default_intents()
    courtesy = [p for i in intents.intents if i.kind == "courtesy" for p in i.phrasings]
    questions = [q.text for q in load_questions(HERE / "dev-questions.toml")]
    out: list[str] = []
    for n, q in enumerate(questions):
        a, b = courtesy[n % len(courtesy)], courtesy[(7 * n + 3) % len(courtesy)]
        out += [f"{a} {q}", f"{a}, {q} {b}", f"{q} {b}", f"{a} {b}", f"{a}, {b}, {q}", f"{q}, {a} {b}!"]
    return out


def test_strip_courtesy_is_what_it_was() -> None:
    """The check that skips greeting and thanks lengths holding a non-courtesy word cuts exactly where the
    previous code (``tests/faq/reference_intents.py``) did, on every question set, on courtesy around questions
    and on every phrasing; some of them do lose a greeting or thanks."""
    intents = default_intents()
    texts = golden_questions() + _courtesy_texts()
    cut = 0
    for text in texts:
        want = reference_intents.strip_courtesy(intents, text)
        assert intents.strip_courtesy(text) == want, text
        cut += want != text
    assert cut > 300


@given(st.lists(st.sampled_from(_WORDS), min_size=0, max_size=14), st.sampled_from(["", ",", "!", " 🙏"]))
@settings(max_examples=400, deadline=None)
def test_strip_courtesy_is_what_it_was_on_generated_texts(words: list[str], tail: str) -> None:
    intents = default_intents()
    text = " ".join(words) + tail
    assert intents.strip_courtesy(text) == reference_intents.strip_courtesy(intents, text)


def _trigger_texts() -> list[str]:
    """Out-of-scope trigger phrases (as written, so some are multi-word) mixed with topical words and questions."""
    intents, filler, topical = load_intents_data()
    triggers = [tr for i in intents for tr in i.triggers]
    questions = [q.text for q in load_questions(HERE / "dev-questions.toml")]
    out: list[str] = []
    for n, tr in enumerate(triggers):
        other = triggers[(5 * n + 1) % len(triggers)]
        out += [tr, f"{tr} {other}", f"mau tanya {tr} {other} min", f"{tr} {topical[n % len(topical)]} {other}",
                f"{questions[n % len(questions)]} {tr}", f"{tr} {filler[n % len(filler)]} {tr}"]
    return out


def test_out_of_scope_is_what_it_was() -> None:
    """Trigger phrases looked up in sets of word runs find the same intent as the scan over every position did
    (``tests/faq/reference_intents.py``) on every question set and on trigger phrases mixed with topical words;
    among them every trigger intent occurs, and so does none."""
    intents = default_intents()
    found: set[str | None] = set()
    for text in golden_questions() + _trigger_texts():
        want = reference_intents.out_of_scope(intents, text)
        assert intents.out_of_scope(text) == want, text
        found.add(want.id if want else None)
    assert found == {None} | {i.id for i in intents.intents if i.kind == "trigger"}


def test_before_faq_is_what_it_was() -> None:
    """Courtesy and phrasing intents, with each kind's intents and the emoji sorted once, are found as before
    (``tests/faq/reference_intents.py``): every question set, courtesy around questions, emoji alone, with
    words and with each other; every courtesy and phrasing intent occurs, and so does none."""
    intents = default_intents()
    emoji = [e for i in intents.intents for e in i.emoji]
    texts = golden_questions() + _courtesy_texts() + emoji + [f"{a}{b}" for a in emoji for b in emoji]
    texts += [f"{e} makasih" for e in emoji] + [f"{e} pns boleh kampanye?" for e in emoji] + [f"{e} 1" for e in emoji]
    found: set[str | None] = set()
    for text in texts:
        want = reference_intents.before_faq(intents, text)
        assert intents.before_faq(text) == want, text
        found.add(want.id if want else None)
    assert found == {None} | {i.id for i in intents.intents if i.kind in ("courtesy", "phrasing")}


def test_a_greeting_that_is_a_knowledge_base_word_does_not_pull_the_match_away() -> None:
    # "pagi" is a KB word ("senam pagi"): in front of a question it once narrowed the candidates to the
    # entries that use it
    plain = resolve("pns boleh jadi timses caleg ga")
    assert resolve("pagi min, pns boleh jadi timses caleg ga").match == plain.match and plain.band == "clear"


def test_topical_words_keep_salary_questions_in_the_faq() -> None:
    # "gaji"/"tunjangan" with an election word is a neutrality question, not the scope message
    # (CLTN, the unpaid leave a candidate takes, is an election topic too)
    for text in ["pns boleh terima gaji dari partai?", "gaji pns dipotong kalau ikut kampanye?",
                 "pns yang ambil cltn masih terima tunjangan?"]:
        assert resolve(text).intent is None, text


def test_messages_without_words_are_empty_not_questions() -> None:
    for text in ["7", "-1", "/", "<b>x</b>", "...", "12 34"]:
        res = resolve(text)
        assert (res.band, res.logged) == ("empty", False), (text, res)


def test_every_phrasing_resolves_to_its_intent() -> None:
    for intent in default_intents().intents:
        for phrasing in intent.phrasings:
            assert intent_of(phrasing) == intent.id, (intent.id, phrasing, resolve(phrasing))


def test_intent_data_refers_to_real_texts_and_entries() -> None:
    kb = default_matcher().kb
    for intent in default_intents().intents:
        assert intent.text in TEXTS, intent.id
        for entry in (*intent.entries, *intent.with_entries):
            assert entry in kb.entries, (intent.id, entry)
    assert default_intents().action_for_entry("cara-lapor") is default_intents().get("lapor")


@pytest.mark.parametrize("name", ["dev-questions.toml", "heldout-questions.toml"])
def test_no_labelled_question_is_swallowed_by_an_intent(name: str) -> None:
    """An in-scope question caught by an intent must be one whose intent offers its entry (lapor ->
    cara-lapor); an out-of-scope question may be caught by any intent."""
    for q in load_questions(HERE / name):
        res = resolve(q.text)
        if res.intent is not None and q.topic:
            assert q.topic in res.intent.entries, (q.text, q.topic, res.intent.id)


def test_invalid_intent_data_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "intents.toml"
    bad.write_text('[[intent]]\nid = "x"\nkind = "nope"\ntext = "intent.greeting"\nphrasings = ["halo"]\n')
    with pytest.raises(IntentError, match="kind"):
        load_intents_data(bad)
    bad.write_text('[[intent]]\nid = "x"\nkind = "phrasing"\ntext = "intent.greeting"\nphrasings = ["saya mau"]\n'
                   '[filler]\nwords = ["saya", "mau"]\n')
    with pytest.raises(IntentError, match="only of filler"):
        load_intents(default_matcher().normalizer, bad)
    bad.write_text('[[intent]]\nid = "x"\nkind = "trigger"\ntext = "intent.greeting"\nphrasings = ["gaji"]\n')
    with pytest.raises(IntentError, match="triggers"):
        load_intents_data(bad)
    bad.write_text('[[intent]]\nid = "x"\nkind = "phrasing"\ntext = "intent.greeting"\nphrasings = ["hai"]\n'
                   'surface = true\n')
    with pytest.raises(IntentError, match="surface"):
        load_intents_data(bad)


def test_english_words_the_slang_maps_still_make_an_english_question() -> None:
    # slang maps "campaign" to "kampanye" (a topical word) for the knowledge base ...
    assert default_matcher().normalizer.words("post campaign") == ["posting", "kampanye"]
    assert resolve("asn boleh share campaign video?").match.id == "medsos-share"
    # ... while the English intent looks at the words as typed
    assert intent_of("can a civil servant join a campaign rally") == "english"
    assert intent_of("what is the rule for asn kampanye") is None  # Indonesian election words: the KB's


def test_no_knowledge_base_phrasing_is_swallowed_by_an_intent() -> None:
    for entry in default_matcher().kb:
        for phrasing in entry.questions:
            intent = resolve(phrasing).intent
            assert intent is None or entry.id in intent.entries, (entry.id, phrasing, intent)
