"""Paginated province → kabupaten/kota buttons, shared by /lapor and /langganan.

Callback data under a feature's ``prefix``: ``{prefix}:p:<province>`` (province chosen),
``{prefix}:pp:<page>`` (province page), ``{prefix}:kp:<province>:<page>`` (kab/kota page),
``{prefix}:r:<code>`` (region chosen; a province code means the whole province). Packed with the feature's
``bot.core.callbacks.CallbackData``, so all ≤ 64 bytes.
"""

from __future__ import annotations

from bot import regions
from bot.core.callbacks import CallbackData
from bot.core.model import Button, rows
from bot.texts import t

PER_PAGE = 10


def _page(items: list[regions.Region], page: int) -> tuple[list[regions.Region], int, int]:
    pages = max(1, -(-len(items) // PER_PAGE))
    page = min(max(page, 0), pages - 1)
    return items[page * PER_PAGE : (page + 1) * PER_PAGE], page, pages


def _pager(cb: CallbackData, action: str, page: int, pages: int, *args: str) -> list[Button]:
    # "Next" first: on numbered channels (console, WhatsApp) it keeps the same number on every page, so
    # typing that number again pages on instead of going back (a "previous" before it shifted it by one).
    nav = []
    if page < pages - 1:
        nav.append(Button(t("button.page_next"), cb(action, *args, page + 1)))
    if page > 0:
        nav.append(Button(t("button.page_prev"), cb(action, *args, page - 1)))
    return nav


def province_keyboard(prefix: str, page: int, footer: list[Button]) -> list[list[Button]]:
    cb = CallbackData(prefix)
    chunk, page, pages = _page(regions.provinces(), page)
    kb = rows([Button(p.short, cb("p", p.code)) for p in chunk], 2)
    if nav := _pager(cb, "pp", page, pages):
        kb.append(nav)
    kb.append(footer)
    return kb


def kabkota_keyboard(
    prefix: str, prov: str, page: int, footer: list[Button], *, whole_province_label: str
) -> list[list[Button]]:
    """Kab/kota of ``prov``; first a button for the whole province, labelled by the caller."""
    cb = CallbackData(prefix)
    chunk, page, pages = _page(regions.kabkota(prov), page)
    province = regions.get(prov)
    kb = [[Button(whole_province_label.format(province=province.short if province else prov), cb("r", prov))]]
    kb += rows([Button(k.short, cb("r", k.code)) for k in chunk], 2)
    if nav := _pager(cb, "kp", page, pages, prov):
        kb.append(nav)
    kb.append(footer)
    return kb
