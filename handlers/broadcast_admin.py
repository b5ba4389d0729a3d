"""Admin broadcasts: /siaran (text → audience → time → confirm), /jadwal (list), /batal <id> (cancel).

Admins are configured officials, so their actions are audited with their channel id as the actor
(``telegram:<id>``); reporters never appear in the audit log. The broadcast itself is a ``broadcasts`` row;
``broadcasts/scheduler.py`` expands it into outbox rows when due and reports back to its creator.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from bot import regions
from bot.core.callbacks import CallbackData
from bot.core.context import Context, Handler
from bot.core.model import Button, Reply
from bot.core.router import Router
from bot.storage.audit import audit
from bot.storage.db import rowcount
from bot.storage.models import Broadcast
from bot.texts import t, zone_label
from broadcasts import audience

FLOW = "siaran"


class Step(StrEnum):
    """The /siaran flow: text → audience → (region) → when → confirm."""

    TEXT = "text"
    AUDIENCE = "audience"
    REGION = "region"
    WHEN = "when"
    CONFIRM = "confirm"


CB = CallbackData("bc")
MAX_TEXT = 1500  # fits a WhatsApp body (1600) with the header
ZONE_SUFFIX = {"wib": "Asia/Jakarta", "wita": "Asia/Makassar", "wit": "Asia/Jayapura"}
_NOW_WORDS = {"sekarang", "now", "kirim sekarang", "segera"}
_REL_DAYS = {"hari ini": 0, "besok": 1, "lusa": 2}
_TIME_RE = re.compile(r"(?:\b(?:pukul|pkl|jam)\s*)?\b([01]?\d|2[0-3])[:.]([0-5]\d)\b")
_ISO_RE = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_DMY_RE = re.compile(r"\b(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\b")


def parse_when(text: str, now: datetime, default_tz: str) -> datetime | None:
    """Admin input → aware UTC datetime. Accepts "sekarang", "2026-12-01 07:00", "besok 07:00",
    "01/12/2026 07.00", "hari ini pukul 19.30", optionally followed by WIB/WITA/WIT. None if not understood."""
    s = " ".join(text.lower().replace(",", " ").split())
    if s in _NOW_WORDS:
        return now
    tz_name = default_tz
    words = s.split()
    if words and words[-1] in ZONE_SUFFIX:
        tz_name = ZONE_SUFFIX[words[-1]]
        s = " ".join(words[:-1])
    zone = ZoneInfo(tz_name)
    local_now = now.astimezone(zone)
    day: date | None = None
    rest = s
    if m := _ISO_RE.search(s):
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
        rest = s[: m.start()] + s[m.end() :]
    elif m := _DMY_RE.search(s):
        d, mo, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
        rest = s[: m.start()] + s[m.end() :]
    else:
        y = mo = d = 0
        for word, offset in _REL_DAYS.items():
            if s.startswith(word):
                day = local_now.date() + timedelta(days=offset)
                rest = s[len(word) :]
                break
        if day is None:
            return None
    if day is None:
        try:
            day = date(y, mo, d)
        except ValueError:
            return None
    tm = _TIME_RE.fullmatch(rest.strip())
    if tm is None:
        return None
    local = datetime.combine(day, time(int(tm.group(1)), int(tm.group(2))), tzinfo=zone)
    return local.astimezone(UTC)


def admin_tz(ctx: Context) -> str:
    return ctx.services.settings.timezone


def when_label(at: datetime, tz: str) -> str:
    local = at.astimezone(ZoneInfo(tz))
    return f"{local:%d-%m-%Y %H:%M} {zone_label(tz)}"


def actor(ctx: Context) -> str:
    return f"{ctx.channel}:{ctx.incoming.user_id}"


def audience_label(kind: str, region_code: str | None, role: str | None = None) -> str:
    if kind == "region" and region_code:
        r = regions.get(region_code)
        return t("bc.audience.region", region=r.name if r else region_code)
    if kind == "all" and role == "publik":
        return t("bc.audience.publik")
    return t(f"bc.audience.{kind}")


def _audience_of(data: dict[str, object]) -> audience.Audience:
    aud = str(data.get("aud", "all"))
    if aud in ("prov", "kab"):
        return audience.Audience("region", str(data.get("region")))
    if aud == "pub":  # the public only: every region, role "publik"
        return audience.Audience("all", role="publik")
    return audience.Audience(aud)


def _cancel_button() -> list[Button]:
    return [Button(t("button.cancel"), CB("x"))]


# --- /siaran flow ---------------------------------------------------------------------------------

async def start(ctx: Context) -> None:
    ctx.state.start(FLOW, Step.TEXT)
    ctx.reply(t("bc.ask_text", max=MAX_TEXT))


async def flow_text(ctx: Context) -> None:
    if not ctx.is_admin:
        ctx.state.clear()
        ctx.reply(t("error.admin_only"))
        return
    text = ctx.incoming.text.strip()
    step = ctx.state.step
    if step == Step.TEXT:
        if not text:
            ctx.reply(t("bc.empty"))
            return
        if len(text) > MAX_TEXT or ctx.incoming.truncated:
            ctx.reply(t("bc.too_long", max=MAX_TEXT, n=len(text)))
            return
        ctx.state.start(FLOW, Step.AUDIENCE, {"text": text})
        _ask_audience(ctx)
    elif step == Step.REGION:
        await _typed_region(ctx, text)
    elif step == Step.WHEN:
        at = parse_when(text, ctx.now, admin_tz(ctx))
        if at is None:
            ctx.reply(t("bc.bad_when"))
            return
        if at < ctx.now - timedelta(minutes=1):
            ctx.reply(t("bc.past_when"))
            return
        now = text.strip().lower() in _NOW_WORDS
        ctx.state.data["at"] = "now" if now else at.isoformat()
        ctx.state.step = Step.CONFIRM
        await _confirm(ctx)
    else:  # audience / confirm expect a button
        ctx.reply(t("bc.use_buttons"))


def _ask_audience(ctx: Context) -> None:
    preview = t("bc.message", text=ctx.state.data["text"])
    ctx.reply(
        Reply(
            text=t("bc.preview", preview=preview),
            buttons=[
                [Button(t("bc.aud.all"), CB("a", "all"))],
                [Button(t("bc.aud.prov"), CB("a", "prov"))],
                [Button(t("bc.aud.kab"), CB("a", "kab"))],
                [Button(t("bc.aud.asn"), CB("a", "asn"))],
                [Button(t("bc.aud.pub"), CB("a", "pub"))],
                _cancel_button(),
            ],
        )
    )


async def _typed_region(ctx: Context, text: str) -> None:
    level = "provinsi" if ctx.state.data.get("aud") == "prov" else "kabkota"
    matches = regions.resolve(text[:100], limit=8)
    found = [r for r in matches if r.level == level]
    if not found:
        other = matches[0] if matches else None
        if other is not None and other.level == "provinsi":  # e.g. "kaltim" under "Satu kabupaten/kota"
            ctx.reply(t("bc.region_is_province", text=text[:60], region=other.name))
        elif other is not None:
            ctx.reply(t("bc.region_is_kabkota", text=text[:60], region=other.name))
        else:
            ctx.reply(t("bc.region_not_found", text=text[:60]))
        return
    if len(found) == 1:
        _set_region(ctx, found[0].code)
        return
    kb = [[Button(r.name, CB("r", r.code))] for r in found[:6]]
    kb.append(_cancel_button())
    ctx.reply(Reply(text=t("bc.choose_region"), buttons=kb))


def _set_region(ctx: Context, code: str) -> None:
    ctx.state.data["region"] = code
    ctx.state.step = Step.WHEN
    region = regions.get(code)
    chosen = t("bc.region_chosen", region=region.name if region else code)
    ctx.reply(chosen + "\n" + t("bc.ask_when", tz=when_label(ctx.now, admin_tz(ctx)).split()[-1]))


async def _confirm(ctx: Context) -> None:
    data = ctx.state.data
    aud = _audience_of(data)
    n = await audience.count(ctx.session, aud.condition())
    at_raw = str(data.get("at"))
    when = t("bc.now_label") if at_raw == "now" else when_label(datetime.fromisoformat(at_raw), admin_tz(ctx))
    text = t(
        "bc.confirm",
        audience=audience_label(aud.kind, aud.region_code, aud.role),
        count=n,
        when=when,
        preview=t("bc.message", text=data["text"]),
    )
    if n == 0:
        text = t("bc.no_recipients") + "\n\n" + text
    ctx.reply(
        Reply(
            text=text,
            buttons=[[Button(t("bc.btn_confirm"), CB("ok"))], _cancel_button()],
        )
    )


async def button(ctx: Context) -> None:
    if not ctx.is_admin:
        ctx.reply(t("error.admin_only"))
        return
    cb = CB.parse(ctx.incoming.callback)
    if cb is None:
        ctx.reply(t("error.unknown_button"))
        return
    if cb.is_("x"):
        ctx.state.clear()
        ctx.reply(t("common.cancelled"))
        return
    if ctx.state.flow != FLOW:
        ctx.reply(t("bc.flow_expired"))
        return
    step = ctx.state.step
    if cb.is_("a", 1) and step == Step.AUDIENCE and (kind := cb.args[0]) in ("all", "prov", "kab", "asn", "pub"):
        ctx.state.data["aud"] = kind
        if kind in ("prov", "kab"):
            ctx.state.step = Step.REGION
            ctx.reply(t("bc.ask_region_prov" if kind == "prov" else "bc.ask_region_kab"))
        else:
            ctx.state.step = Step.WHEN
            ctx.reply(t("bc.ask_when", tz=when_label(ctx.now, admin_tz(ctx)).split()[-1]))
        return
    if cb.is_("r", 1) and step == Step.REGION and regions.get(cb.args[0]) is not None:
        _set_region(ctx, cb.args[0])
        return
    if cb.is_("ok") and step == Step.CONFIRM:
        await _create(ctx)
        return
    ctx.reply(t("bc.flow_expired"))


async def _create(ctx: Context) -> None:
    data = ctx.state.data
    aud = _audience_of(data)
    at_raw = str(data.get("at"))
    at = ctx.now if at_raw == "now" else datetime.fromisoformat(at_raw)
    svc = ctx.services
    b = Broadcast(
        text=str(data["text"]),
        audience=aud.kind,
        region_code=aud.region_code,
        role=aud.role,
        scheduled_at=at,
        status="scheduled",
        creator_channel=ctx.channel,
        creator_enc=svc.identity.seal(ctx.channel, ctx.incoming.chat_id),
        creator_label=actor(ctx)[:64],
        created_at=ctx.now,
    )
    ctx.session.add(b)
    await ctx.session.flush()
    audit(
        ctx.session, actor(ctx), "broadcast.create", ctx.now,
        broadcast_id=b.id, audience=aud.kind, region=aud.region_code, scheduled_at=at.isoformat(),
    )
    ctx.state.clear()
    sched = svc.scheduler
    if sched is not None:
        sched.schedule_broadcast(b.id, at)
    when = t("bc.now_label") if at_raw == "now" else when_label(at, admin_tz(ctx))
    ctx.reply(t("bc.scheduled", id=b.id, when=when))


# --- /jadwal, /batal ------------------------------------------------------------------------------

async def list_scheduled(ctx: Context) -> None:
    rows = (
        await ctx.session.scalars(
            select(Broadcast)
            .where(Broadcast.status.in_(("scheduled", "sending")))
            .order_by(Broadcast.scheduled_at, Broadcast.id)
            .limit(30)
        )
    ).all()
    if not rows:
        ctx.reply(t("bc.list_empty"))
        return
    lines = [t("bc.list_header")]
    for b in rows:
        snippet = " ".join(b.text.split())
        lines.append(
            t(
                "bc.list_row",
                id=b.id,
                when=when_label(b.scheduled_at, admin_tz(ctx)),
                audience=audience_label(b.audience, b.region_code, b.role),
                status=t(f"bc.status.{b.status}"),
                snippet=snippet[:60] + ("…" if len(snippet) > 60 else ""),
            )
        )
    ctx.reply("\n".join(lines))


def make_cancel(router: Router) -> Handler:
    """/batal <id> cancels a broadcast (admins, private chat); /batal alone cancels the current flow (everyone,
    groups too), the way that flow asks to be cancelled (``Router.cancel_flow``)."""

    async def cancel(ctx: Context) -> None:
        arg = ctx.incoming.args.strip().lstrip("#")
        if not arg or not ctx.is_admin or ctx.is_group:
            if not await router.cancel_flow(ctx):
                ctx.reply(t("common.nothing_to_cancel"))
            return
        if not arg.isdecimal():
            ctx.reply(t("bc.cancel_usage"))
            return
        bid = int(arg)
        b = await ctx.session.get(Broadcast, bid)
        if b is None:
            ctx.reply(t("bc.cancel_not_found", id=bid))
            return
        moved = await ctx.session.execute(
            update(Broadcast)
            .where(Broadcast.id == bid, Broadcast.status == "scheduled")
            .values(status="cancelled", finished_at=ctx.now)
            .execution_options(synchronize_session=False)
        )
        if not rowcount(moved):
            await ctx.session.refresh(b)
            ctx.reply(t("bc.cancel_too_late", id=bid, status=t(f"bc.status.{b.status}")))
            return
        audit(ctx.session, actor(ctx), "broadcast.cancel", ctx.now, broadcast_id=bid)
        sched = ctx.services.scheduler
        if sched is not None:
            sched.unschedule_broadcast(bid)
        ctx.reply(t("bc.cancelled", id=bid))

    return cancel


def register(router: Router) -> None:
    router.command("siaran", start, admin=True)
    router.command("jadwal", list_scheduled, admin=True)
    router.command("batal", make_cancel(router), where="any", ends_flow=True)
    router.callback(CB.prefix, button)
    router.flow(FLOW, flow_text)
