"""FAQ: free text and /tanya → answer, "Maksud Anda:" suggestions, or an honest "belum ada jawaban".

Questions without an answer are counted in ``unanswered_questions`` (the text only, never who asked)
so admins can grow the knowledge base (/pertanyaan).
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from bot.core.context import Context
from bot.core.model import Button, Reply, rows
from bot.storage.models import UnansweredQuestion
from bot.texts import t
from faq import KnowledgeBase, default_matcher, render_answer

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 300
UNANSWERED_LIST_SIZE = 20


def _kb() -> KnowledgeBase:
    """The knowledge base the matcher was built from (loaded once, by ``default_matcher``)."""
    return default_matcher().kb


def _entry_buttons(ids: tuple[str, ...] | list[str]) -> list[list[Button]]:
    kb = _kb()
    buttons = [Button(kb.entries[i].title[:60], f"faq:{i}") for i in ids if i in kb.entries]
    return rows(buttons)


def _answer_reply(entry_id: str) -> Reply:
    entry = _kb().entries[entry_id]
    return Reply(text=render_answer(entry), buttons=_entry_buttons(list(entry.related)[:3]))


async def answer_question(ctx: Context, question: str) -> None:
    question = question.strip()[:MAX_QUESTION_CHARS]
    match = default_matcher().match(question)
    log.info("faq match", extra={"status": match.status, "entry": match.id, "score": round(match.score, 1)})
    if match.status == "answer" and match.id is not None:
        ctx.reply(_answer_reply(match.id))
    elif match.status == "suggest":
        ctx.reply(Reply(text=t("faq.suggest"), buttons=_entry_buttons(list(match.suggestions)[:3])))
    else:
        await _remember_unanswered(ctx, question)
        ctx.reply(t("faq.none"))


async def _remember_unanswered(ctx: Context, question: str) -> None:
    normalized = " ".join(question.lower().split())[:MAX_QUESTION_CHARS]
    if not normalized:
        return
    row = await ctx.session.scalar(
        select(UnansweredQuestion).where(UnansweredQuestion.normalized == normalized)
    )
    if row is None:
        ctx.session.add(
            UnansweredQuestion(normalized=normalized, text=question, first_seen=ctx.now, last_seen=ctx.now)
        )
    else:
        row.count += 1
        row.last_seen = ctx.now


async def free_text(ctx: Context) -> None:
    if not ctx.incoming.text.strip():
        ctx.reply(t("error.unsupported"))
        return
    await answer_question(ctx, ctx.incoming.text)


async def ask_command(ctx: Context) -> None:
    if not ctx.incoming.args:
        ctx.reply(t("faq.ask_prompt"))
        return
    await answer_question(ctx, ctx.incoming.args)


async def entry_button(ctx: Context) -> None:
    entry_id = (ctx.incoming.callback or "").partition(":")[2]
    if entry_id not in _kb().entries:
        ctx.reply(t("error.unknown_button"))
        return
    ctx.reply(_answer_reply(entry_id))


async def unanswered_list(ctx: Context) -> None:
    result = await ctx.session.scalars(
        select(UnansweredQuestion)
        .where(UnansweredQuestion.resolved.is_(False))
        .order_by(UnansweredQuestion.count.desc(), UnansweredQuestion.last_seen.desc())
        .limit(UNANSWERED_LIST_SIZE)
    )
    items = list(result)
    if not items:
        ctx.reply(t("faq.unanswered_empty"))
        return
    lines = [t("faq.unanswered_title")]
    lines += [t("faq.unanswered_row", n=i, count=q.count, text=q.text[:200]) for i, q in enumerate(items, 1)]
    ctx.reply("\n".join(lines))
