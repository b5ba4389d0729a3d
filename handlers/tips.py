"""/lapor (anonymous violation tip), /status, /hapus and the reporter's answers to Bawaslu questions.

The flow state lives in ``ctx.state`` (persisted per chat and user), so a half-finished tip survives a
restart. Evidence files are kept as channel references (Telegram file ids) while the flow runs; they are
downloaded, stripped of metadata and stored only on confirmation, in the same transaction as the tip —
so a cancelled or rejected tip leaves nothing behind.

Anonymity: the tip stores ``reporter_key`` (HMAC of channel + user id: rate limit, "my tips") and
``reply_enc`` (sealed chat address, for status notices and questions) — never ids, names or usernames.
"""

from __future__ import annotations

import html
import logging
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from bot import regions, tipcodes
from bot.core.model import Button, MediaOut, Reply
from bot.core.router import Context, Router
from bot.evidence import check_link, looks_like_link
from bot.evidence_fetch import fetch_evidence, matches, prefetch_tip_evidence
from bot.storage.models import RateCounter, Tip, TipEvent, TipMedia
from bot.texts import TEXTS, t
from bot.tipcases import (
    CATEGORIES,
    category_label,
    group_chat,
    group_messages,
    local_time,
    purge_expired,
    region_label,
    resolve_group,
    status_label,
)
from bot.tipdelivery import reporter_status_label
from broadcasts.outbox import insert_ignore
from handlers import region_picker

log = logging.getLogger(__name__)

__all__ = ["purge_expired", "register", "answer_button"]

FLOW = "lapor"
ANSWER_FLOW = "tipjawab"
MAX_SHORT_CHARS = 300  # who / where-and-when
MAX_LINKS = 10
ACCEPTED_MEDIA = ("photo", "video", "document")  # voice notes would carry the reporter's voice
BACK = {"kab": "prov", "category": "kab", "who": "category", "place": "who", "what": "place",
        "evidence": "what", "review": "evidence"}
CANCEL_WORDS = {"batal", "/batal", "cancel"}
BACK_WORDS = {"kembali", "back"}
DONE_WORDS = {"selesai", "lewati", "skip", "tidak ada", "done"}


def reporter_key(ctx: Context) -> str:
    return ctx.services.identity.key("reporter", ctx.incoming.channel, ctx.incoming.user_id)


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


def prompt(ctx: Context, prefix: str = "") -> None:
    """(Re-)show the current step of the /lapor flow."""
    st, data = ctx.state, ctx.state.data
    cfg = ctx.services.settings.tips
    lead = f"{prefix}\n\n" if prefix else ""
    if st.step == "prov":
        ctx.reply(Reply(text=lead + t("tips.ask_province"), buttons=province_keyboard(int(data.get("page", 0)))))
    elif st.step == "kab":
        prov = data.get("prov", "")
        r = regions.get(prov)
        ctx.reply(Reply(text=lead + t("tips.ask_kabkota", province=r.name if r else prov),
                        buttons=kabkota_keyboard(prov, int(data.get("page", 0)))))
    elif st.step == "category":
        kb = [[Button(category_label(c), f"lapor:c:{c}")] for c in CATEGORIES]
        kb.append(_nav())
        ctx.reply(Reply(text=lead + t("tips.ask_category", region=region_label(data["region"])), buttons=kb))
    elif st.step == "who":
        kb = [[Button(t("tips.btn_skip"), "lapor:skip")], _nav()]
        ctx.reply(Reply(text=lead + t("tips.ask_who", max=MAX_SHORT_CHARS), buttons=kb, text_input=True))
    elif st.step == "place":
        ctx.reply(Reply(text=lead + t("tips.ask_place", max=MAX_SHORT_CHARS), buttons=[_nav()], text_input=True))
    elif st.step == "what":
        ctx.reply(Reply(text=lead + t("tips.ask_what", max=cfg.max_text_chars), buttons=[_nav()], text_input=True))
    elif st.step == "evidence":
        ctx.reply(Reply(text=lead + t("tips.ask_evidence", max_media=cfg.max_media),
                        buttons=_evidence_keyboard(data), text_input=True))
    elif st.step == "review":
        _review(ctx, lead)


def _review(ctx: Context, lead: str = "") -> None:
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
    if any(m["kind"] != "photo" and not str(m.get("ctype", "")).startswith("image/") for m in data.get("media", [])):
        text += "\n\n" + t("tips.review_unstripped")
    text += "\n\n" + t("tips.notice")
    kb = [[Button(t("tips.btn_send"), "lapor:ok")], _nav()]
    ctx.reply(Reply(text=lead + text, buttons=kb))


# --- entry points ------------------------------------------------------------------------------------

async def lapor(ctx: Context) -> None:
    """/lapor [daerah]"""
    if await _count_today(ctx, reporter_key(ctx)) >= ctx.services.settings.tips.max_per_day:
        ctx.reply(t("tips.rate_limited", max=ctx.services.settings.tips.max_per_day))
        return
    ctx.state.start(FLOW, "prov", {"page": 0, "media": [], "links": []})
    if ctx.incoming.args:
        await _typed_region(ctx, ctx.incoming.args)
        return
    ctx.reply(Reply(text=t("tips.intro"), buttons=province_keyboard(0)))


async def on_button(ctx: Context) -> None:
    parts = (ctx.incoming.callback or "").split(":")
    action = parts[1] if len(parts) > 1 else ""
    st = ctx.state
    if st.flow != FLOW:
        ctx.reply(t("tips.expired"))
        return
    data = st.data
    if action == "cancel":
        st.clear()
        ctx.reply(t("tips.cancelled"))
    elif action == "back":
        _back(ctx)
    elif action == "pp" and st.step in ("prov", "kab") and len(parts) == 3 and parts[2].isdecimal():
        st.step, data["page"] = "prov", int(parts[2])
        prompt(ctx)
    elif action == "p" and st.step in ("prov", "kab") and len(parts) == 3 and _is_province(parts[2]):
        st.step, data["prov"], data["page"] = "kab", parts[2], 0
        prompt(ctx)
    elif action == "kp" and st.step == "kab" and len(parts) == 4 and parts[3].isdecimal():
        data["prov"], data["page"] = parts[2], int(parts[3])
        prompt(ctx)
    elif action == "r" and st.step in ("prov", "kab") and len(parts) == 3 and regions.get(parts[2]):
        _set_region(ctx, parts[2])
    elif action == "c" and st.step == "category" and len(parts) == 3 and parts[2] in CATEGORIES:
        data["category"] = parts[2]
        st.step = "who"
        prompt(ctx)
    elif action == "skip" and st.step == "who":
        data["who"] = ""
        st.step = "place"
        prompt(ctx)
    elif action == "done" and st.step == "evidence":
        st.step = "review"
        prompt(ctx)
    elif action == "clear" and st.step == "evidence":
        data["media"], data["links"] = [], []
        prompt(ctx, t("tips.evidence_cleared"))
    elif action == "ok" and st.step == "review":
        await _submit(ctx)
    else:  # a button of an earlier message
        prompt(ctx, t("tips.use_buttons"))


def _is_province(code: str) -> bool:
    region = regions.get(code)
    return region is not None and region.level == "provinsi"


def _back(ctx: Context) -> None:
    st = ctx.state
    if st.step not in BACK:  # first step: back = cancel
        st.clear()
        ctx.reply(t("tips.cancelled"))
        return
    st.step = BACK[st.step]
    if st.step == "kab" and not st.data.get("prov"):
        st.step = "prov"
    st.data["page"] = 0
    prompt(ctx)


def _set_region(ctx: Context, code: str) -> None:
    region = regions.get(code)
    assert region is not None
    ctx.state.data["region"] = region.code
    ctx.state.data["prov"] = region.province_code
    ctx.state.step = "category"
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
    kb.append([Button(t("button.cancel"), "lapor:cancel")])
    ctx.reply(Reply(text=t("tips.region_choose"), buttons=kb))


async def on_text(ctx: Context) -> None:
    st, data = ctx.state, ctx.state.data
    inc = ctx.incoming
    text = inc.text.strip()
    word = text.lower().strip(" .!")
    if word in CANCEL_WORDS:
        st.clear()
        ctx.reply(t("tips.cancelled"))
        return
    if word in BACK_WORDS:
        _back(ctx)
        return
    cfg = ctx.services.settings.tips
    if st.step == "evidence":
        await _evidence(ctx, text, word)
        return
    if inc.media and not text:
        prompt(ctx, t("tips.text_empty"))
        return
    if st.step in ("prov", "kab"):
        await _typed_region(ctx, text)
    elif st.step in ("who", "place", "what"):
        limit = cfg.max_text_chars if st.step == "what" else MAX_SHORT_CHARS
        if not text:
            prompt(ctx, t("tips.text_empty"))
            return
        if len(text) > limit or inc.truncated:
            ctx.reply(t("tips.text_too_long", n=len(text), max=limit))
            return
        data[st.step] = text
        st.step = {"who": "place", "place": "what", "what": "evidence"}[st.step]
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
        st.step = "review"
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
        notes.append(t("tips.evidence_hint"))
    lines = list(dict.fromkeys(notes))
    if added:
        lines.append(t("tips.evidence_added", media=len(data["media"]), links=len(data["links"])))
    ctx.reply(Reply(text="\n\n".join(lines), buttons=_evidence_keyboard(data), text_input=True))


# --- submission ----------------------------------------------------------------------------------------

def _day(ctx: Context) -> str:
    return ctx.now.astimezone(ZoneInfo(ctx.services.settings.timezone)).date().isoformat()


async def _count_today(ctx: Context, key: str) -> int:
    n = await ctx.session.scalar(
        select(RateCounter.count).where(
            RateCounter.scope == "tip", RateCounter.subject_key == key, RateCounter.day == _day(ctx)
        )
    )
    return int(n or 0)


async def _count_one(ctx: Context, key: str) -> None:
    day = _day(ctx)
    await ctx.session.execute(
        insert_ignore(ctx.session, RateCounter.__table__)
        .values(scope="tip", subject_key=key, day=day, count=0)
        .on_conflict_do_nothing(index_elements=["scope", "subject_key", "day"])
    )
    await ctx.session.execute(
        update(RateCounter)
        .where(RateCounter.scope == "tip", RateCounter.subject_key == key, RateCounter.day == day)
        .values(count=RateCounter.count + 1)
    )


async def _unique_code(ctx: Context) -> str:
    for _ in range(10):
        code = tipcodes.new_code()
        if await ctx.session.scalar(select(Tip.id).where(Tip.code == code)) is None:
            return code
    raise RuntimeError("could not allocate a unique tip code")


async def _download(ctx: Context) -> list[tuple[str, Any]] | None:
    """Every evidence file, fetched and stripped (normally before the transaction: ``bot.evidence_fetch``);
    on a failure drop that file, re-prompt and return None."""
    cfg = ctx.services.settings.tips
    media = list(ctx.state.data.get("media", []))
    fetched = ctx.prepared if matches(ctx.prepared, media) else await fetch_evidence(ctx.services, ctx.channel, media)
    out: list[tuple[str, Any]] = []
    for n, f in enumerate(fetched, 1):
        if f.evidence is None:
            media.pop(n - 1)
            ctx.state.data["media"] = media
            ctx.state.step = "evidence"
            prompt(ctx, t("tips.fetch_failed", n=n, max_mb=cfg.max_media_bytes // (1024 * 1024)))
            return None
        out.append((f.kind, f.evidence))
    return out


async def _submit(ctx: Context) -> None:
    svc, data = ctx.services, ctx.state.data
    cfg = svc.settings.tips
    rkey = reporter_key(ctx)
    if await _count_today(ctx, rkey) >= cfg.max_per_day:
        ctx.state.clear()
        ctx.reply(t("tips.rate_limited", max=cfg.max_per_day))
        return
    evidence = await _download(ctx)
    if evidence is None:
        return
    route = resolve_group(svc.settings, data["region"])
    now = ctx.now
    tip = Tip(
        code=await _unique_code(ctx),
        region_code=data["region"],
        category=data["category"],
        who=data.get("who", ""),
        place_time=data.get("place", ""),
        description=data.get("what", ""),
        links=list(data.get("links", [])),
        status="diterima",
        channel=ctx.incoming.channel,
        reporter_key=rkey,
        reply_enc=svc.identity.seal(ctx.incoming.channel, ctx.incoming.chat_id),
        group_chat_id=route[1] if route else None,
        created_at=now,
        updated_at=now,
    )
    ctx.session.add(tip)
    await ctx.session.flush()
    media_rows: list[TipMedia] = []
    for n, (kind, ev) in enumerate(evidence, 1):
        out_kind = "photo" if kind == "photo" and ev.stripped else ("video" if kind == "video" else "document")
        row = TipMedia(
            tip_id=tip.id, kind=out_kind, content=ev.data, content_type=ev.content_type,
            filename=f"bukti-{n}.{ev.ext}", size=len(ev.data), sha256_original=ev.sha256_original,
            stripped=ev.stripped, created_at=now,
        )
        ctx.session.add(row)
        media_rows.append(row)
    ctx.session.add(TipEvent(tip_id=tip.id, kind="status", text="diterima", created_at=now))
    await ctx.session.flush()
    await _count_one(ctx, rkey)
    if route is None:
        log.warning("tip stored but no Bawaslu group is configured",
                    extra={"tip_id": tip.id, "region": tip.region_code})
        ctx.reply(t("tips.sent_unrouted", code=tip.code))
    else:
        await _deliver(ctx, tip, media_rows)
        matched = regions.get(route[0])
        target = matched.name if matched else t("tips.target_default")
        ctx.reply(t("tips.sent", target=target, code=tip.code))
    log.info("tip received", extra={"tip_id": tip.id, "region": tip.region_code, "media": len(media_rows)})
    ctx.state.clear()


async def _deliver(ctx: Context, tip: Tip, media: list[TipMedia]) -> None:
    """Queue the group message(s) and one message per evidence file (durable: same transaction)."""
    assert tip.group_chat_id is not None
    channel, chat_id = group_chat(ctx.services, tip.group_chat_id)
    for i, reply in enumerate(group_messages(ctx.services.settings, tip, media)):
        await ctx.send_to(channel, chat_id, reply, is_group=True, purpose="tip",
                          idem_key=f"tip:{tip.id}:text" + (f":{i}" if i else ""), tip_id=tip.id)
    total = len(media)
    for n, row in enumerate(media, 1):
        caption = t("group.media_caption", n=n, total=total, code=tip.code)
        reply = Reply(media=[MediaOut(row.kind, media_id=row.id, caption=caption)], protect=True)  # type: ignore[arg-type]
        await ctx.send_to(channel, chat_id, reply, is_group=True, purpose="tip",
                          idem_key=f"tip:{tip.id}:media:{n}", tip_id=tip.id)


# --- /status, /hapus ------------------------------------------------------------------------------------

async def _own_tip(ctx: Context, text: str) -> Tip | None:
    code = tipcodes.normalize(text)
    if code is None:
        return None
    return await ctx.session.scalar(select(Tip).where(Tip.code == code, Tip.reporter_key == reporter_key(ctx)))


async def status(ctx: Context) -> None:
    """/status [kode]: one tip's status and history, or the list of the reporter's tips."""
    settings = ctx.services.settings
    if not ctx.incoming.args:
        tips = (await ctx.session.scalars(
            select(Tip).where(Tip.reporter_key == reporter_key(ctx)).order_by(Tip.created_at.desc()).limit(20)
        )).all()
        if not tips:
            ctx.reply(t("tips.my_list_empty"))
            return
        lines = [t("tips.my_list_header")]
        lines += [t("tips.my_list_row", code=tp.code, category=category_label(tp.category),
                    status=await reporter_status_label(ctx.session, tp),
                    created=local_time(settings, tp.created_at, "%d-%m-%Y"))
                  for tp in tips]
        lines.append(t("tips.my_list_footer"))
        ctx.reply("\n".join(lines))
        return
    tip = await _own_tip(ctx, ctx.incoming.args)
    if tip is None:
        ctx.reply(t("tips.not_found"))
        return
    events = (await ctx.session.scalars(
        select(TipEvent).where(TipEvent.tip_id == tip.id).order_by(TipEvent.created_at, TipEvent.id)
    )).all()
    history = []
    for ev in events:
        if ev.kind == "status":
            what = t("tips.event.status", status=status_label(ev.text))
        else:
            what = t(f"tips.event.{ev.kind}")
        history.append(t("tips.history_row", when=local_time(settings, ev.created_at), text=what))
    ctx.reply(t("tips.status_detail", code=tip.code, region=region_label(tip.region_code),
                category=category_label(tip.category), created=local_time(settings, tip.created_at),
                status=await reporter_status_label(ctx.session, tip), history="\n".join(history) or "-"))


async def hapus(ctx: Context) -> None:
    """/hapus KODE: wipe the sealed reply address of one's own tip at once."""
    if not ctx.incoming.args:
        ctx.reply(t("tips.hapus_usage"))
        return
    tip = await _own_tip(ctx, ctx.incoming.args)
    if tip is None:
        ctx.reply(t("tips.not_found"))
        return
    if tip.reply_enc is None:
        ctx.reply(t("tips.hapus_already", code=tip.code))
        return
    tip.reply_enc = None
    tip.updated_at = ctx.now
    ctx.session.add(TipEvent(tip_id=tip.id, kind="deleted", text="", created_at=ctx.now))
    ctx.reply(t("tips.hapus_done", code=tip.code))


# --- the reporter answers a Bawaslu question -----------------------------------------------------------

async def answer_button(ctx: Context, tip_id: int) -> None:
    """"tip:ans:<id>" pressed in the reporter's chat: the next text is relayed to the group."""
    tip = await ctx.session.get(Tip, tip_id)
    if tip is None or ctx.is_group or tip.reporter_key != reporter_key(ctx) or tip.group_chat_id is None:
        ctx.reply(t("tips.answer_unavailable"))
        return
    suspended = None
    if ctx.state.flow == FLOW:
        suspended = {"step": ctx.state.step, "data": ctx.state.data}
    elif ctx.state.flow == ANSWER_FLOW:
        suspended = ctx.state.data.get("suspended")
    ctx.state.start(ANSWER_FLOW, "answer", {"tip_id": tip.id, "suspended": suspended})
    ctx.reply(Reply(text=t("tips.ask_answer", code=tip.code, max=ctx.services.settings.tips.max_text_chars),
                    buttons=[[Button(t("button.cancel"), "tip:ansx")]], text_input=True))


async def answer_command(ctx: Context) -> None:
    """/jawab KODE: same as the Jawab button (WhatsApp/console cannot press buttons of relayed messages)."""
    tip = await _own_tip(ctx, ctx.incoming.args) if ctx.incoming.args else None
    if tip is None:
        ctx.reply(t("tips.not_found"))
        return
    await answer_button(ctx, tip.id)


def _resume(ctx: Context) -> None:
    suspended = ctx.state.data.get("suspended")
    if suspended:
        ctx.state.start(FLOW, suspended["step"], suspended["data"])
        prompt(ctx, t("tips.resume"))
    else:
        ctx.state.clear()


async def answer_cancel(ctx: Context) -> None:
    if ctx.state.flow == ANSWER_FLOW:
        ctx.reply(t("tips.answer_cancelled"))
        _resume(ctx)
    else:
        ctx.reply(t("tips.answer_cancelled"))


async def answer_text(ctx: Context) -> None:
    text = ctx.incoming.text.strip()
    limit = ctx.services.settings.tips.max_text_chars
    if text.lower().strip(" .!") in CANCEL_WORDS:
        await answer_cancel(ctx)
        return
    if not text:
        ctx.reply(t("tips.text_empty"))
        return
    if len(text) > limit or ctx.incoming.truncated:
        ctx.reply(t("tips.text_too_long", n=len(text), max=limit))
        return
    tip = await ctx.session.get(Tip, int(ctx.state.data.get("tip_id", 0)))
    if tip is None or tip.reporter_key != reporter_key(ctx) or tip.group_chat_id is None:
        ctx.reply(t("tips.answer_unavailable"))
        _resume(ctx)
        return
    event = TipEvent(tip_id=tip.id, kind="answer", text=text, created_at=ctx.now)
    ctx.session.add(event)
    await ctx.session.flush()
    channel, chat_id = group_chat(ctx.services, tip.group_chat_id)
    reply = Reply(text=t("group.answer", code=html.escape(tip.code), answer=html.escape(text)), html=True,
                  protect=True)
    await ctx.send_to(channel, chat_id, reply, is_group=True, purpose="tip",
                      idem_key=f"tip:{tip.id}:answer:{event.id}", tip_id=tip.id)
    ctx.reply(t("tips.answer_sent", code=tip.code))
    _resume(ctx)


def register(router: Router) -> None:
    router.command("lapor", lapor)
    router.command("status", status)
    router.command("hapus", hapus)
    router.command("jawab", answer_command)
    router.callback("lapor", on_button)
    router.prepare("lapor:ok", prefetch_tip_evidence)  # evidence fetched and stripped before the transaction
    router.flow(FLOW, on_text)
    router.flow(ANSWER_FLOW, answer_text)
