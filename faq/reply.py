"""The reply (text and buttons) for a :class:`~faq.decision.Resolution`, one per band.

Used by the chat handler and by ``python -m faq ask`` (which prints it as the console shows it), so the
CLI shows exactly what a user gets. Button data: ``faq:<entry id>`` opens an answer,
``faqgo:lapor`` starts the /lapor flow, ``faqgo:tahapan`` runs /tahapan.
"""

from __future__ import annotations

from functools import lru_cache

from bot.core.callbacks import CallbackData
from bot.core.model import Button, Reply, rows
from bot.texts import t
from faq.decision import Resolution
from faq.intents import IntentSet
from faq.kb import KnowledgeBase
from faq.render import render_answer

BUTTON_CHARS = 60
ENTRY_CB = CallbackData("faq")  # faq:<entry id>
ACTION_CB = CallbackData("faqgo")  # faqgo:lapor, faqgo:tahapan
ACTION_BUTTONS = {
    "lapor": ("button.start_report", ACTION_CB("lapor")),
    "tahapan": ("button.tahapan", ACTION_CB("tahapan")),
}


def button_label(title: str, limit: int = BUTTON_CHARS) -> str:
    """``title`` cut at a word boundary with "…" when longer than ``limit`` characters."""
    if len(title) <= limit:
        return title
    cut = title[: limit - 1]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:-") + "…"


class ReplyParts:
    """What the replies take from one knowledge base and intent set alone, built once for them
    (:func:`reply_parts`): every entry's button, and per entry its rendered answer, the related entries it
    offers and the buttons those come with. A reply then adds only what depends on the question (the
    runners-up). The knowledge base and the intents are not changed after they are loaded."""

    def __init__(self, kb: KnowledgeBase, intents: IntentSet) -> None:
        self.button = {ident: Button(button_label(e.title), ENTRY_CB(ident)) for ident, e in kb.entries.items()}
        self.answer: dict[str, str] = {}
        self.related: dict[str, frozenset[str]] = {}
        self.answer_buttons: dict[str, tuple[Button, ...]] = {}
        for ident, entry in kb.entries.items():
            related = [r for r in entry.related if r in kb.entries]
            buttons = [self.button[r] for r in dict.fromkeys(related)]
            intent = intents.action_for_entry(ident)
            if intent is not None and intent.action:
                buttons.insert(0, action_button(intent.action))
            self.answer[ident] = render_answer(entry, kb)
            self.related[ident] = frozenset(related)
            self.answer_buttons[ident] = tuple(buttons)


@lru_cache(maxsize=4)
def reply_parts(kb: KnowledgeBase, intents: IntentSet) -> ReplyParts:
    """The :class:`ReplyParts` of ``kb`` and ``intents`` (the shipped ones, and a few a test or the CLI built)."""
    return ReplyParts(kb, intents)


def entry_buttons(ids: list[str] | tuple[str, ...], kb: KnowledgeBase, intents: IntentSet) -> list[Button]:
    button = reply_parts(kb, intents).button
    return [button[i] for i in dict.fromkeys(ids) if i in button]


def action_button(action: str) -> Button:
    key, data = ACTION_BUTTONS[action]
    return Button(t(key), data)


def answer_reply(entry_id: str, kb: KnowledgeBase, intents: IntentSet, others: tuple[str, ...] = ()) -> Reply:
    """Verdict label and answer; buttons for every related topic, then runners-up ("Atau maksud Anda:")
    and, for report-related entries, the button that starts the report (before all others)."""
    parts = reply_parts(kb, intents)
    text = parts.answer[entry_id]
    buttons = list(parts.answer_buttons[entry_id])
    if others:
        related = parts.related[entry_id]
        extra = [o for o in others if o in kb.entries and o != entry_id and o not in related]
        if extra:
            text += "\n" + t("faq.or_maybe", topics="; ".join(kb.entries[o].title for o in extra))
            buttons += [parts.button[o] for o in dict.fromkeys(extra)]
    return Reply(text=text, buttons=rows(buttons))


def compose(res: Resolution, kb: KnowledgeBase, intents: IntentSet, *, logged: bool = True) -> Reply:
    """The reply for a resolution. ``logged``: the question really is stored for the admins (the chat
    handler); the CLI stores nothing and must not say so."""
    m = res.match
    if res.band == "intent" and res.intent is not None:
        buttons = [action_button(res.intent.action)] if res.intent.action else []
        buttons += entry_buttons(m.suggestions, kb, intents)
        return Reply(text=t(res.intent.text), buttons=rows(buttons))
    if res.band == "empty":
        return Reply(text=t("faq.empty"))
    if res.band == "clear" and m.id is not None and m.id in kb.entries:
        return answer_reply(m.id, kb, intents, m.suggestions)
    if res.band == "uncertain":
        text = t("faq.suggest") + "\n" + t("faq.suggest_note")
        return Reply(text=text, buttons=rows(entry_buttons(m.suggestions, kb, intents)))
    if res.band == "weak":
        note = t("faq.weak_note" if logged else "faq.weak_note_unlogged")
        return Reply(text=t("faq.suggest") + "\n" + note, buttons=rows(entry_buttons(m.suggestions, kb, intents)))
    return Reply(text=t("faq.none" if logged else "faq.none_unlogged"))
