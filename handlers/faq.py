"""FAQ: free text and /tanya → an answer, "Maksud Anda:" suggestions, an intent reply, or an honest
"belum ada jawaban". Which of these, and when a verdict label is shown, is decided by
:func:`faq.decision.resolve` (its docstring defines the bands); the reply is :func:`faq.reply.compose`.

Questions in the weak and none bands are counted in ``unanswered_questions`` (the text only, never who
asked) so admins can grow the knowledge base (/pertanyaan). Greetings, thanks, intents, out-of-scope
messages and messages without words are not. Admins mark a question handled with its ✅ button or
``/pertanyaan selesai N``; it leaves the list, and comes back only if it is asked again and still has no
answer.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from bot.core.callbacks import CallbackData
from bot.core.context import Context
from bot.core.model import Button, Reply, rows
from bot.storage.db import insert_ignore
from bot.storage.models import UnansweredQuestion
from bot.texts import t
from broadcasts.scheduler import audit
from faq import KnowledgeBase, default_matcher
from faq.decision import default_intents, resolve
from faq.reply import ACTION_CB, ENTRY_CB, answer_reply, compose
from handlers import subscriptions
from handlers.broadcast_admin import actor
from handlers.tips import flow as tips_flow

FAQQ_CB = CallbackData("faqq")  # admins' 'handled' buttons under /pertanyaan

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 300
UNANSWERED_LIST_SIZE = 20
DONE_BUTTONS_PER_ROW = 5


def _kb() -> KnowledgeBase:
    """The knowledge base the matcher was built from (loaded once, by ``default_matcher``)."""
    return default_matcher().kb


async def answer_question(ctx: Context, question: str) -> None:
    question = question.strip()[:MAX_QUESTION_CHARS]
    res = resolve(question)
    log.info(
        "faq match",
        extra={"band": res.band, "intent": res.intent.id if res.intent else None, "entry": res.match.id,
               "score": round(res.match.score, 2)},
    )
    if res.logged:
        await _remember_unanswered(ctx, question)
    ctx.reply(compose(res, _kb(), default_intents(), logged=True))


async def _remember_unanswered(ctx: Context, question: str) -> None:
    normalized = " ".join(question.lower().split())[:MAX_QUESTION_CHARS]
    if not normalized:
        return
    # One upsert: users of different chats are handled concurrently, and two of them may ask the same new
    # question at once (a SELECT-then-INSERT would make the second one's transaction fail on the unique key).
    t_ = UnansweredQuestion.__table__
    stmt = insert_ignore(ctx.session, t_).values(
        normalized=normalized, text=question, count=1, first_seen=ctx.now, last_seen=ctx.now, resolved=False
    )
    await ctx.session.execute(stmt.on_conflict_do_update(
        index_elements=[t_.c.normalized],
        # handled before, yet still unanswered: the admins should see it again (resolved = false)
        set_={"count": t_.c.count + 1, "last_seen": stmt.excluded.last_seen, "resolved": False},
    ))


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
    cb = ENTRY_CB.parse(ctx.incoming.callback)
    entry_id = cb.action if cb is not None and not cb.args else ""
    if entry_id not in _kb().entries:
        ctx.reply(t("error.unknown_button"))
        return
    ctx.reply(answer_reply(entry_id, _kb(), default_intents()))


async def action_button(ctx: Context) -> None:
    """``faqgo:lapor`` starts the report flow, ``faqgo:tahapan`` shows the stages (buttons of intents)."""
    cb = ACTION_CB.parse(ctx.incoming.callback)
    action = cb.action if cb is not None and not cb.args else ""
    if action == "lapor" and ctx.is_group:
        ctx.reply(t("error.private_only"))  # like /lapor: never a report flow in a group
    elif action == "lapor":
        await tips_flow.lapor(ctx)
    elif action == "tahapan":
        await subscriptions.stages(ctx)
    else:
        ctx.reply(t("error.unknown_button"))


# --- admins: /pertanyaan ---------------------------------------------------------------------------
async def _open_questions(ctx: Context) -> list[UnansweredQuestion]:
    result = await ctx.session.scalars(
        select(UnansweredQuestion)
        .where(UnansweredQuestion.resolved.is_(False))
        .order_by(UnansweredQuestion.count.desc(), UnansweredQuestion.last_seen.desc(), UnansweredQuestion.id)
        .limit(UNANSWERED_LIST_SIZE)
    )
    return list(result)


def _resolve_row(ctx: Context, q: UnansweredQuestion) -> None:
    q.resolved = True
    q.resolved_at = ctx.now
    audit(ctx.session, actor(ctx), "faq.unanswered.resolve", ctx.now, question_id=q.id)


async def unanswered_list(ctx: Context) -> None:
    """/pertanyaan — the open list with a ✅ button per row; /pertanyaan selesai N [M …] marks rows handled."""
    args = ctx.incoming.args.split()
    if args:
        await _resolve_numbers(ctx, args)
        return
    items = await _open_questions(ctx)
    if not items:
        ctx.reply(t("faq.unanswered_empty"))
        return
    lines = [t("faq.unanswered_title")]
    lines += [t("faq.unanswered_row", n=i, count=q.count, text=q.text[:200]) for i, q in enumerate(items, 1)]
    lines += ["", t("faq.unanswered_hint")]
    buttons = [Button(t("faq.unanswered_done_button", n=i), FAQQ_CB("done", q.id)) for i, q in enumerate(items, 1)]
    ctx.reply(Reply(text="\n".join(lines), buttons=rows(buttons, DONE_BUTTONS_PER_ROW)))


async def _resolve_numbers(ctx: Context, args: list[str]) -> None:
    if args[0].lower() != "selesai" or len(args) < 2 or not all(a.isdecimal() for a in args[1:]):
        ctx.reply(t("faq.unanswered_usage"))
        return
    items = await _open_questions(ctx)  # the numbering the admin saw: same order as the list
    out: list[str] = []
    for raw in dict.fromkeys(args[1:]):
        n = int(raw)
        if not 1 <= n <= len(items):
            out.append(t("faq.unanswered_not_found", n=n))
            continue
        _resolve_row(ctx, items[n - 1])
        out.append(t("faq.unanswered_resolved", text=items[n - 1].text[:200]))
    ctx.reply("\n".join(out))


async def unanswered_button(ctx: Context) -> None:
    """``faqq:done:<id>`` (admins only; the id is the row's, so a changed list order does not matter)."""
    if not ctx.is_admin:
        log.info("admin button refused", extra={"button": "faqq"})
        ctx.reply(t("error.admin_only"))
        return
    cb = FAQQ_CB.parse(ctx.incoming.callback)
    qid = cb.int_arg(0) if cb is not None and cb.is_("done", 1) else None
    if qid is None:
        ctx.reply(t("error.unknown_button"))
        return
    q = await ctx.session.get(UnansweredQuestion, qid)
    if q is None:
        ctx.reply(t("error.unknown_button"))
        return
    if q.resolved:
        ctx.reply(t("faq.unanswered_already"))
        return
    _resolve_row(ctx, q)
    ctx.reply(t("faq.unanswered_resolved", text=q.text[:200]))
