"""The question-and-answer relay between a Bawaslu group and an anonymous reporter ("tanya pelapor", /jawab).

Group members stay anonymous to the reporter (only the bot speaks) and the reporter stays anonymous to the
group: a question goes to the sealed reply address of the tip, an answer to the tip's group.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import replace
from datetime import datetime, timedelta
from enum import StrEnum

from bot.core.callbacks import CallbackData
from bot.core.context import Context, Handler
from bot.core.model import Button, Reply
from bot.core.router import Router
from bot.storage.audit import audit
from bot.storage.models import Tip
from bot.texts import html_t, t
from handlers.tips import flow, store
from handlers.tips.cases import actor, group_chat, may_act, reporter_key

log = logging.getLogger(__name__)

ASK_FLOW = "tiptanya"
ANSWER_FLOW = store.ANSWER_FLOW
MAX_QUESTION_CHARS = 1000
CANCEL_WORDS = {"batal", "/batal", "cancel"}


def reporter_address(ctx: Context, tip: Tip) -> tuple[str, str] | None:
    if tip.reply_enc is None:
        return None
    try:
        return ctx.services.identity.open(tip.reply_enc)
    except ValueError:
        log.error("tip reply address cannot be decrypted (secret changed?)", extra={"tip_id": tip.id})
        return None


# --- the group asks ------------------------------------------------------------------------------------
#
# A question must never catch an unrelated message (staff talk, names) and send it to an outsider. So:
# on Telegram only a reply to the bot's prompt is relayed; elsewhere (console) the member confirms the text
# ("Kirim ke pelapor: … ?"); the prompt expires after tips.ask_timeout_minutes; any command or other button
# ends it (a transient flow, see Router.flow); /batal and "batal" cancel it.

REPLY_CHANNELS = frozenset({"telegram"})  # channels where a member can reply to a specific bot message
ASK_BUTTONS = ("tip:ask", "tip:askok", "tip:askx")  # the buttons that belong to the question flow


class AskStep(StrEnum):
    QUESTION = "question"
    CONFIRM = "confirm"


async def ask_button(ctx: Context, tip: Tip) -> None:
    """"tip:ask:<id>" pressed in the tip's group: the member's reply (or confirmed text) is the question."""
    code = tip.code
    if tip.reply_enc is None:
        ctx.reply(Reply(text=html_t("group.ask_no_contact", code=code), html=True))
        return
    minutes = ctx.services.settings.tips.ask_timeout_minutes
    prompt_key = f"tip:{tip.id}:askprompt:{secrets.token_hex(8)}"
    ctx.state.start(ASK_FLOW, AskStep.QUESTION, {"tip_id": tip.id, "since": ctx.now.isoformat(), "prompt": prompt_key})
    if ctx.incoming.channel in REPLY_CHANNELS:
        prompt = Reply(text=html_t("group.ask_prompt", code=code, max=MAX_QUESTION_CHARS, minutes=minutes), html=True)
        await ctx.send_to(ctx.incoming.channel, ctx.incoming.chat_id, prompt, is_group=ctx.is_group,
                          purpose="reply", idem_key=prompt_key)
    else:  # the Batal button replaces the tip's buttons as the chat's choices (a typed "1" is no status), and
        # the prompt waits for text: its button is typed as its word ("Batal"), a typed "1" is the question
        ctx.reply(Reply(text=html_t("group.ask_prompt_confirm", code=code, max=MAX_QUESTION_CHARS, minutes=minutes),
                        html=True, buttons=[[Button(t("button.cancel"), "tip:askx")]], text_input=True))


def _started_before(ctx: Context, window: timedelta) -> bool:
    """Whether the open flow's ``since`` (when it began) lies more than ``window`` back (or is unreadable)."""
    try:
        since = datetime.fromisoformat(str(ctx.state.data.get("since")))
    except ValueError:
        return True
    return ctx.now - since > window


def _expired(ctx: Context) -> bool:
    return _started_before(ctx, timedelta(minutes=ctx.services.settings.tips.ask_timeout_minutes))


def _is_cancel(text: str) -> bool:
    """A cancel word ("batal", "/batal", "cancel"), however written."""
    return text.lower().strip(" .!") in CANCEL_WORDS


async def _replies_to_prompt(ctx: Context) -> bool:
    reply_to = ctx.incoming.reply_to
    if reply_to is None:
        return False
    return reply_to == await store.sent_message_id(ctx.session, str(ctx.state.data.get("prompt", "")))


async def ask_cancel(ctx: Context) -> None:
    """/batal, "batal", the Batal button, or any other command or button while the question is open."""
    ctx.state.clear()
    ctx.reply(t("group.ask_cancelled"))


async def ask_text(ctx: Context) -> None:
    """A group member's text while a question is open (only that member's: the state is per person)."""
    by_reply = ctx.incoming.channel in REPLY_CHANNELS
    if by_reply and not await _replies_to_prompt(ctx):
        if _expired(ctx):
            ctx.state.clear()
        return  # ordinary group talk: never relayed, not answered
    if _expired(ctx):
        ctx.state.clear()
        ctx.reply(t("group.ask_expired"))
        return
    text = await _typed(ctx, MAX_QUESTION_CHARS, "group.ask_empty", ask_cancel)
    if text is None:
        return
    if by_reply:
        await _send_question(ctx, text)
        return
    ctx.state.step = AskStep.CONFIRM
    ctx.state.data = {**ctx.state.data, "question": text}
    ctx.reply(Reply(text=html_t("group.ask_confirm", question=text), html=True, buttons=[
        [Button(t("group.btn_ask_send"), "tip:askok")], [Button(t("button.cancel"), "tip:askx")],
    ]))


async def ask_confirmed(ctx: Context) -> None:
    """"tip:askok": the member confirmed the question shown to them."""
    if ctx.state.flow != ASK_FLOW or ctx.state.step != AskStep.CONFIRM or not ctx.state.data.get("question"):
        ctx.reply(t("group.ask_gone"))
        return
    if _expired(ctx):
        ctx.state.clear()
        ctx.reply(t("group.ask_expired"))
        return
    await _send_question(ctx, str(ctx.state.data["question"]))


async def _send_question(ctx: Context, text: str) -> None:
    tip = await store.tip_by_id(ctx.session, int(ctx.state.data.get("tip_id", 0)))
    ctx.state.clear()
    if tip is None or not may_act(ctx.services, tip, ctx.incoming.channel, ctx.incoming.chat_id, ctx.is_admin):
        ctx.reply(t("group.not_allowed"))
        return
    addr = reporter_address(ctx, tip)
    if addr is None:
        ctx.reply(Reply(text=html_t("group.ask_no_contact", code=tip.code), html=True))
        return
    event = await store.add_event(ctx.session, tip.id, "question", text, ctx.now)
    audit(ctx.session, actor(ctx), "tip.question", ctx.now, tip_id=tip.id, event_id=event.id)
    question = Reply(text=t("tips.question", code=tip.code, question=text),  # waits for text: a typed "15" is
                     buttons=[[Button(t("tips.btn_answer"), f"tip:ans:{tip.id}")]], text_input=True)  # an answer
    await ctx.send_to(addr[0], addr[1], question, purpose="notice",
                      idem_key=f"tip:{tip.id}:question:{event.id}", tip_id=tip.id)
    ctx.reply(Reply(text=html_t("group.ask_sent", code=tip.code), html=True))


# --- the reporter answers ------------------------------------------------------------------------------

async def answer_button(ctx: Context, tip_id: int) -> None:
    """"tip:ans:<id>" pressed in the reporter's chat: the next text is relayed to the group."""
    tip = await store.tip_by_id(ctx.session, tip_id)
    if tip is None or ctx.is_group or tip.reporter_key != reporter_key(ctx):
        ctx.reply(t("tips.answer_unavailable"))
        return
    if tip.group_chat_id is None:
        ctx.reply(t("tips.answer_unrouted"))
        return
    suspended = None
    if ctx.state.flow == flow.FLOW:
        suspended = {"step": ctx.state.step, "data": ctx.state.data}
    elif ctx.state.flow == ANSWER_FLOW:
        suspended = ctx.state.data.get("suspended")
    ctx.state.start(ANSWER_FLOW, "answer", {"tip_id": tip.id, "suspended": suspended})
    ctx.reply(Reply(text=t("tips.ask_answer", code=tip.code, max=ctx.services.settings.tips.max_text_chars),
                    buttons=[[Button(t("button.cancel"), "tip:ansx")]], text_input=True))


async def answer_command(ctx: Context) -> None:
    """/jawab KODE: same as the Jawab button (WhatsApp/console cannot press buttons of relayed messages)."""
    if not ctx.incoming.args:
        ctx.reply(t("tips.jawab_usage"))
        return
    tip = await store.own_tip(ctx.session, ctx.incoming.args, reporter_key(ctx))
    if tip is None:
        ctx.reply(t("tips.not_found"))
        return
    if tip.group_chat_id is not None and not await store.was_asked(ctx.session, tip.id):  # else its history
        # would say "Anda menjawab pertanyaan" (an unrouted tip is told so by answer_button)
        ctx.reply(t("tips.jawab_no_question", code=tip.code))
        return
    await answer_button(ctx, tip.id)


def resume(ctx: Context) -> None:
    """End the answer flow: back to the suspended /lapor draft, if any."""
    suspended = ctx.state.data.get("suspended")
    if suspended:
        ctx.state.start(flow.FLOW, suspended["step"], suspended["data"])
        flow.prompt(ctx, t("tips.resume"))
    else:
        ctx.state.clear()


async def answer_cancel(ctx: Context) -> None:
    if ctx.state.flow == ANSWER_FLOW:
        ctx.reply(t("tips.answer_cancelled"))
        resume(ctx)
    else:
        ctx.reply(t("tips.answer_cancelled"))


async def _typed(ctx: Context, limit: int, empty_key: str, cancel: Handler) -> str | None:
    """The text typed for a question or an answer, or None when it was a cancel word, empty or too long (the
    user has then been answered)."""
    text = ctx.incoming.text.strip()
    if _is_cancel(text):
        await cancel(ctx)
        return None
    if not text:
        ctx.reply(t(empty_key))
        return None
    if len(text) > limit or ctx.incoming.truncated:
        ctx.reply(t("tips.text_too_long", n=len(text), max=limit))
        return None
    return text


async def answer_text(ctx: Context) -> None:
    text = await _typed(ctx, ctx.services.settings.tips.max_text_chars, "tips.text_empty", answer_cancel)
    if text is None:
        return
    await _relay_answer(ctx, int(ctx.state.data.get("tip_id", 0)), text)
    resume(ctx)


async def _relay_answer(ctx: Context, tip_id: int, text: str) -> None:
    """Relay the reporter's answer ``text`` to the group of their tip ``tip_id``."""
    tip = await store.tip_by_id(ctx.session, tip_id)
    if tip is None or tip.reporter_key != reporter_key(ctx) or tip.group_chat_id is None:
        ctx.reply(t("tips.answer_unavailable"))
        return
    event = await store.add_event(ctx.session, tip.id, "answer", text, ctx.now)
    channel, chat_id = group_chat(ctx.services, tip.group_chat_id)
    reply = Reply(text=html_t("group.answer", code=tip.code, answer=text), html=True,
                  protect=True)
    await ctx.send_to(channel, chat_id, reply, is_group=True, purpose="tip",
                      idem_key=f"tip:{tip.id}:answer:{event.id}", tip_id=tip.id)
    ctx.reply(t("tips.answer_sent", code=tip.code))


def answers_by_reply(fallback: Handler) -> Handler:
    """The private-chat fallback, with two cases first.

    * A message that replies to a question of Bawaslu relayed to this chat (a Telegram reply, a WhatsApp quoted
      reply) is the answer to it, relayed like one typed after "Jawab" — not a FAQ question (which promised an
      admin's answer and kept the reporter's answer in the admins' unanswered list).
    * Any other text while this chat has a question it has not answered yet, sent within
      ``tips.typed_answer_hours``, may be the answer typed as the next message (how most people answer on
      WhatsApp and in the console): ``offer_typed_answer`` holds it and asks.
    """

    async def handle(ctx: Context) -> None:
        inc = ctx.incoming
        if not ctx.is_group and inc.text.strip():
            if inc.reply_to is not None:
                tip_id = await store.questioned_tip(ctx.session, ctx.chat_key, inc.reply_to)
                if tip_id is not None:
                    text = await _typed(ctx, ctx.services.settings.tips.max_text_chars, "tips.text_empty",
                                        answer_cancel)
                    if text is not None:
                        await _relay_answer(ctx, tip_id, text)
                    return
            elif await offer_typed_answer(ctx):
                return
        await fallback(ctx)

    return handle


# --- a typed answer ------------------------------------------------------------------------------------
#
# A message typed after a question is never relayed on its own: it might be a FAQ question or anything else.
# It is held in the conversation state (nowhere else: not in the FAQ's unanswered list) and the reporter is
# asked whether it answers the question on tip KODE (the newest unanswered question sent to this chat, see
# ``store.open_question``): "Ya, kirim" relays it as a Jawab answer is; "Bukan" hands it to the FAQ as if just
# typed; "Batal" drops it. More text before a choice joins it (people split a message in several). The offer is
# a transient flow: any command or other button drops it (as /hapus must), except "Jawab" of a question.

TYPED_FLOW = store.TYPED_ANSWER_FLOW
TYPED_CB = CallbackData("tipketik")  # "tipketik:ok" relay, "tipketik:faq" not an answer, "tipketik:x" drop
TYPED_KEEPS = (TYPED_CB.prefix, "tip:ans")


def route_answers(router: Router, fallback: Handler) -> None:
    """Register the private-chat fallback ``fallback`` behind the reporter's answers (``answers_by_reply``), with
    the typed-answer offer's flow and buttons."""
    router.fallback(answers_by_reply(fallback))
    router.flow(TYPED_FLOW, typed_more(fallback), cancel=typed_cancel, transient=True, keeps=TYPED_KEEPS)
    router.callback(TYPED_CB.prefix, typed_button(fallback))


def _typed_window(ctx: Context) -> timedelta:
    return timedelta(hours=ctx.services.settings.tips.typed_answer_hours)


async def offer_typed_answer(ctx: Context) -> bool:
    """If this chat has an unanswered recent question, hold the text just typed and ask whether it is the
    answer (True: the reporter has been answered; False: no open question, the text is not for this)."""
    text = ctx.incoming.text.strip()
    if _is_cancel(text) or asks(text):
        return False
    tip = await store.open_question(ctx.session, ctx.chat_key, reporter_key(ctx), ctx.now - _typed_window(ctx))
    if tip is None:
        return False
    limit = ctx.services.settings.tips.max_text_chars
    if len(text) > limit or ctx.incoming.truncated:
        ctx.reply(t("tips.text_too_long", n=len(text), max=limit))  # nothing is kept: shorter, please
        return True
    ctx.state.start(TYPED_FLOW, "confirm", {"tip_id": tip.id, "code": tip.code, "text": text,
                                            "since": ctx.now.isoformat()})
    _ask_typed(ctx)
    return True


QUESTION_WORDS = frozenset({"apakah", "bolehkah", "boleh", "bisakah", "gimana", "bagaimana", "kenapa", "mengapa"})


def asks(text: str) -> bool:
    """Whether ``text`` is a question of its own ("…?", "boleh…", "apakah…"): it asks, it answers nothing, so it
    goes to the FAQ without the offer. Most free texts are such questions, and not looking for an open question
    spares them a database round trip (a quarter of an FAQ update's time on PostgreSQL)."""
    words = text.lower().replace("?", " ? ").split()
    return text.rstrip().endswith("?") or bool(words and words[0] in QUESTION_WORDS) or "boleh" in words


def _ask_typed(ctx: Context) -> None:
    data = ctx.state.data
    ctx.reply(Reply(text=t("tips.typed_offer", code=data["code"], text=data["text"]), buttons=[
        [Button(t("tips.btn_typed_send"), TYPED_CB("ok"))],
        [Button(t("tips.btn_typed_not"), TYPED_CB("faq"))],
        [Button(t("button.cancel"), TYPED_CB("x"))],
    ]))


def _typed_expired(ctx: Context) -> bool:
    return _started_before(ctx, _typed_window(ctx))


def typed_more(fallback: Handler) -> Handler:
    """More text while the offer is open: the rest of the same message (shown again whole, for a choice); a
    cancel word drops it. An offer left open longer than the window is dropped and the text taken afresh (as
    if no flow were open: ``answers_by_reply`` with ``fallback``)."""
    afresh = answers_by_reply(fallback)

    async def handle(ctx: Context) -> None:
        if _typed_expired(ctx):
            ctx.state.clear()
            await afresh(ctx)
            return
        text = ctx.incoming.text.strip()
        if _is_cancel(text):
            await typed_cancel(ctx)
            return
        limit = ctx.services.settings.tips.max_text_chars
        if not text:
            ctx.reply(t("tips.text_empty"))
        else:
            joined = f"{ctx.state.data.get('text', '')}\n{text}"
            if len(joined) > limit or ctx.incoming.truncated:
                ctx.reply(t("tips.text_too_long", n=len(joined), max=limit))
            else:
                ctx.state.data = {**ctx.state.data, "text": joined}
        _ask_typed(ctx)  # last: its buttons stay the numbered choices

    return handle


async def typed_cancel(ctx: Context) -> None:
    """"Batal", a cancel word, or any command or other button while the offer is open: the text is dropped."""
    ctx.state.clear()
    ctx.reply(t("tips.typed_dropped"))


def typed_button(fallback: Handler) -> Handler:
    """The offer's buttons; "Bukan" hands the held text to ``fallback`` as if it had just been typed."""

    async def handle(ctx: Context) -> None:
        cb = TYPED_CB.parse(ctx.incoming.callback)
        action = cb.action if cb is not None and not cb.args else ""
        data = ctx.state.data
        if ctx.state.flow != TYPED_FLOW or not data.get("text") or action not in ("ok", "faq", "x"):
            ctx.reply(t("tips.typed_gone"))
            return
        expired = _typed_expired(ctx)
        ctx.state.clear()
        text = str(data["text"])
        if action == "x":
            ctx.reply(t("tips.typed_dropped"))
        elif action == "faq":
            typed = ctx.incoming
            ctx.incoming = replace(typed, text=text, callback=None)
            try:
                await fallback(ctx)
            finally:
                ctx.incoming = typed
        elif expired:
            ctx.reply(t("tips.typed_expired", code=data.get("code", "")))
        else:
            tip = await store.tip_by_id(ctx.session, int(data.get("tip_id", 0)))
            if tip is None or tip.reply_enc is None:  # unlinked (/hapus, purge) since the offer
                ctx.reply(t("tips.answer_unavailable"))
                return
            await _relay_answer(ctx, tip.id, text)

    return handle
