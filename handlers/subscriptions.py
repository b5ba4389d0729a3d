"""/langganan (subscribe or change region), /berhenti (unsubscribe at once), /tahapan (current stage).

A subscription belongs to a chat address on one channel: ``Subscriber.addr_key`` is the same keyed hash
the outbox uses (``identity.key("addr", channel, chat_id)``), so a 403 "blocked" on delivery deactivates
the subscriber; ``addr_enc`` is the sealed address the scheduler sends reminders and broadcasts to.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import cache

from sqlalchemy import select

from bot import regions
from bot.core.callbacks import CallbackData
from bot.core.context import Context
from bot.core.model import Button, Reply
from bot.core.router import Router
from bot.storage.models import Subscriber
from bot.texts import TEXTS, format_date_id, t
from broadcasts.timeline import Stage, Timeline, TimelineError, current_and_next, load_timelines
from handlers.widgets import region_picker

FLOW = "langganan"


class Step(StrEnum):
    """The /langganan flow: region → role."""

    REGION = "region"
    ROLE = "role"


CB = CallbackData("sub")
CANCEL_WORDS = frozenset({"batal", "cancel", "tidak jadi", "gak jadi", "ga jadi"})
ROLE_WORDS = {
    "asn": "asn", "pns": "asn", "pppk": "asn", "p3k": "asn",
    "publik": "publik", "umum": "publik", "masyarakat": "publik", "warga": "publik",
}


@cache
def timelines() -> tuple[Timeline, ...]:
    try:
        return tuple(load_timelines())
    except TimelineError:
        return ()


def region_label(code: str) -> str:
    r = regions.get(code)
    return r.name if r else code


def role_label(role: str) -> str:
    return t(f"sub.role.{role}")


# --- keyboards ------------------------------------------------------------------------------------

def province_keyboard(page: int) -> list[list[Button]]:
    return region_picker.province_keyboard(CB.prefix, page, [Button(t("button.cancel"), CB("x"))])


def kabkota_keyboard(prov: str, page: int) -> list[list[Button]]:
    footer = [Button(t("button.back"), CB("pp", 0)), Button(t("button.cancel"), CB("x"))]
    return region_picker.kabkota_keyboard(
        CB.prefix, prov, page, footer, whole_province_label=TEXTS["sub.whole_province"]
    )


def role_keyboard() -> list[list[Button]]:
    return [
        [Button(role_label("asn"), CB("role", "asn"))],
        [Button(role_label("publik"), CB("role", "publik"))],
        [Button(t("button.cancel"), CB("x"))],
    ]


# --- handlers -------------------------------------------------------------------------------------

async def current_subscriber(ctx: Context) -> Subscriber | None:
    return await ctx.session.scalar(select(Subscriber).where(Subscriber.addr_key == ctx.chat_key))


async def subscribe(ctx: Context) -> None:
    """/langganan [daerah]"""
    ctx.state.start(FLOW, Step.REGION)
    if ctx.incoming.args:
        await _typed_region(ctx, ctx.incoming.args)
        return
    sub = await current_subscriber(ctx)
    text = t("sub.ask_region")
    if sub is not None and sub.active:
        text = t("sub.current", region=region_label(sub.region_code), role=role_label(sub.role)) + "\n\n" + text
    ctx.reply(Reply(text=text, buttons=province_keyboard(0)))


async def flow_text(ctx: Context) -> None:
    text = ctx.incoming.text.strip()
    if ctx.incoming.media and not text:
        ctx.reply(t("error.unsupported"))
        return
    if text.lower().strip(" .!") in CANCEL_WORDS:  # as the tips and group flows accept it
        ctx.state.clear()
        ctx.reply(t("sub.cancelled"))
        return
    if ctx.state.step == Step.ROLE:
        role = ROLE_WORDS.get(text.lower().strip(" ."))
        if role is None:
            ctx.reply(Reply(text=t("sub.role_unknown"), buttons=role_keyboard()))
            return
        await _save(ctx, role)
        return
    await _typed_region(ctx, text)


async def _typed_region(ctx: Context, text: str) -> None:
    found = regions.resolve(text[:100], limit=6)
    if not found:
        ctx.reply(Reply(text=t("sub.not_found", text=text[:60]), buttons=province_keyboard(0)))
        return
    if len(found) == 1:
        if found[0].level == "provinsi":  # as pressing the province's button: kab/kota or the whole province
            _ask_kabkota(ctx, found[0].code, 0)
            return
        _ask_role(ctx, found[0].code)
        return
    kb = [[Button(r.name, CB("r", r.code))] for r in found]
    kb.append([Button(t("button.cancel"), CB("x"))])
    ctx.reply(Reply(text=t("sub.choose_match"), buttons=kb))


def _ask_kabkota(ctx: Context, code: str, page: int) -> None:
    prov = regions.get(code)
    assert prov is not None
    ctx.state.start(FLOW, Step.REGION)
    ctx.reply(Reply(text=t("sub.pick_kabkota", province=prov.name), buttons=kabkota_keyboard(prov.code, page)))


def _ask_role(ctx: Context, code: str) -> None:
    ctx.state.start(FLOW, Step.ROLE, {"region": code})
    ctx.reply(Reply(text=t("sub.ask_role", region=region_label(code)), buttons=role_keyboard()))


async def button(ctx: Context) -> None:
    cb = CB.parse(ctx.incoming.callback)
    if cb is None:
        ctx.reply(t("error.unknown_button"))
        return
    if cb.is_("x"):
        ctx.state.clear()
        ctx.reply(t("sub.cancelled"))
        return
    if cb.is_("pp", 1) and (page := cb.int_arg(0)) is not None:
        ctx.state.start(FLOW, Step.REGION)
        ctx.reply(Reply(text=t("sub.ask_region"), buttons=province_keyboard(page)))
        return
    if cb.is_("p", 1) and regions.get(cb.args[0]) is not None:
        _ask_kabkota(ctx, cb.args[0], 0)
        return
    if cb.is_("kp", 2) and (page := cb.int_arg(1)) is not None and regions.get(cb.args[0]) is not None:
        _ask_kabkota(ctx, cb.args[0], page)
        return
    if cb.is_("r", 1) and (region := regions.get(cb.args[0])) is not None:
        _ask_role(ctx, region.code)
        return
    if cb.is_("role", 1) and cb.args[0] in ("asn", "publik"):
        if ctx.state.flow != FLOW or not ctx.state.data.get("region"):
            ctx.state.start(FLOW, Step.REGION)
            ctx.reply(Reply(text=t("sub.ask_region"), buttons=province_keyboard(0)))
            return
        await _save(ctx, cb.args[0])
        return
    ctx.reply(t("error.unknown_button"))


async def _save(ctx: Context, role: str) -> None:
    code = str(ctx.state.data.get("region", ""))
    region = regions.get(code)
    ctx.state.clear()
    if region is None:
        ctx.reply(Reply(text=t("sub.ask_region"), buttons=province_keyboard(0)))
        return
    sub = await current_subscriber(ctx)
    svc = ctx.services
    was_active = sub is not None and sub.active
    if sub is None:
        sub = Subscriber(
            channel=ctx.channel,
            addr_key=ctx.chat_key,
            addr_enc=svc.identity.seal(ctx.channel, ctx.incoming.chat_id),
            region_code=region.code,
            role=role,
            active=True,
            blocked=False,
            last_inbound_at=ctx.now,
            created_at=ctx.now,
            updated_at=ctx.now,
        )
        ctx.session.add(sub)
    else:
        sub.region_code = region.code
        sub.role = role
        sub.active = True
        sub.blocked = False
        sub.addr_enc = svc.identity.seal(ctx.channel, ctx.incoming.chat_id)
        sub.last_inbound_at = ctx.now
        sub.updated_at = ctx.now
    key = "sub.changed" if was_active else "sub.done"
    text = t(key, region=region.name, zone=region.zone_label, role=role_label(role))
    stage_text = stages_text(region.code, ctx)
    ctx.reply(text + ("\n\n" + stage_text if stage_text else ""))


async def unsubscribe(ctx: Context) -> None:
    """/berhenti"""
    if ctx.state.flow == FLOW:
        ctx.state.clear()
    sub = await current_subscriber(ctx)
    if sub is None:
        ctx.reply(t("sub.not_subscribed"))
        return
    if not sub.active:
        ctx.reply(t("sub.already_stopped", region=region_label(sub.region_code)))
        return
    sub.active = False
    sub.updated_at = ctx.now
    ctx.reply(t("sub.stopped") + ("\n" + t("whatsapp.stop_hint") if ctx.channel == "whatsapp" else ""))


async def resume(ctx: Context) -> None:
    """/mulai (WhatsApp START/MULAI): reactivate the existing subscription of this chat."""
    sub = await current_subscriber(ctx)
    if sub is None:
        ctx.reply(t("whatsapp.resume_none"))
        return
    region, role = region_label(sub.region_code), role_label(sub.role)
    if sub.active and not sub.blocked:
        ctx.reply(t("whatsapp.resume_already", region=region, role=role))
        return
    sub.active = True
    sub.blocked = False
    sub.addr_enc = ctx.services.identity.seal(ctx.channel, ctx.incoming.chat_id)
    sub.last_inbound_at = ctx.now
    sub.updated_at = ctx.now
    ctx.reply(t("whatsapp.resumed", region=region, role=role))


def _dates(stage: Stage) -> str:
    if stage.start == stage.end:
        return format_date_id(stage.start)
    return t("date.range", start=format_date_id(stage.start), end=format_date_id(stage.end))


def next_unscheduled(code: str) -> str | None:
    """The election of a template timeline (``enabled = false``, dates not yet set) covering ``code``,
    e.g. "Pemilu 2029"; None when there is none."""
    for tl in timelines():
        if tl.enabled or not tl.covers(code):
            continue
        year = re.search(r"(?:19|20)\d\d", tl.id)
        label = t(f"sub.stage.kind.{tl.kind}") if tl.kind in ("pemilu", "pilkada") else tl.kind.capitalize()
        return f"{label} {year.group(0)}" if year else label
    return None


def stages_text(code: str, ctx: Context) -> str:
    current, upcoming = current_and_next(timelines(), code, ctx.now)
    if current is None and upcoming is None:
        text = t("sub.stage.none", region=region_label(code))
        if (election := next_unscheduled(code)) is not None:
            text += "\n" + t("sub.stage.next_unscheduled", election=election)
        return text
    lines = [t("sub.stage.header", region=region_label(code))]
    if current is not None:
        lines.append(t("sub.stage.current", timeline=current[0].name, stage=current[1].name, dates=_dates(current[1])))
    else:
        lines.append(t("sub.stage.no_current"))
    if upcoming is not None:
        lines.append(t("sub.stage.next", timeline=upcoming[0].name, stage=upcoming[1].name, dates=_dates(upcoming[1])))
    return "\n".join(lines)


async def stages(ctx: Context) -> None:
    """/tahapan [daerah]"""
    code: str | None = None
    if ctx.incoming.args:
        found = regions.resolve(ctx.incoming.args[:100], limit=1)
        if not found:
            ctx.reply(t("sub.stage.not_found", text=ctx.incoming.args[:60]))
            return
        code = found[0].code
    elif not ctx.is_group:
        sub = await current_subscriber(ctx)
        if sub is not None and sub.active:
            code = sub.region_code
    if code is None:
        ctx.reply(t("sub.stage.need_region_group" if ctx.is_group else "sub.stage.need_region"))
        return
    ctx.reply(stages_text(code, ctx))


def register(router: Router) -> None:
    router.command("langganan", subscribe)
    router.command("berhenti", unsubscribe)
    router.command("mulai", resume)
    router.command("tahapan", stages, where="any")
    router.callback(CB.prefix, button)
    router.flow(FLOW, flow_text)
