"""/status (the reporter's tips and their history) and /hapus (wipe the way back to the reporter)."""

from __future__ import annotations

from bot.core.callbacks import CallbackData
from bot.core.context import Context
from bot.core.model import Button, Reply
from bot.storage.models import Tip
from bot.storage.retention import ephemeral_key
from bot.texts import t
from handlers.tips import relay, store
from handlers.tips.cases import category_label, local_time, region_label, reporter_key, status_label
from handlers.tips.delivery import reporter_status_label

HAPUS_CB = CallbackData("hapus")  # the /hapus confirmation


async def status(ctx: Context) -> None:
    """/status [kode]: one tip's status and history, or the list of the reporter's tips."""
    settings = ctx.services.settings
    if not ctx.incoming.args:
        tips = await store.my_tips(ctx.session, reporter_key(ctx))
        if not tips:
            ctx.reply(t("tips.my_list_empty"))
            return
        lines = [t("tips.my_list_header")]
        lines += [t("tips.my_list_row", code=tp.code, category=category_label(tp.category),
                    status=await reporter_status_label(ctx.session, tp),
                    created=local_time(settings, tp.created_at))
                  for tp in tips]
        lines.append(t("tips.my_list_footer"))
        ctx.reply("\n".join(lines))
        return
    tip = await store.own_tip(ctx.session, ctx.incoming.args, reporter_key(ctx))
    if tip is None:
        ctx.reply(t("tips.not_found"))
        return
    history = []
    for ev in await store.events_of(ctx.session, tip.id):
        if ev.kind == "status":
            what = t("tips.event.status", status=status_label(ev.text))
        else:
            what = t(f"tips.event.{ev.kind}")
        history.append(t("tips.history_row", when=local_time(settings, ev.created_at), text=what))
    ctx.reply(t("tips.status_detail", code=tip.code, region=region_label(tip.region_code),
                category=category_label(tip.category), created=local_time(settings, tip.created_at),
                status=await reporter_status_label(ctx.session, tip), history="\n".join(history) or "-"))


async def _reply_unlinked(ctx: Context, text: str) -> None:
    """Answer /hapus with a message whose outbox copy (it names the tip) is wiped once it is sent."""
    await ctx.send_to(ctx.incoming.channel, ctx.incoming.chat_id, Reply(text=text), purpose="reply",
                      idem_key=ephemeral_key())


async def hapus(ctx: Context) -> None:
    """/hapus KODE: asks first (it cannot be undone), then ``hapus_button`` unlinks."""
    if not ctx.incoming.args:
        ctx.reply(t("tips.hapus_usage"))
        return
    tip = await store.own_tip(ctx.session, ctx.incoming.args, reporter_key(ctx))
    if tip is None:
        ctx.reply(t("tips.not_found"))
        return
    if tip.reply_enc is None:
        await _reply_unlinked(ctx, t("tips.hapus_already", code=tip.code))
        return
    ctx.reply(Reply(text=t("tips.hapus_confirm", code=tip.code), buttons=[
        [Button(t("tips.btn_hapus"), HAPUS_CB("ok", tip.id))], [Button(t("button.cancel"), HAPUS_CB("x"))]]))


async def hapus_button(ctx: Context) -> None:
    """"hapus:ok:<id>" (confirmed) or "hapus:x" under the /hapus question."""
    cb = HAPUS_CB.parse(ctx.incoming.callback)
    tip_id = cb.int_arg(0) if cb is not None and cb.is_("ok", 1) else None
    if tip_id is None:
        ctx.reply(t("tips.hapus_kept"))
        return
    tip = await store.tip_by_id(ctx.session, tip_id)
    if tip is None or ctx.is_group or tip.reporter_key != reporter_key(ctx):
        ctx.reply(t("tips.not_found"))
        return
    if tip.reply_enc is None:
        await _reply_unlinked(ctx, t("tips.hapus_already", code=tip.code))
        return
    await _unlink(ctx, tip)


async def _unlink(ctx: Context, tip: Tip) -> None:
    """Unlink the reporter from their tip at once (``store.unlink_reporter``)."""
    identity, inc = ctx.services.identity, ctx.incoming
    chats = {(inc.channel, inc.chat_id)}
    addr = relay.reporter_address(ctx, tip)
    if addr is not None:
        chats.add(addr)
    await store.unlink_reporter(
        ctx.session, tip,
        addr_keys={identity.key("addr", ch, chat) for ch, chat in chats},
        choices_keys={identity.key("choices", ch, chat) for ch, chat in chats},  # as bot.core.dispatcher keys them
    )
    if ctx.state.flow == relay.ANSWER_FLOW and ctx.state.data.get("tip_id") == tip.id:
        relay.resume(ctx)  # the answer being typed belonged to this tip
    tip.updated_at = ctx.now
    await store.add_event(ctx.session, tip.id, "deleted", "", ctx.now)
    await _reply_unlinked(ctx, t("tips.hapus_done", code=tip.code,
                                 days=ctx.services.settings.tips.retention_days))
