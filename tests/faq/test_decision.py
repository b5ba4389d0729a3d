"""Matcher.decide: the bands and the two rules that keep a verdict label off unclear matches."""

from __future__ import annotations

from pathlib import Path

import pytest

from faq import Match, Matcher, Thresholds, default_matcher, load_kb
from faq.decision import resolve
from faq.reply import button_label

KB = """
[[entry]]
id = "ok"
title = "Boleh"
verdict = "boleh"
questions = ["boleh a"]
answer = "Boleh."
legal_basis = "UU"
sources = ["UU 1/2000 Pasal 1"]
reviewed = 2026-12-01

[[entry]]
id = "no"
title = "Tidak"
verdict = "tidak"
questions = ["boleh b"]
answer = "Tidak."
legal_basis = "UU"
sources = ["UU 1/2000 Pasal 1"]
reviewed = 2026-12-01

[[entry]]
id = "info"
title = "Info"
verdict = "info"
questions = ["apa c"]
answer = "Info."
legal_basis = "UU"
sources = ["UU 1/2000 Pasal 1"]
reviewed = 2026-12-01
"""
TH = Thresholds(answer=0.5, margin=0.05, suggest=0.3)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    path: Path = tmp_path_factory.mktemp("kb") / "kb.toml"
    path.write_text(KB, encoding="utf-8")
    return Matcher(load_kb(path), thresholds=TH)


def test_permissive_label_needs_a_wide_lead_over_a_prohibiting_candidate(small: Matcher) -> None:
    # lead 0.10 >= margin, but < 3 x margin over a TIDAK BOLEH candidate: no BOLEH label
    assert small.decide([("ok", 0.8), ("no", 0.7)]).status == "suggest"
    assert small.decide([("ok", 0.8), ("no", 0.64)]).status == "answer"  # lead 0.16 >= 0.15
    # the same lead over a candidate that does not prohibit is enough
    assert small.decide([("ok", 0.8), ("info", 0.7)]).status == "answer"
    # a TIDAK BOLEH label errs on the safe side and needs only the normal margin
    assert small.decide([("no", 0.8), ("ok", 0.7)]).status == "answer"
    # a prohibiting candidate below `suggest` does not count
    assert small.decide([("ok", 0.55), ("no", 0.29)]).status == "answer"


def test_one_word_question_never_gets_a_label(small: Matcher) -> None:
    ranked = [("no", 0.9), ("ok", 0.2)]
    assert small.decide(ranked, n_tokens=2).status == "answer"
    assert small.decide(ranked, n_tokens=1) == Match("suggest", "no", 0.9, ("no", "ok"))
    # through the real matcher: a single word is a topic, not a question
    res = resolve("kampanye")
    assert res.band == "uncertain" and res.verdict(default_matcher()) is None


def test_clear_answer_carries_close_runners_up(small: Matcher) -> None:
    m = small.decide([("no", 0.8), ("info", 0.72), ("ok", 0.2)])
    assert m == Match("answer", "no", 0.8, ("info",))


def test_weak_band_hints_lie_within_two_margins_below_suggest(small: Matcher) -> None:
    # floor = 0.3 - 2 x 0.05 = 0.2
    assert small.decide([("info", 0.25), ("no", 0.21), ("ok", 0.19)]) == Match("none", None, 0.25, ("info", "no"))
    assert small.decide([("info", 0.19)]) == Match("none", None, 0.19, ())


def test_button_label_cuts_at_a_word_with_an_ellipsis() -> None:
    title = "Memposting dukungan atau ajakan memilih calon di media sosial pribadi"
    label = button_label(title)
    assert len(label) <= 60 and label.endswith("…")
    assert label == "Memposting dukungan atau ajakan memilih calon di media…"
    assert button_label("Hak pilih ASN") == "Hak pilih ASN"


def test_announcing_ones_choice_is_not_labelled_boleh() -> None:
    # walkthrough 6: "hak-pilih" (BOLEH) was shown although a TIDAK BOLEH entry came close
    res = resolve("ngasih tau pilihan sy ke temen kantor boleh?")
    assert res.verdict(default_matcher()) not in ("boleh", "bersyarat"), res
