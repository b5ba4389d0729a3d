"""Plain-text rendering of FAQ answers, exactly as the user sees them (no HTML/Markdown)."""

from __future__ import annotations

from bot.texts import t
from faq.kb import Entry, KnowledgeBase


def render_answer(entry: Entry, kb: KnowledgeBase | None = None) -> str:
    """Verdict label, title, answer, legal basis and (if any) a line naming related topics."""
    lines = [
        t(f"faq.verdict.{entry.verdict}"),
        entry.title,
        "",
        entry.answer,
        "",
        t("faq.legal_basis", basis=entry.legal_basis),
    ]
    if entry.related:
        if kb is None:
            from faq.matcher import default_matcher

            kb = default_matcher().kb
        titles = [e.title for e in (kb.get(r) for r in entry.related) if e is not None]
        if titles:
            lines.append(t("faq.related", topics="; ".join(titles)))
    return "\n".join(lines)


def render_suggestions(ids: tuple[str, ...] | list[str], kb: KnowledgeBase) -> str:
    """The "did you mean" list: header plus numbered titles."""
    rows = [t("faq.suggest")]
    for n, ident in enumerate(ids, start=1):
        entry = kb.get(ident)
        if entry is not None:
            rows.append(t("faq.suggest_row", n=n, title=entry.title))
    return "\n".join(rows)
