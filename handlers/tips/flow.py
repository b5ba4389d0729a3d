"""/lapor: the anonymous violation tip, step by step (region → category → who → place → what → evidence → review).

The flow state lives in ``ctx.state`` (persisted per chat and user), so a half-finished tip survives a
restart. Evidence files are kept as channel references (Telegram file ids) while the flow runs; they are
downloaded, stripped of metadata and stored only on confirmation (``submit.py``) — so a cancelled or
rejected tip leaves nothing behind.

The steps are declared in ``STEPS``: how each is shown, where "Kembali" leads, and for the free-text steps
the length limit and the next step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot import regions
from bot.core.callbacks import Callback, CallbackData
from bot.core.context import Context
from bot.core.model import Button, Reply
from bot.texts import TEXTS, t
from handlers.tips import store, submit
from handlers.tips.cases import CATEGORIES, category_label, region_label, reporter_key
from handlers.tips.evidence import check_link, is_share_short_link, looks_like_link, strippable
from handlers.tips.identifying import findings
from handlers.widgets import region_picker

FLOW = "lapor"
LAPOR_CB = CallbackData(FLOW)  # the /lapor flow's buttons
MAX_SHORT_CHARS = 300  # who / where-and-when
MAX_LINKS = 10
ACCEPTED_MEDIA = ("photo", "video", "document")  # voice notes would carry the reporter's voice
CANCEL_WORDS = {"batal", "/batal", "cancel"}
BACK_WORDS = {"kembali", "back"}
CHOOSING = "choosing"  # data key: /lapor found a draft and waits for Lanjutkan / Mulai baru
DONE_WORDS = {"selesai", "lewati", "skip", "tidak ada", "done"}


class Step(StrEnum):
    PROV = "prov"
    KAB = "kab"
    CATEGORY = "category"
    WHO = "who"
    PLACE = "place"
    WHAT = "what"
    EVIDENCE = "evidence"
    REVIEW = "review"


@dataclass(frozen=True)
class StepSpec:
    show: Callable[[Context, str], None]  # (ctx, lead text) -> the step's prompt
    back: Step | None  # where "Kembali" leads; None: the first step (back = cancel)
    next: Step | None = None  # free-text steps: the step after a valid answer
    short: bool = False  # free-text steps: MAX_SHORT_CHARS instead of tips.max_text_chars


def _nav() -> list[Button]:
    return [Button(t("button.back"), "lapor:back"), Button(t("button.cancel"), "lapor:cancel")]


def province_keyboard(page: int) -> list[list[Button]]:
    return region_picker.province_keyboard("lapor", page, [Button(t("button.cancel"), "lapor:cancel")])


def kabkota_keyboard(prov: str, page: int) -> list[list[Button]]:
    label = TEXTS["tips.whole_province"]
    return region_picker.kabkota_keyboard("lapor", prov, page, _nav(), whole_province_label=label)


# --- prompts ---------------------------------------------------------------------------------------

def _evidence_keyboard(data: dict[str, Any]) -> list[list[Button]]:
    has = bool(data.get("media") or data.get("links"))
    kb = [[Button(t("tips.btn_done") if has else t("tips.btn_skip"), "lapor:done")]]
    if has:
        kb.append([Button(t("tips.btn_clear"), "lapor:clear")])
    kb.append(_nav())
    return kb


def _evidence_summary(data: dict[str, Any]) -> str:
    return t("tips.evidence_summary", media=len(data.get("media", [])), links=len(data.get("links", [])))


def _show_prov(ctx: Context, lead: str) -> None:
    page = int(ctx.state.data.get("page", 0))
    ctx.reply(Reply(text=lead + t("tips.ask_province"), buttons=province_keyboard(page)))


def _show_kab(ctx: Context, lead: str) -> None:
    data = ctx.state.data
    prov = data.get("prov", "")
    r = regions.get(prov)
    ctx.reply(Reply(text=lead + t("tips.ask_kabkota", province=r.name if r else prov),
                    buttons=kabkota_keyboard(prov, int(data.get("page", 0)))))


def _show_category(ctx: Context, lead: str) -> None:
    kb = [[Button(category_label(c), f"lapor:c:{c}")] for c in CATEGORIES]
    kb.append(_nav())
    ctx.reply(Reply(text=lead + t("tips.ask_category", region=region_label(ctx.state.data["region"])), buttons=kb))


def _text_step(ctx: Context, lead: str, prompt_text: str, field: str, extra: list[list[Button]]) -> None:
    """A free-text step; an answer given before (the reporter came back) is shown, with a button to keep it."""
    saved = str(ctx.state.data.get(field) or "")
    kb = ([[Button(t("tips.btn_keep"), "lapor:keep")]] if saved else []) + extra + [_nav()]
    body = prompt_text + ("\n\n" + t("tips.current_text", text=saved) if saved else "")
    ctx.reply(Reply(text=lead + body, buttons=kb, text_input=True))


def _show_who(ctx: Context, lead: str) -> None:
    _text_step(ctx, lead, t("tips.ask_who", max=MAX_SHORT_CHARS), "who", [[Button(t("tips.btn_skip"), "lapor:skip")]])


def _show_place(ctx: Context, lead: str) -> None:
    _text_step(ctx, lead, t("tips.ask_place", max=MAX_SHORT_CHARS), "place", [])


def _show_what(ctx: Context, lead: str) -> None:
    _text_step(ctx, lead, t("tips.ask_what", max=ctx.services.settings.tips.max_text_chars), "what", [])


def _show_evidence(ctx: Context, lead: str) -> None:
    ctx.reply(Reply(text=lead + t("tips.ask_evidence", max_media=ctx.services.settings.tips.max_media,
                                  max_links=MAX_LINKS),
                    buttons=_evidence_keyboard(ctx.state.data), text_input=True))


def _show_review(ctx: Context, lead: str) -> None:
    data = ctx.state.data
    none = t("tips.none")
    text = t(
        "tips.review",
        region=region_label(data["region"]),
        category=category_label(data["category"]),
        who=data.get("who") or none,
        place=data.get("place") or none,
        what=data.get("what") or none,
        evidence=_evidence_summary(data),
    )
    risky = _risky_files(data)
    if risky:
        files = ", ".join(t("tips.file_label", n=n, kind=t(f"tips.kind.{m['kind']}")) for n, m in risky)
        text += "\n\n" + t("tips.review_unstripped", files=files)
    short = [n for n, link in enumerate(data.get("links", []), 1) if is_share_short_link(link["url"])]
    if short:
        named = ", ".join(f"ke-{n} ({data['links'][n - 1]['url']})" for n in short)
        text += "\n\n" + t("tips.review_share_links", links=named)
    flagged = {f: findings(str(data.get(f) or "")) for f in TEXT_FIELDS}
    kinds = list(dict.fromkeys(k for found in flagged.values() for k in found))
    kb = [[Button(t("tips.btn_send"), "lapor:ok")]]
    if kinds:
        text += "\n\n" + t("tips.review_identifying", what=", ".join(t(f"tips.identifying.{k}") for k in kinds))
        kb += [[Button(t("tips.btn_edit", field=t(f"tips.field.{f}")), f"lapor:e:{f}")]
               for f, found in flagged.items() if found]
    kb += [[Button(t("tips.btn_drop", n=n), f"lapor:drop:{n}")] for n, _ in risky]
    kb += [[Button(t("tips.btn_drop_link", n=n), f"lapor:droplink:{n}")] for n in short]
    text += "\n\n" + t("tips.notice")
    kb.append(_nav())
    ctx.reply(Reply(text=lead + text, buttons=kb))


TEXT_FIELDS = (Step.WHO, Step.PLACE, Step.WHAT)  # free-text answers, stored under the step's name

STEPS: dict[Step, StepSpec] = {
    Step.PROV: StepSpec(_show_prov, back=None),
    Step.KAB: StepSpec(_show_kab, back=Step.PROV),
    Step.CATEGORY: StepSpec(_show_category, back=Step.KAB),
    Step.WHO: StepSpec(_show_who, back=Step.CATEGORY, next=Step.PLACE, short=True),
    Step.PLACE: StepSpec(_show_place, back=Step.WHO, next=Step.WHAT, short=True),
    Step.WHAT: StepSpec(_show_what, back=Step.PLACE, next=Step.EVIDENCE),
    Step.EVIDENCE: StepSpec(_show_evidence, back=Step.WHAT),
    Step.REVIEW: StepSpec(_show_review, back=Step.EVIDENCE),
}


def _risky_files(data: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """(1-based number, file) of the evidence whose metadata will (or did, once checked) stay in."""
    found = set(data.get("unstrippable", []))
    return [(n, m) for n, m in enumerate(data.get("media", []), 1)
            if m["ref"] in found or not strippable(m["kind"], str(m.get("ctype") or ""))]


def _step(ctx: Context) -> Step | None:
    if ctx.state.step is None:
        return None
    try:
        return Step(ctx.state.step)
    except ValueError:
        return None


def prompt(ctx: Context, prefix: str = "") -> None:
    """(Re-)show the current step of the /lapor flow."""
    step = _step(ctx)
    if step is not None:
        STEPS[step].show(ctx, f"{prefix}\n\n" if prefix else "")


# --- entry points ------------------------------------------------------------------------------------

async def lapor(ctx: Context) -> None:
    """/lapor [daerah]"""
    max_per_day = ctx.services.settings.tips.max_per_day
    if await store.count_today(ctx.session, reporter_key(ctx), submit.day(ctx)) >= max_per_day:
        ctx.reply(t("tips.rate_limited", max=max_per_day))
        return
    if ctx.state.flow == FLOW and ctx.state.data.get("region") and not ctx.incoming.args:
        ctx.state.data[CHOOSING] = True  # until a button: typed text is no answer to the step the draft is at
        _ask_resume(ctx)
        return
    _new_draft(ctx)
    if ctx.incoming.args:
        await _typed_region(ctx, ctx.incoming.args)
        return
    ctx.reply(Reply(text=t("tips.intro"), buttons=province_keyboard(0)))


def _ask_resume(ctx: Context, prefix: str = "") -> None:
    ctx.reply(Reply(text=prefix + t("tips.draft_waiting", region=region_label(ctx.state.data["region"])), buttons=[
        [Button(t("tips.btn_resume"), "lapor:resume")], [Button(t("tips.btn_restart"), "lapor:new")]]))


def _new_draft(ctx: Context) -> None:
    ctx.state.start(FLOW, Step.PROV, {"page": 0, "media": [], "links": []})


async def cancel(ctx: Context) -> None:
    """Cancel the /lapor flow (button, word or /batal): nothing is stored."""
    ctx.state.clear()
    ctx.reply(t("tips.cancelled"))


def _num(cb: Callback | None, index: int, nargs: int) -> int | None:
    """Argument ``index`` of a button with exactly ``nargs`` arguments, as a number (None if it is not one)."""
    return cb.int_arg(index) if cb is not None and len(cb.args) == nargs else None


async def on_button(ctx: Context) -> None:
    cb = LAPOR_CB.parse(ctx.incoming.callback)
    action, args = (cb.action, cb.args) if cb is not None else ("", ())
    st = ctx.state
    if st.flow != FLOW:
        ctx.reply(t("tips.expired"))
        return
    data = st.data
    data.pop(CHOOSING, None)
    if action == "cancel":
        await cancel(ctx)
    elif action == "resume":
        prompt(ctx, t("tips.resume"))
    elif action == "new":
        _new_draft(ctx)
        ctx.reply(Reply(text=t("tips.intro"), buttons=province_keyboard(0)))
    elif action == "back":
        _back(ctx)
    elif action == "pp" and st.step in (Step.PROV, Step.KAB) and _num(cb, 0, 1) is not None:
        st.step, data["page"] = Step.PROV, _num(cb, 0, 1)
        prompt(ctx)
    elif action == "p" and st.step in (Step.PROV, Step.KAB) and len(args) == 1 and _is_province(args[0]):
        st.step, data["prov"], data["page"] = Step.KAB, args[0], 0
        prompt(ctx)
    elif action == "kp" and st.step == Step.KAB and _num(cb, 1, 2) is not None:
        data["prov"], data["page"] = args[0], _num(cb, 1, 2)
        prompt(ctx)
    elif action == "r" and st.step in (Step.PROV, Step.KAB) and len(args) == 1 and regions.get(args[0]):
        _set_region(ctx, args[0])
    elif action == "c" and st.step == Step.CATEGORY and len(args) == 1 and args[0] in CATEGORIES:
        data["category"] = args[0]
        st.step = Step.WHO
        prompt(ctx)
    elif action == "skip" and st.step == Step.WHO:
        data["who"] = ""
        st.step = Step.REVIEW if data.pop("edit", False) else Step.PLACE
        prompt(ctx)
    elif action == "done" and st.step == Step.EVIDENCE:
        st.step = Step.REVIEW
        prompt(ctx)
    elif action == "clear" and st.step == Step.EVIDENCE:
        data["media"], data["links"] = [], []
        prompt(ctx, t("tips.evidence_cleared"))
    elif action == "e" and st.step == Step.REVIEW and len(args) == 1 and args[0] in TEXT_FIELDS:
        st.step, data["edit"] = Step(args[0]), True  # after the new text: straight back to the review
        prompt(ctx)
    elif action == "keep" and st.step in TEXT_FIELDS and data.get(str(st.step)):
        st.step = Step.REVIEW if data.pop("edit", False) else STEPS[Step(st.step)].next
        prompt(ctx)
    elif action == "drop" and st.step == Step.REVIEW and 1 <= (_num(cb, 0, 1) or 0) <= len(data.get("media", [])):
        n = int(args[0])
        data["media"] = [m for i, m in enumerate(data["media"], 1) if i != n]
        prompt(ctx, t("tips.file_dropped", n=n))
    elif action == "droplink" and st.step == Step.REVIEW and 1 <= (_num(cb, 0, 1) or 0) <= len(data.get("links", [])):
        n = int(args[0])
        data["links"] = [lk for i, lk in enumerate(data["links"], 1) if i != n]
        prompt(ctx, t("tips.link_dropped", n=n))
    elif action == "ok" and st.step == Step.REVIEW:
        data["consented"] = [m["ref"] for _, m in _risky_files(data)]  # named on the review they confirmed
        await _submit(ctx)
    else:  # a button of an earlier message
        prompt(ctx, t("tips.use_buttons"))


async def _submit(ctx: Context) -> None:
    result = await submit.submit(ctx)
    if isinstance(result, submit.FetchFailed):
        ctx.state.step = Step.EVIDENCE
        prompt(ctx, t("tips.fetch_failed", n=result.n, max_mb=result.max_mb))
    elif isinstance(result, submit.NotStripped):  # the bytes said otherwise than the declared type
        ctx.state.data["unstrippable"] = [*ctx.state.data.get("unstrippable", []), *result.refs]
        prompt(ctx, t("tips.unstrippable_found"))


def _is_province(code: str) -> bool:
    region = regions.get(code)
    return region is not None and region.level == "provinsi"


def _back(ctx: Context) -> None:
    st = ctx.state
    step = _step(ctx)
    back = STEPS[step].back if step is not None else None
    if back is None:  # first step: back = cancel
        st.clear()
        ctx.reply(t("tips.cancelled"))
        return
    st.step = back
    if st.step == Step.KAB and not st.data.get("prov"):
        st.step = Step.PROV
    st.data["page"] = 0
    prompt(ctx)


def _set_region(ctx: Context, code: str) -> None:
    region = regions.get(code)
    assert region is not None
    ctx.state.data["region"] = region.code
    ctx.state.data["prov"] = region.province_code
    ctx.state.step = Step.CATEGORY
    prompt(ctx)


async def _typed_region(ctx: Context, text: str) -> None:
    found = regions.resolve(text[:100], limit=6)
    if len(found) == 1:
        _set_region(ctx, found[0].code)
        return
    if not found:
        ctx.reply(Reply(text=t("tips.region_not_found", text=text[:60]), buttons=province_keyboard(0)))
        return
    kb = [[Button(r.name, f"lapor:r:{r.code}")] for r in found]
    kb.append([Button(t("button.back"), "lapor:pp:0"), Button(t("button.cancel"), "lapor:cancel")])
    ctx.reply(Reply(text=t("tips.region_choose"), buttons=kb))


async def on_text(ctx: Context) -> None:
    st, data = ctx.state, ctx.state.data
    inc = ctx.incoming
    text = inc.text.strip()
    word = text.lower().strip(" .!")
    if word in CANCEL_WORDS:
        await cancel(ctx)
        return
    if word in BACK_WORDS:
        data.pop(CHOOSING, None)
        _back(ctx)
        return
    if data.get(CHOOSING):  # /lapor asked "continue or start again?": a typed text answers neither
        _ask_resume(ctx, t("tips.choose_resume") + "\n\n")
        return
    step = _step(ctx)
    if step == Step.EVIDENCE:
        await _evidence(ctx, text, word)
        return
    if inc.media and not text:
        prompt(ctx, t("tips.text_empty"))
        return
    spec = STEPS[step] if step is not None else None
    if step in (Step.PROV, Step.KAB):
        await _typed_region(ctx, text)
    elif step is not None and spec is not None and spec.next is not None:
        limit = MAX_SHORT_CHARS if spec.short else ctx.services.settings.tips.max_text_chars
        if not text:
            prompt(ctx, t("tips.text_empty"))
            return
        if len(text) > limit or inc.truncated:
            ctx.reply(t("tips.text_too_long", n=len(text), max=limit))
            return
        data[step.value] = text
        st.step = Step.REVIEW if data.pop("edit", False) else spec.next
        prompt(ctx)
    else:  # category, review: buttons only
        prompt(ctx, t("tips.use_buttons"))


async def _evidence(ctx: Context, text: str, word: str) -> None:
    st, data = ctx.state, ctx.state.data
    cfg = ctx.services.settings.tips
    notes: list[str] = []
    added = False
    for m in ctx.incoming.media:
        if m.kind not in ACCEPTED_MEDIA:
            notes.append(t("tips.media_unsupported"))
        elif len(data["media"]) >= cfg.max_media:
            notes.append(t("tips.too_many_media", max=cfg.max_media))
        elif m.size is not None and m.size > cfg.max_media_bytes:
            notes.append(t("tips.media_too_big", max_mb=cfg.max_media_bytes // (1024 * 1024)))
        else:
            # lists are replaced, never mutated: the state column is saved only when its value differs
            data["media"] = [*data["media"], {"kind": m.kind, "ref": m.ref, "ctype": m.content_type, "size": m.size}]
            added = True
    if not ctx.incoming.media and word in DONE_WORDS:
        st.step = Step.REVIEW
        prompt(ctx)
        return
    for token in text.split():
        link = check_link(token)
        if link is not None:
            if len(data["links"]) >= MAX_LINKS:
                notes.append(t("tips.too_many_links", max=MAX_LINKS))
                break
            if link.url not in [lk["url"] for lk in data["links"]]:
                data["links"] = [*data["links"], {"url": link.url, "label": link.label}]
            added = True
        elif looks_like_link(token):
            notes.append(t("tips.link_invalid", link=token[:80]))
    if not added and not notes:
        has = data.get("media") or data.get("links")
        notes.append(t("tips.evidence_hint_more") if has else t("tips.evidence_hint"))
    lines = list(dict.fromkeys(notes))
    if added:
        lines.append(t("tips.evidence_added", media=len(data["media"]), links=len(data["links"])))
    ctx.reply(Reply(text="\n\n".join(lines), buttons=_evidence_keyboard(data), text_input=True))
