"""Numbered choices on channels without buttons (console, WhatsApp): a digit is a button only at a step that
asks for a choice, and only for the message still on screen (review C8, walkthrough 5, 10, 16).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.channels.console import render
from bot.channels.whatsapp import render_whatsapp
from bot.core.model import Button, Reply
from bot.storage.models import Conversation
from bot.texts import t
from tests.channels.whatsapp.conftest import FAST, WhatsAppHarness, whatsapp_settings
from tests.handlers.tips.conftest import TipConsole, code_of
from tests.support.fakes.twilio_server import FakeTwilioServer
from tests.support.helpers import ConsoleHarness


@pytest.fixture
async def wa(make_settings: Any) -> AsyncIterator[WhatsAppHarness]:
    server = FakeTwilioServer()
    await server.start()
    harness = WhatsAppHarness(make_settings(rate_limits=FAST, **whatsapp_settings(server)), server)
    try:
        await harness.start()
        yield harness
    finally:
        await harness.stop()
        await server.stop()


async def test_digit_answering_tanya_pelapor_stays_text(tipcon: TipConsole) -> None:
    code = code_of(await tipcon.tip())
    tip = await tipcon.tip_by_code(code)
    await tipcon.send(callback=f"tip:ask:{tip.id}", user="anggota", group=True)
    await tipcon.send("Berapa orang ASN yang hadir?", user="anggota", group=True)
    await tipcon.send(callback="tip:askok", user="anggota", group=True)  # the console group confirms first
    prompt = await tipcon.send(f"/jawab {code}")
    assert "Batal" in render(prompt[-1]) and "1." not in render(prompt[-1])  # typed as a word, not a number
    mark = tipcon.mark()
    await tipcon.send("1")  # the honest answer: one person
    relayed = [r.text for r in tipcon.to("console-group", mark)]
    assert len(relayed) == 1 and relayed[0].endswith("\n\n1")


async def _draft(h: TipConsole) -> dict[str, Any]:
    async with h.rt.services.sessions() as s:
        conv = await s.scalar(select(Conversation).where(Conversation.flow == "lapor"))
    assert conv is not None
    return conv.data


async def test_digit_at_a_text_step_of_lapor_is_the_answer_and_words_press_buttons(tipcon: TipConsole) -> None:
    await tipcon.send("/lapor")
    await tipcon.send("Kukar")
    await tipcon.send(callback="lapor:c:medsos")
    step4 = await tipcon.send("1")  # "who": an odd answer, but text, not the first button (Lewati)
    assert "Langkah 4/6" in tipcon.text(step4)
    assert (await _draft(tipcon))["who"] == "1"
    back = await tipcon.send("kembali")  # a button typed as its label word
    assert "Langkah 3/6" in tipcon.text(back)
    skipped = await tipcon.send("lewati")  # the Lewati button, not a person called "lewati"
    assert "Langkah 4/6" in tipcon.text(skipped)
    assert (await _draft(tipcon)).get("who", "") == ""


async def test_old_choices_do_not_outlive_their_message(console: ConsoleHarness) -> None:
    menu = await console.say("/langganan")
    assert "1." in console.text(menu)
    await console.say("/batal")  # the next message has no buttons: the old ones are gone
    out = await console.say("1")
    assert not [b for r in out for row in r.buttons for b in row if b.data.startswith("sub:")]  # not restarted


async def test_out_of_range_number_gets_a_clear_reply(console: ConsoleHarness) -> None:
    menu = await console.say("/langganan")
    n = sum(len(row) for row in menu[-1].buttons)
    out = await console.say(str(n + 5))
    assert console.text(out) == t("choice.out_of_range", n=n + 5, max=n)
    out = await console.say("0")
    assert console.text(out) == t("choice.out_of_range", n=0, max=n)
    again = await console.say("1")  # the menu is still current after the hint
    assert console.text(again) != t("choice.out_of_range", n=1, max=n)
    assert "choice" not in console.text(again)


async def test_whatsapp_digit_answer_stays_text(wa: WhatsAppHarness) -> None:
    await wa.say("/lapor Kukar")
    [body] = await wa.press("Media sosial")
    assert "Langkah 3/6" in body
    [body] = await wa.say("2")  # two people, typed at the "who" step
    assert "Langkah 4/6" in body and "Balas 1" not in body


def test_rendering_of_a_text_step_lists_words() -> None:
    reply = Reply(text="Tulis jawaban", buttons=[[Button("⬅️ Kembali", "x:b"), Button("✖️ Batal", "x:c")]],
                  text_input=True)
    assert render(reply).endswith(t("choice.type_words", words="Kembali, Batal"))
    assert "Balas 1" not in render_whatsapp(reply)
    choice = Reply(text="Pilih", buttons=[[Button("A", "x:a")], [Button("B", "x:b")]])
    assert "  1. A" in render(choice) and "Balas 1 atau 2" in render_whatsapp(choice)


def test_payload_keeps_the_text_input_flag() -> None:
    reply = Reply(text="x", buttons=[[Button("Batal", "x:c")]], text_input=True)
    assert Reply.from_payload(reply.to_payload()).text_input
    assert "text_input" not in Reply(text="y").to_payload()


async def test_fresh_chat_with_no_menu_treats_numbers_as_text(make_settings: Any) -> None:
    h = ConsoleHarness(make_settings(console_admin=False), user_id="baru")
    try:
        out = await h.say("7")
        assert h.text(out) != t("choice.out_of_range", n=7, max=1)
    finally:
        await h.close()
