"""The messages a Bawaslu group receives about a tip: the announcement with its status buttons.

The announcement is Telegram HTML built with ``html_t``: every field is escaped by construction.
"""

from __future__ import annotations

from markupsafe import Markup

from bot.config import Settings
from bot.core.model import Button, Reply
from bot.storage.models import Tip, TipMedia
from bot.texts import html_t, t
from handlers.tips.cases import STATUSES, category_label, local_time, region_label, status_label

HTML_LIMIT = 3800  # keep composed group messages under Telegram's 4096 characters


def status_buttons(tip_id: int) -> list[list[Button]]:
    kb = [[Button(status_label(s), f"tip:st:{tip_id}:{i}")] for i, s in enumerate(STATUSES)]
    kb.append([Button(t("group.btn_ask"), f"tip:ask:{tip_id}")])
    return kb


def group_messages(settings: Settings, tip: Tip, media: list[TipMedia]) -> list[Reply]:
    """The text message(s) announcing a tip in its Bawaslu group. Every user-supplied part is escaped."""
    links = Markup("")
    if tip.links:
        rows = Markup("\n").join(html_t("group.link_row", label=lk["label"], url=lk["url"]) for lk in tip.links)
        links = html_t("group.links", rows=rows)
    unstripped = sum(1 for m in media if not m.stripped)
    media_note = t("group.media_sent", n=len(media)) if media else t("group.media_none")
    if unstripped:
        media_note += t("group.media_unstripped", n=unstripped)
    fields = {
        "code": tip.code,
        "region": region_label(tip.region_code),
        "category": category_label(tip.category),
        "who": tip.who or t("tips.none"),
        "place": tip.place_time or t("tips.none"),
        "links": links,
        "media": media_note,
        "created": local_time(settings, tip.created_at),
        "status": status_label(tip.status),
    }
    text = html_t("group.tip", what=tip.description, **fields)
    buttons = status_buttons(tip.id)
    if len(text) <= HTML_LIMIT:
        return [Reply(text=text, buttons=buttons, html=True, protect=True)]
    # Too long once escaped: the description follows as plain text (no parsing, so nothing to escape).
    head = Reply(text=html_t("group.tip", what=t("group.what_separate"), **fields), buttons=buttons, html=True,
                 protect=True)
    out = [head]
    body = tip.description
    step = 3500
    for i in range(0, len(body), step):
        out.append(Reply(text=t("group.what_part", code=tip.code, text=body[i : i + step]), protect=True))
    return out

