"""The FAQ's replies are exactly those of the code before the reply path was made cheaper.

``tests/faq/golden-replies.json`` (written by ``tests/faq/golden_replies.py`` from main at 609d62b, before that
work) holds the full reply, text and buttons, to 1,000-odd questions (dev, held-out, tuning negatives,
regression questions, every intent phrasing, perturbations: every band occurs) as the chat handler sends it
and as ``python -m faq ask`` prints it, and the reply of every KB entry's button. The current code must give
each of them unchanged, compared with ``==`` (rewritten for the label guard of ``faq/label-guards.toml``,
which was meant to change a few replies from clear to "Maksud Anda:", listed in its commits); through the real
handler and core too (dev set and every entry button, both databases). The last tests show the comparison
reports a changed reply.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from bot.core.model import Incoming
from faq.intents import load_intents
from faq.kb import KnowledgeBase
from faq.matcher import Matcher, default_matcher
from tests.faq.golden_replies import (
    current_replies,
    dev_questions,
    differences,
    golden_questions,
    load_golden,
    only,
)


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    return load_golden()


def test_golden_covers_every_band_and_entry(golden: dict[str, Any]) -> None:
    bands = {q["band"] for q in golden["questions"].values()}
    assert bands == {"clear", "uncertain", "weak", "none", "intent", "empty"}
    assert set(dev_questions()) <= set(golden["questions"])
    # a KB entry added or removed since the file was written: write it anew (see golden_replies.py)
    assert set(golden["entries"]) == set(default_matcher().kb.entries)
    assert list(golden["questions"]) == golden_questions()


def test_every_reply_identical_to_golden(golden: dict[str, Any]) -> None:
    assert differences(golden, current_replies()) == []


async def test_handler_replies_identical_to_golden(console: Any, golden: dict[str, Any]) -> None:
    """Through the real core and handler (console channel): each dev question as a message, each entry's
    button as a press, get the golden reply."""
    replies = golden["replies"]
    for text in dev_questions():
        assert text == text.strip() and len(text) <= 300  # what the handler passes on unchanged
        got = await console.say(text)
        assert [r.to_payload() for r in got] == [replies[golden["questions"][text]["handler"]]], text
    for ident, key in golden["entries"].items():
        press = Incoming(channel="console", chat_id=console.user_id, user_id=console.user_id,
                         callback=f"faq:{ident}")
        got = await console.deliver(press)
        assert [r.to_payload() for r in got] == [replies[key]], ident


def test_a_changed_reply_is_reported(golden: dict[str, Any]) -> None:
    """The comparison is not vacuous: one character of one reply, one button, a missing entry are found."""
    current = current_replies()
    assert differences(golden, current) == []
    text_changed = copy.deepcopy(current)
    key = text_changed["questions"][dev_questions()[0]]["handler"]
    text_changed["replies"][key]["text"] += "."
    assert len(differences(golden, text_changed)) >= 1
    button_changed = copy.deepcopy(current)
    key = button_changed["entries"][next(iter(button_changed["entries"]))]
    rows = button_changed["replies"][key]["buttons"]
    assert rows, "the first entry's answer has buttons"
    rows[0][0][1] = rows[0][0][1] + "x"
    assert len(differences(golden, button_changed)) >= 1
    missing = copy.deepcopy(current)
    missing["entries"].popitem()
    assert len(differences(golden, missing)) == 1


def test_a_changed_kb_title_changes_the_replies(golden: dict[str, Any]) -> None:
    """A real change to what replies show (one entry's title, which appears in answers, "Atau maksud Anda:"
    lines, suggestions and buttons) is caught: the replies are built from the KB they are given."""
    kb = default_matcher().kb
    ident = next(iter(kb.entries))
    entries = dict(kb.entries)
    entries[ident] = dataclasses.replace(entries[ident], title=entries[ident].title + " (baru)")
    matcher = Matcher(KnowledgeBase(entries))
    intents = load_intents(matcher.normalizer, kb=matcher.kb)
    questions = dev_questions()
    diff = differences(only(golden, questions), current_replies(questions, matcher, intents))
    assert any(d.startswith(f"entry {ident!r}") for d in diff)
    assert any(d.startswith("question ") for d in diff)
    # and with the KB unchanged, a matcher built the same way gives the golden replies
    matcher = Matcher(kb)
    intents = load_intents(matcher.normalizer, kb=matcher.kb)
    assert differences(only(golden, questions), current_replies(questions, matcher, intents)) == []
