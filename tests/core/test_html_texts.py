"""HTML catalog texts are escaped by construction: marked keys, html_t, and a Context that refuses hand-made HTML."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from markupsafe import Markup

from bot.core.context import Context, FlowState
from bot.core.model import Incoming, Reply
from bot.texts import HTML_KEYS, TEXTS, html_t, t

_TAG = re.compile(r"</?(?:b|i|u|s|code|pre|a)\b[^>]*>")


def test_every_text_with_markup_is_marked_html() -> None:
    with_tags = {k for k, v in TEXTS.items() if _TAG.search(v) or "&amp;" in v}
    assert with_tags and with_tags <= HTML_KEYS  # plus fragments inserted into them (link rows, stats rows)
    assert set(TEXTS) >= HTML_KEYS


def test_html_t_escapes_every_field_and_t_refuses_html_keys() -> None:
    out = html_t("group.answer", code="JN-<x>", answer='<b>tebal</b> & "kutip"')
    assert isinstance(out, Markup)
    assert "&lt;b&gt;tebal&lt;/b&gt; &amp; &#34;kutip&#34;" in out and "<code>JN-&lt;x&gt;</code>" in out
    nested = html_t("group.links", rows=html_t("group.link_row", label="<X>", url="https://a.b/?q=<1>"))
    assert "[&lt;X&gt;]" in nested and "q=&lt;1&gt;" in nested and "&amp;lt;" not in nested  # not twice
    with pytest.raises(KeyError):
        t("group.answer", code="x", answer="y")
    with pytest.raises(KeyError):
        html_t("tips.cancelled")


def test_a_hand_made_html_reply_is_refused() -> None:
    ctx = Context(incoming=Incoming(channel="console", chat_id="c", user_id="u"), session=Any,  # type: ignore[arg-type]
                  state=FlowState(), services=Any, now=datetime.now(UTC))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ctx.reply(Reply(text="<b>" + "nama terlapor" + "</b>", html=True))
    ctx.reply(Reply(text=html_t("group.ask_sent", code="JN-1"), html=True))
    ctx.reply("teks biasa <b> tidak diurai")
    assert len(ctx.replies) == 2
