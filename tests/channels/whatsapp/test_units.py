"""Pure functions of the WhatsApp channel: webhook → Incoming, rendering, splitting, template variables."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.channels.whatsapp import (
    MAX_VARIABLE_CHARS,
    render_whatsapp,
    split_text,
    template_variable,
    to_incoming,
)
from bot.core.model import Button, Reply
from tests.channels.whatsapp.conftest import NUMBER, PROFILE_NAME, USER, secrets_of
from tests.support.fakes.twilio_server import build_inbound


def _params(**kw: object) -> dict[str, str]:
    args: dict[str, object] = {"from_": USER, "profile_name": PROFILE_NAME, **kw}
    params, _headers = build_inbound("https://x.test/whatsapp", "t" * 32, **args)  # type: ignore[arg-type]
    return params


def test_incoming_carries_the_number_only() -> None:
    inc = to_incoming(_params(body="Halo"))
    assert inc is not None
    assert inc.channel == "whatsapp" and inc.chat_id == inc.user_id == NUMBER and inc.chat_type == "private"
    assert inc.text == "Halo" and inc.update_key and inc.update_key.startswith("SM")
    assert PROFILE_NAME not in repr(inc) and PROFILE_NAME.split()[-1] not in repr(inc)
    assert "WaId" not in repr(inc)


def test_keywords_map_to_commands() -> None:
    for body, command in [("STOP", "berhenti"), (" berhenti ", "berhenti"), ("Start", "mulai"),
                          ("MULAI", "mulai"), ("stop dulu", None)]:
        inc = to_incoming(_params(body=body))
        assert inc is not None and inc.command == command, body


def test_media_kinds_and_non_whatsapp_senders() -> None:
    inc = to_incoming(_params(body="", media=[("https://api.twilio.com/m/1", "image/jpeg"),
                                             ("https://api.twilio.com/m/2", "audio/ogg"),
                                             ("https://api.twilio.com/m/3", "application/pdf")]))
    assert inc is not None
    assert [(m.kind, m.ref, m.content_type) for m in inc.media] == [
        ("photo", "https://api.twilio.com/m/1", "image/jpeg"),
        ("voice", "https://api.twilio.com/m/2", "audio/ogg"),  # voice notes are refused by the tips flow
        ("document", "https://api.twilio.com/m/3", "application/pdf"),
    ]
    assert to_incoming(_params(from_=NUMBER)) is None  # SMS, not WhatsApp
    long = to_incoming(_params(body="a" * 5000))
    assert long is not None and long.truncated and len(long.text) == 4000


def test_render_numbered_choices_and_bold() -> None:
    reply = Reply(text="<b>Penting</b> &amp; <i>baru</i>", html=True,
                  buttons=[[Button("Ya", "a:1"), Button("Tidak", "a:2")], [Button("Batal", "a:x")]])
    text = render_whatsapp(reply)
    assert text.startswith("*Penting* & _baru_")
    assert "  1. Ya\n  2. Tidak\n  3. Batal" in text
    assert text.endswith("Balas 1, 2 atau 3.")
    assert render_whatsapp(Reply(text="x", buttons=[[Button("Ok", "a:1")]])).endswith("Balas 1.")
    assert render_whatsapp(Reply(text="tanpa tombol")) == "tanpa tombol"


def test_template_variable_is_flat_and_bounded() -> None:
    v = template_variable(Reply(text="Judul\n\n\tisi    panjang\n" + "kata " * 400, buttons=[[Button("A", "a:1")]]))
    assert "\n" not in v and "\t" not in v and "  " not in v
    assert v.startswith("Judul isi panjang kata") and len(v) <= MAX_VARIABLE_CHARS and v.endswith("…")
    assert "1. A" not in v


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(["kata", "panjangsekali" * 20, "\n", "\n\n", " ", "ü", "🙂"]), max_size=400))
def test_split_text_keeps_everything_within_the_limit(tokens: list[str]) -> None:
    text = "".join(tokens)
    parts = split_text(text, limit=300)
    assert all(len(p) <= 300 for p in parts)
    assert "".join("".join(parts).split()) == "".join(text.split())


def test_no_secret_spelling_is_trivially_short() -> None:
    assert all(len(s) >= 8 for s in secrets_of())
