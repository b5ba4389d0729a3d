"""A reporter's answer typed as the next message after Bawaslu's question (no Jawab, no /jawab, no reply).

It is offered, never relayed on its own: "Apakah ini jawaban …?" with Ya, kirim / Bukan / Batal. Until the
reporter chooses it is nowhere but in their conversation state — not in the admins' unanswered list. No offer
without an open question: none asked, already answered, too old, after /hapus, for another chat.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.channels.console import CONSOLE_GROUP_CHAT
from bot.core.clock import set_clock, utcnow
from bot.core.model import Reply
from bot.storage.models import Conversation, TipEvent, UnansweredQuestion
from bot.texts import html_t, t
from handlers.tips import store
from handlers.tips.relay import TYPED_FLOW
from tests.handlers.tips.conftest import TipConsole, code_of

MEMBER = "anggota-5512"
OFFER_BUTTONS = ["tipketik:ok", "tipketik:faq", "tipketik:x"]
FAQ_QUESTION = "pns boleh ngelike foto paslon di instagram ga sih"  # the KB answers it (no unanswered row)
UNKNOWN = "kapan jadwal pelantikan bupati terpilih di kukar"  # the KB cannot: an unanswered row
FAQ_STATEMENT = "pns ngelike foto paslon di instagram"  # no question word, and the KB answers it


async def _tip(h: TipConsole, user: str = "pelapor") -> tuple[str, int]:
    code = code_of(await h.tip(user=user))
    return code, (await h.tip_by_code(code)).id


async def _ask(h: TipConsole, tip_id: int, question: str = "Jam berapa tepatnya?") -> None:
    """A group member asks the reporter (console: the confirm step), as in test_relay."""
    await h.send(callback=f"tip:ask:{tip_id}", user=MEMBER, group=True)
    await h.send(question, user=MEMBER, group=True)
    await h.send(callback="tip:askok", user=MEMBER, group=True)


def _offer(code: str, text: str) -> str:
    return t("tips.typed_offer", code=code, text=text)


def _buttons(reply: Reply) -> list[str]:
    return [b.data for row in reply.buttons for b in row]


async def _unanswered(h: TipConsole) -> list[str]:
    async with h.rt.services.sessions() as s:
        return list((await s.scalars(select(UnansweredQuestion.text))).all())


async def _faq_texts(h: TipConsole, text: str) -> list[str]:
    """What the FAQ answers ``text`` for someone with no question open (the same catalogue answer)."""
    return [r.text for r in await h.send(text, user="warga-lain")]


async def _flows(h: TipConsole) -> list[tuple[str | None, dict[str, object]]]:
    async with h.rt.services.sessions() as s:
        return [(c.flow, dict(c.data)) for c in (await s.scalars(select(Conversation))).all()
                if c.flow == TYPED_FLOW]


async def test_a_typed_answer_is_offered_and_relayed_on_confirmation(tipcon: TipConsole) -> None:
    code, tip_id = await _tip(tipcon)
    await _ask(tipcon, tip_id)
    mark = tipcon.mark()
    r = await tipcon.send("Sekitar jam 10 <pagi>")
    assert [x.text for x in r] == [_offer(code, "Sekitar jam 10 <pagi>")]
    assert t("tips.typed_offer", code=code, text="").startswith(
        f"Apakah ini jawaban untuk pertanyaan Bawaslu tentang laporan {code}?")
    assert _buttons(r[-1]) == OFFER_BUTTONS
    assert not tipcon.to(CONSOLE_GROUP_CHAT, mark)  # nothing leaves before the confirmation
    assert await _unanswered(tipcon) == []
    assert [f[1]["text"] for f in await _flows(tipcon)] == ["Sekitar jam 10 <pagi>"]  # held in the state only
    before = tipcon.mark()
    await tipcon.send("1")  # the console's numbered choice: "Ya, kirim sebagai jawaban"
    assert [g.text for g in tipcon.to(CONSOLE_GROUP_CHAT, mark)] == [
        html_t("group.answer", code=code, answer="Sekitar jam 10 <pagi>")]  # exactly as a Jawab answer
    assert [x.text for x in tipcon.to("pelapor", before)] == [t("tips.answer_sent", code=code)]
    assert await _unanswered(tipcon) == [] and await _flows(tipcon) == []
    async with tipcon.rt.services.sessions() as s:
        kinds = (await s.scalars(select(TipEvent.kind).where(TipEvent.tip_id == tip_id).order_by(TipEvent.id))).all()
    assert kinds == ["status", "question", "answer"]
    # answered: the next message is an ordinary FAQ question again
    assert [x.text for x in await tipcon.send(FAQ_STATEMENT)] == await _faq_texts(tipcon, FAQ_STATEMENT)


async def test_more_text_joins_the_offered_answer(tipcon: TipConsole) -> None:
    """WhatsApp users split a message: a second one before the choice is part of the same answer."""
    code, tip_id = await _tip(tipcon)
    await _ask(tipcon, tip_id)
    await tipcon.send("Sekitar jam 10 pagi")
    r = await tipcon.send("di ruang rapat lantai 2")
    assert [x.text for x in r] == [_offer(code, "Sekitar jam 10 pagi\ndi ruang rapat lantai 2")]
    assert _buttons(r[-1]) == OFFER_BUTTONS
    mark = tipcon.mark()
    await tipcon.send(callback="tipketik:ok")
    assert [g.text for g in tipcon.to(CONSOLE_GROUP_CHAT, mark)] == [
        html_t("group.answer", code=code, answer="Sekitar jam 10 pagi\ndi ruang rapat lantai 2")]


async def test_bukan_gives_the_normal_faq_answer(tipcon: TipConsole) -> None:
    code, tip_id = await _tip(tipcon)
    await _ask(tipcon, tip_id)
    mark = tipcon.mark()
    r = await tipcon.send(FAQ_STATEMENT)
    assert [x.text for x in r] == [_offer(code, FAQ_STATEMENT)]
    r = await tipcon.send("2")  # "Bukan, ini pertanyaan lain"
    assert [x.text for x in r] == await _faq_texts(tipcon, FAQ_STATEMENT)
    assert r[0].text.startswith(t("faq.verdict.tidak"))
    # an unknown question goes where it went before: the admins' list
    await tipcon.send(UNKNOWN)
    await tipcon.send(callback="tipketik:faq")
    assert await _unanswered(tipcon) == [UNKNOWN]
    assert not tipcon.to(CONSOLE_GROUP_CHAT, mark) and await _flows(tipcon) == []


async def test_batal_drops_the_text_and_the_question_stays_open(tipcon: TipConsole) -> None:
    code, tip_id = await _tip(tipcon)
    await _ask(tipcon, tip_id)
    mark = tipcon.mark()
    await tipcon.send("salah ketik")
    r = await tipcon.send("3")
    assert [x.text for x in r] == [t("tips.typed_dropped")]
    assert await _flows(tipcon) == [] and await _unanswered(tipcon) == []
    r = await tipcon.send(callback="tipketik:ok")  # a stale press sends nothing
    assert [x.text for x in r] == [t("tips.typed_gone")]
    await tipcon.send("Sekitar jam 10")
    r = await tipcon.send("batal")  # a cancel word too
    assert [x.text for x in r] == [t("tips.typed_dropped")]
    assert not tipcon.to(CONSOLE_GROUP_CHAT, mark)
    assert [x.text for x in await tipcon.send("Jam 10")] == [_offer(code, "Jam 10")]  # still unanswered


async def test_a_command_or_another_button_drops_the_offer(tipcon: TipConsole) -> None:
    code, tip_id = await _tip(tipcon)
    await _ask(tipcon, tip_id)
    await tipcon.send("Jam 10")
    r = await tipcon.send(f"/status {code}")
    assert r[0].text == t("tips.typed_dropped") and ("Laporan " + code) in r[-1].text
    assert await _flows(tipcon) == []
    # the question's own Jawab button is no other button: it starts the answer, without the "dropped" line
    await tipcon.send("Jam 10")
    r = await tipcon.send(callback=f"tip:ans:{tip_id}")
    assert [x.text for x in r] == [t("tips.ask_answer", code=code, max=tipcon.rt.settings.tips.max_text_chars)]
    mark = tipcon.mark()
    await tipcon.send("Jam sepuluh")
    assert [g.text for g in tipcon.to(CONSOLE_GROUP_CHAT, mark)] == [
        html_t("group.answer", code=code, answer="Jam sepuluh")]


async def test_no_offer_without_an_open_question(tipcon: TipConsole) -> None:
    _code, tip_id = await _tip(tipcon)
    assert [x.text for x in await tipcon.send(FAQ_STATEMENT)] == await _faq_texts(tipcon, FAQ_STATEMENT)
    await _ask(tipcon, tip_id)
    # the question went to the reporter's chat only: another chat (even with a tip of its own) gets the FAQ
    await _tip(tipcon, user="pelapor-lain")
    r = await tipcon.send(FAQ_STATEMENT, user="pelapor-lain")
    assert [x.text for x in r] == await _faq_texts(tipcon, FAQ_STATEMENT)
    # a cancel word is never an answer
    assert [x.text for x in await tipcon.send("batal")] == [x.text for x in await tipcon.send("batal", user="x")]
    assert await _flows(tipcon) == []


async def test_no_offer_once_the_question_was_answered_with_jawab(tipcon: TipConsole) -> None:
    code, tip_id = await _tip(tipcon)
    await _ask(tipcon, tip_id)
    await tipcon.send(f"/jawab {code}")
    await tipcon.send("Jam 10")
    assert [x.text for x in await tipcon.send(FAQ_STATEMENT)] == await _faq_texts(tipcon, FAQ_STATEMENT)
    await _ask(tipcon, tip_id, "Siapa saksinya?")  # a new question is open again
    assert [x.text for x in await tipcon.send("Pak Andi")] == [_offer(code, "Pak Andi")]


async def test_no_offer_after_the_window(tipcon: TipConsole) -> None:
    code, tip_id = await _tip(tipcon)
    await _ask(tipcon, tip_id)
    hours = tipcon.rt.settings.tips.typed_answer_hours
    assert hours == 72  # the default of [tips] typed_answer_hours
    start = utcnow()
    set_clock(lambda: start + timedelta(hours=hours) - timedelta(minutes=1))
    assert [x.text for x in await tipcon.send("Jam 10")] == [_offer(code, "Jam 10")]  # just within
    await tipcon.send(callback="tipketik:x")
    set_clock(lambda: start + timedelta(hours=hours, minutes=1))
    assert [x.text for x in await tipcon.send(FAQ_STATEMENT)] == await _faq_texts(tipcon, FAQ_STATEMENT)


async def test_an_offer_left_open_too_long_is_not_sent(tipcon: TipConsole) -> None:
    code, tip_id = await _tip(tipcon)
    await _ask(tipcon, tip_id)
    await tipcon.send("Jam 10")
    start, hours = utcnow(), tipcon.rt.settings.tips.typed_answer_hours
    set_clock(lambda: start + timedelta(hours=hours, minutes=1))
    mark = tipcon.mark()
    r = await tipcon.send("1")
    assert [x.text for x in r] == [t("tips.typed_expired", code=code)]
    assert not tipcon.to(CONSOLE_GROUP_CHAT, mark)
    # more text into an offer that old: the old one is dropped, the new text taken afresh (no question open now)
    set_clock(None)
    await tipcon.send("Jam 10")
    set_clock(lambda: start + timedelta(hours=hours, minutes=1))
    r = await tipcon.send(FAQ_STATEMENT)
    assert [x.text for x in r] == await _faq_texts(tipcon, FAQ_STATEMENT) and await _flows(tipcon) == []


async def test_no_offer_after_hapus(tipcon: TipConsole) -> None:
    code, tip_id = await _tip(tipcon)
    await _ask(tipcon, tip_id)
    await tipcon.send("Jam 10")  # an offer is open: /hapus drops it
    r = await tipcon.send(f"/hapus {code}")
    assert r[0].text == t("tips.typed_dropped")
    await tipcon.send(callback=f"hapus:ok:{tip_id}")
    assert await _flows(tipcon) == []
    identity = tipcon.rt.services.identity
    async with tipcon.rt.services.sessions() as s:
        assert await store.open_question(s, identity.key("addr", "console", "pelapor"),
                                         identity.key("reporter", "console", "pelapor"),
                                         utcnow() - timedelta(days=30)) is None
    mark = tipcon.mark()
    assert [x.text for x in await tipcon.send(FAQ_STATEMENT)] == await _faq_texts(tipcon, FAQ_STATEMENT)
    assert not tipcon.to(CONSOLE_GROUP_CHAT, mark)


async def test_several_open_questions_offer_the_newest(tipcon: TipConsole) -> None:
    old_code, old_id = await _tip(tipcon)
    new_code, new_id = await _tip(tipcon)
    await _ask(tipcon, new_id, "Siapa saksinya?")
    await _ask(tipcon, old_id, "Jam berapa?")  # asked last: the newest question
    assert [x.text for x in await tipcon.send("Jam 10")] == [_offer(old_code, "Jam 10")]
    mark = tipcon.mark()
    await tipcon.send(callback="tipketik:ok")
    assert [g.text for g in tipcon.to(CONSOLE_GROUP_CHAT, mark)] == [
        html_t("group.answer", code=old_code, answer="Jam 10")]
    assert [x.text for x in await tipcon.send("Pak Andi")] == [_offer(new_code, "Pak Andi")]  # the other one


async def test_the_purge_ends_an_open_offer(tipcon: TipConsole) -> None:
    """The held text is the reporter's own words about the tip: the tip's purge removes it with the rest."""
    code, tip_id = await _tip(tipcon)
    await _ask(tipcon, tip_id)
    await tipcon.send("Jam 10")
    await tipcon.send(callback=f"tip:st:{tip_id}:4", user=MEMBER, group=True)  # closed: purge scheduled
    purge_after = (await tipcon.tip_by_code(code)).purge_after
    assert purge_after is not None and await _flows(tipcon)
    async with tipcon.rt.services.sessions() as s, s.begin():
        assert await store.purge_expired(s, purge_after + timedelta(hours=1), tipcon.rt.services.identity) == 1
    assert await _flows(tipcon) == []


async def test_a_too_long_text_is_neither_offered_nor_kept(tipcon: TipConsole) -> None:
    code, tip_id = await _tip(tipcon)
    await _ask(tipcon, tip_id)
    limit = tipcon.rt.settings.tips.max_text_chars
    mark = tipcon.mark()
    r = await tipcon.send("x" * (limit + 1))
    assert [x.text for x in r] == [t("tips.text_too_long", n=limit + 1, max=limit)]
    assert await _flows(tipcon) == [] and await _unanswered(tipcon) == []
    # more text that would make the held one too long: refused, the held text offered as it was
    first = "a" * (limit - 10)
    await tipcon.send(first)
    r = await tipcon.send("b" * 20)
    assert [x.text for x in r] == [t("tips.text_too_long", n=limit + 11, max=limit), _offer(code, first)]
    assert _buttons(r[-1]) == OFFER_BUTTONS  # the choices stay on screen
    await tipcon.send(callback="tipketik:ok")
    assert [g.text for g in tipcon.to(CONSOLE_GROUP_CHAT, mark)] == [
        html_t("group.answer", code=code, answer=first)]


async def test_a_number_typed_as_the_answer_is_offered_not_read_as_a_choice(tipcon: TipConsole) -> None:
    """The question carries the Jawab button, but it waits for text: "15" (a bare number, e.g. "Jam berapa?")
    is the answer offered, not "Pilihan 15 tidak ada"; "Jawab" typed as a word still starts the Jawab answer."""
    code, tip_id = await _tip(tipcon)
    await _ask(tipcon, tip_id, "Ada berapa orang?")
    r = await tipcon.send("15")
    assert r[-1].text == _offer(code, "15") and _buttons(r[-1]) == OFFER_BUTTONS
    mark = tipcon.mark()
    await tipcon.send(callback="tipketik:ok")
    assert [x.text for x in tipcon.to(CONSOLE_GROUP_CHAT, mark) if code in x.text and "15" in x.text]
    await _ask(tipcon, tip_id, "Siapa saja?")
    r = await tipcon.send("jawab")
    assert "Tulis jawaban" in r[-1].text


async def test_a_question_of_its_own_goes_to_the_faq_without_the_offer(tipcon: TipConsole) -> None:
    """While a question is open, a text that is itself a question ("…?", "boleh…", "apakah…") asks, it does not
    answer: the FAQ answers it at once (and no open question is looked up for it); a statement is offered."""
    code, tip_id = await _tip(tipcon)
    await _ask(tipcon, tip_id)
    for question in (FAQ_QUESTION, "apakah saya perlu datang ke kantor bawaslu", "bolehkah saya kirim foto lagi?"):
        r = await tipcon.send(question)
        assert [x.text for x in r] == await _faq_texts(tipcon, question), question
    r = await tipcon.send("dia datang jam 10")
    assert [x.text for x in r] == [_offer(code, "dia datang jam 10")]
