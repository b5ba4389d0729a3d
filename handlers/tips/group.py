"""The Bawaslu group side of tips: status buttons, /statistik and /ekspor ("tanya pelapor": relay.py).

Authorisation: a tip can only be acted on from the group it was routed to (``Tip.group_chat_id``) or by a
JagaNetral admin, so forged callback data naming another region's tip is refused. Group members stay
anonymous to the reporter (only the bot speaks) and the reporter stays anonymous to the group.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from collections import Counter
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup

from bot.core.callbacks import CallbackData
from bot.core.context import Context
from bot.core.model import Button, MediaOut, Reply
from bot.storage.audit import audit
from bot.storage.models import Tip, TipMedia
from bot.texts import html_t, t
from handlers.tips import relay, store
from handlers.tips.cases import (
    CATEGORIES,
    CLOSED,
    STATUSES,
    TipStatus,
    actor,
    category_label,
    may_act,
    region_label,
    status_label,
)
from handlers.tips.evidence import sha256
from handlers.tips.messages import status_buttons

log = logging.getLogger(__name__)

TIP_CB = CallbackData("tip")  # buttons under a tip in the group and under a question to the reporter

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


async def on_tip_button(ctx: Context) -> None:
    """Buttons "tip:st:<id>:<n>", "tip:re:<id>:<n>" (reopen, confirmed), "tip:rex", "tip:ask:<id>",
    "tip:askok", "tip:askx" (group) and "tip:ans:<id>", "tip:ansx" (reporter)."""
    cb = TIP_CB.parse(ctx.incoming.callback)
    action = cb.action if cb is not None else ""
    if action == "ansx":
        await relay.answer_cancel(ctx)
        return
    if action == "askok":
        await relay.ask_confirmed(ctx)
        return
    if action == "askx":
        await relay.ask_cancel(ctx)
        return
    if action == "rex":
        ctx.reply(t("group.reopen_cancelled"))
        return
    tip_id = cb.int_arg(0) if cb is not None else None
    if tip_id is None:
        ctx.reply(t("error.unknown_button"))
        return
    if action == "ans":
        await relay.answer_button(ctx, tip_id)
        return
    tip = await store.tip_by_id(ctx.session, tip_id)
    if tip is None:
        ctx.reply(t("group.tip_not_found"))
        return
    if not may_act(ctx.services, tip, ctx.incoming.channel, ctx.incoming.chat_id, ctx.is_admin):
        log.warning("tip action refused: not the tip's group", extra={"tip_id": tip.id, "action": action})
        ctx.reply(t("group.not_allowed"))
        return
    n = cb.int_arg(1) if cb is not None and len(cb.args) == 2 else None
    if action in ("st", "re") and n is not None and n < len(STATUSES):
        await _set_status(ctx, tip, STATUSES[n], confirmed=action == "re")
    elif action == "ask":
        await relay.ask_button(ctx, tip)
    else:
        ctx.reply(t("error.unknown_button"))


async def _set_status(ctx: Context, tip: Tip, new: TipStatus, *, confirmed: bool = False) -> None:
    """Change a tip's status (audited with the member's pseudonym); reopening a closed case asks first."""
    code = tip.code
    if tip.status == new:
        ctx.reply(Reply(text=html_t("group.status_same", code=code, status=status_label(new)), html=True))
        return
    if tip.status in CLOSED and new not in CLOSED and not confirmed:
        ctx.reply(Reply(
            text=html_t("group.reopen_confirm", code=code, old=status_label(tip.status), new=status_label(new)),
            html=True,
            buttons=[[Button(t("group.btn_reopen"), f"tip:re:{tip.id}:{STATUSES.index(new)}")],
                     [Button(t("button.cancel"), "tip:rex")]],
        ))
        return
    now = ctx.now
    audit(ctx.session, actor(ctx), "tip.status", now, tip_id=tip.id, old=str(tip.status), new=str(new))
    tip.status, tip.updated_at = new, now
    retention = ctx.services.settings.tips.retention_days
    if new in CLOSED:
        tip.closed_at, tip.purge_after = now, now + timedelta(days=retention)
    else:
        tip.closed_at, tip.purge_after = None, None
    event = await store.add_event(ctx.session, tip.id, "status", new, now)
    text = html_t("group.status_changed", code=code, status=status_label(new))
    addr = relay.reporter_address(ctx, tip)
    if addr is not None:
        notice = t("tips.status_notice", code=tip.code, status=status_label(new))
        if new in CLOSED:
            notice += t("tips.status_closed_note", days=retention)
        await ctx.send_to(addr[0], addr[1], Reply(text=notice), purpose="notice",
                          idem_key=f"tip:{tip.id}:status:{event.id}", tip_id=tip.id)
        text += t("group.reporter_told")
    else:
        text += t("group.reporter_gone")
    log.info("tip status changed", extra={"tip_id": tip.id, "status": new})
    ctx.reply(Reply(text=text, html=True))


# --- /statistik and /ekspor -----------------------------------------------------------------------------

async def _scoped_tips(ctx: Context) -> tuple[list[Tip], str]:
    """Tips routed to this group (console: the simulated group sees every routed tip; admin in private: all)."""
    if not ctx.is_group:
        return await store.scoped_tips(ctx.session, None), t("group.scope_all")
    scope = t("group.scope_group")
    if ctx.incoming.channel == "console":
        return await store.scoped_tips(ctx.session, None, any_routed=True), scope
    try:
        group_id = int(ctx.incoming.chat_id)
    except ValueError:
        return [], scope
    return await store.scoped_tips(ctx.session, group_id), scope


def _week(ctx: Context, tip: Tip) -> str:
    local = tip.created_at.astimezone(ZoneInfo(ctx.services.settings.timezone))
    year, week, _ = local.isocalendar()
    return f"{year}-W{week:02d}"


def _rows(counter: Counter[str], label: Any) -> Markup:
    return Markup("\n").join(html_t("group.stats_row", label=label(k), n=n) for k, n in counter.items())


async def kasus(ctx: Context) -> None:
    """/kasus KODE in the tip's group: the tip's status with its buttons again (on channels without real buttons
    only the last message's choices can be typed, and a tip's message scrolls away on every channel)."""
    if not ctx.incoming.args:
        ctx.reply(t("group.kasus_usage"))
        return
    tip = await store.tip_by_code(ctx.session, ctx.incoming.args)
    if tip is None:
        ctx.reply(t("group.tip_not_found"))
        return
    if not may_act(ctx.services, tip, ctx.incoming.channel, ctx.incoming.chat_id, ctx.is_admin):
        ctx.reply(t("group.not_allowed"))
        return
    ctx.reply(Reply(text=html_t("group.kasus", code=tip.code, category=category_label(tip.category),
                                region=region_label(tip.region_code), status=status_label(tip.status)),
                    html=True, buttons=status_buttons(tip.id)))


async def statistik(ctx: Context) -> None:
    tips, scope = await _scoped_tips(ctx)
    if not tips:
        ctx.reply(t("group.stats_empty", scope=scope))
        return
    by_cat = Counter({c: 0 for c in CATEGORIES})
    by_cat.update(tp.category for tp in tips)
    by_cat = Counter({k: v for k, v in by_cat.items() if v})
    by_status: Counter[str] = Counter({str(s): 0 for s in STATUSES})
    by_status.update(tp.status for tp in tips)
    by_status = Counter({k: v for k, v in by_status.items() if v})
    by_week = Counter(sorted(_week(ctx, tp) for tp in tips))
    ctx.reply(Reply(
        text=html_t("group.stats", scope=scope, total=len(tips),
               by_category=_rows(by_cat, category_label), by_status=_rows(by_status, status_label),
               by_week=_rows(by_week, str)),
        html=True,
    ))


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text  # no spreadsheet formula injection


def export_csv(ctx: Context, tips: list[Tip], media: dict[int, list[TipMedia]]) -> bytes:
    """CSV of tips for Bawaslu — no reporter data (no reporter_key, reply address or channel)."""
    tz = ZoneInfo(ctx.services.settings.timezone)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["kode", "kode_wilayah", "wilayah", "jenis", "status", "diterima", "diperbarui", "ditutup",
                "terlapor", "tempat_waktu", "kejadian", "tautan", "jumlah_berkas", "sha256_berkas_asli"])
    for tp in tips:
        files = media.get(tp.id, [])
        w.writerow([_cell(v) for v in (
            tp.code, tp.region_code, region_label(tp.region_code), category_label(tp.category),
            status_label(tp.status), tp.created_at.astimezone(tz).isoformat(timespec="minutes"),
            tp.updated_at.astimezone(tz).isoformat(timespec="minutes"),
            tp.closed_at.astimezone(tz).isoformat(timespec="minutes") if tp.closed_at else "",
            tp.who, tp.place_time, tp.description, " | ".join(lk["url"] for lk in tp.links or []),
            len(files), " ".join(m.sha256_original for m in files),
        )])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")  # BOM: Excel opens UTF-8 correctly


def chart_png(weeks: list[str], series: dict[str, list[int]], title: str, ylabel: str) -> bytes:
    """Stacked bar chart of tips per ISO week per category (matplotlib, Agg, no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(max(6.0, 0.6 * len(weeks) + 3), 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    bottom = [0] * len(weeks)
    for label, values in series.items():
        ax.bar(weeks, values, bottom=bottom, label=label)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.tick_params(axis="x", labelrotation=45)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


async def ekspor(ctx: Context) -> None:
    tips, scope = await _scoped_tips(ctx)
    if not tips:
        ctx.reply(t("group.stats_empty", scope=scope))
        return
    media = await store.media_hashes(ctx.session, [tp.id for tp in tips])
    data = export_csv(ctx, tips, media)
    weeks = sorted({_week(ctx, tp) for tp in tips})
    counts = Counter((_week(ctx, tp), tp.category) for tp in tips)
    used = [c for c in CATEGORIES if any(tp.category == c for tp in tips)]
    series = {category_label(c): [counts[(w, c)] for w in weeks] for c in used}
    png = await asyncio.to_thread(chart_png, weeks, series, t("group.chart_title"), t("group.chart_ylabel"))
    stamp = ctx.now.astimezone(ZoneInfo(ctx.services.settings.timezone)).strftime("%Y%m%d-%H%M")
    docs = [
        TipMedia(tip_id=None, kind="document", content=data, content_type="text/csv",
                 filename=f"laporan-{stamp}.csv", size=len(data), sha256_original=sha256(data), stripped=True,
                 created_at=ctx.now),
        TipMedia(tip_id=None, kind="document", content=png, content_type="image/png",
                 filename=f"grafik-{stamp}.png", size=len(png), sha256_original=sha256(png), stripped=True,
                 created_at=ctx.now),
    ]
    await store.add_media(ctx.session, docs)
    captions = [t("group.export_caption", scope=scope, n=len(tips)), t("group.chart_caption", scope=scope)]
    for doc, caption in zip(docs, captions, strict=True):
        ctx.reply(Reply(media=[MediaOut("document", media_id=doc.id, caption=caption)], protect=True))
    log.info("tips exported", extra={"count": len(tips)})


__all__ = ["chart_png", "ekspor", "export_csv", "on_tip_button", "statistik"]
