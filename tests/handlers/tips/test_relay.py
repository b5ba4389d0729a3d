"""\"Tanya pelapor\" cannot leak group talk to the reporter, and case actions are accountable.

(Telegram's reply-only rule is in test_telegram_e2e.py; here the console, where a confirm step stands in.)
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from bot.channels.console import CONSOLE_GROUP_CHAT
from bot.storage.models import AuditLog, Conversation
from bot.texts import html_t, t
from handlers.tips.relay import ASK_FLOW
from tests.handlers.tips.conftest import TipConsole, code_of

MEMBER = "anggota-7731"


async def _armed(h: TipConsole) -> tuple[str, int]:
    code = code_of(await h.tip())
    tip = await h.tip_by_code(code)
    r = await h.send(callback=f"tip:ask:{tip.id}", user=MEMBER, group=True)
    assert "Tulis pertanyaan" in r[-1].text
    return code, tip.id


async def _nothing_reaches_the_reporter(h: TipConsole, text: str) -> None:
    mark = h.mark()
    await h.send(text, user=MEMBER, group=True)
    await h.send(callback="tip:askok", user=MEMBER, group=True)  # even a stray confirm press sends nothing
    assert not h.to("pelapor", mark)


async def test_batal_in_the_group_cancels_the_question(tipcon: TipConsole) -> None:
    await _armed(tipcon)
    r = await tipcon.send("/batal", user=MEMBER, group=True)
    assert [x.text for x in r] == [t("group.ask_cancelled")]
    await _nothing_reaches_the_reporter(tipcon, "Siapa saksinya?")


async def test_batal_outside_any_flow_says_so(tipcon: TipConsole) -> None:
    r = await tipcon.send("/batal", user=MEMBER, group=True)
    assert [x.text for x in r] == [t("common.nothing_to_cancel")]
    r = await tipcon.send("/batal")
    assert [x.text for x in r] == [t("common.nothing_to_cancel")]


async def test_any_command_clears_the_question(tipcon: TipConsole) -> None:
    await _armed(tipcon)
    r = await tipcon.send("/statistik", user=MEMBER, group=True)
    assert r[0].text == t("group.ask_cancelled") and "Rekap laporan" in r[-1].text
    await _nothing_reaches_the_reporter(tipcon, "ok siap, nanti sy cek ke lokasi bareng pak andi")


async def test_any_other_button_clears_the_question(tipcon: TipConsole) -> None:
    _, tip_id = await _armed(tipcon)
    mark = tipcon.mark()
    await tipcon.send(callback=f"tip:st:{tip_id}:1", user=MEMBER, group=True)
    r = tipcon.to(CONSOLE_GROUP_CHAT, mark)
    assert r[0].text == t("group.ask_cancelled") and "Sedang ditelaah" in r[-1].text
    await _nothing_reaches_the_reporter(tipcon, "halo semua, rapat jam 3 ya")


async def test_the_question_needs_confirmation_and_can_be_cancelled(tipcon: TipConsole) -> None:
    await _armed(tipcon)
    mark = tipcon.mark()
    r = await tipcon.send("Jam berapa tepatnya?", user=MEMBER, group=True)
    assert r[-1].text == html_t("group.ask_confirm", question="Jam berapa tepatnya?")
    assert not tipcon.to("pelapor", mark)
    r = await tipcon.send(callback="tip:askx", user=MEMBER, group=True)
    assert r[-1].text == t("group.ask_cancelled")
    await _nothing_reaches_the_reporter(tipcon, "Jam berapa tepatnya?")


async def test_the_question_prompt_waits_for_text_so_a_typed_digit_is_the_question(tipcon: TipConsole) -> None:
    """The prompt asks for typed text: its Batal button is typed as the word (as at every text step), and a
    typed "1" is the question, not the Batal button (it cancelled) nor the tip's first status button."""
    code, tip_id = await _armed(tipcon)
    r = await tipcon.send("1", user=MEMBER, group=True)
    assert r[-1].text == html_t("group.ask_confirm", question="1")
    assert (await tipcon.tip_by_code(code)).status == "diterima"
    await tipcon.send(callback="tip:askx", user=MEMBER, group=True)
    await tipcon.send(callback=f"tip:ask:{tip_id}", user=MEMBER, group=True)
    r = await tipcon.send("batal", user=MEMBER, group=True)
    assert r[-1].text == t("group.ask_cancelled")


async def test_the_question_expires(tipcon: TipConsole) -> None:
    await _armed(tipcon)
    minutes = tipcon.rt.settings.tips.ask_timeout_minutes
    async with tipcon.rt.services.sessions() as s, s.begin():
        conv = await s.scalar(select(Conversation).where(Conversation.flow == ASK_FLOW))
        assert conv is not None
        since = datetime.fromisoformat(conv.data["since"]) - timedelta(minutes=minutes, seconds=1)
        conv.data = {**conv.data, "since": since.isoformat()}
    mark = tipcon.mark()
    r = await tipcon.send("ini obrolan biasa", user=MEMBER, group=True)
    assert r[-1].text == t("group.ask_expired")
    await tipcon.send(callback="tip:askok", user=MEMBER, group=True)
    assert not tipcon.to("pelapor", mark)


async def test_status_changes_and_questions_are_audited_with_a_pseudonym(tipcon: TipConsole) -> None:
    code, tip_id = await _armed(tipcon)
    await tipcon.send("Jam berapa?", user=MEMBER, group=True)
    mark = tipcon.mark()
    await tipcon.send(callback="tip:askok", user=MEMBER, group=True)
    await tipcon.send(callback=f"tip:st:{tip_id}:2", user=MEMBER, group=True)
    await tipcon.send(callback=f"tip:st:{tip_id}:3", user="anggota-lain", group=True)
    async with tipcon.rt.services.sessions() as s:
        log = (await s.scalars(select(AuditLog).order_by(AuditLog.id))).all()
    assert [(a.action, a.detail.get("tip_id")) for a in log] == [
        ("tip.question", tip_id), ("tip.status", tip_id), ("tip.status", tip_id)]
    assert log[1].detail["old"] == "diterima" and log[1].detail["new"] == "ditindaklanjuti"
    assert log[0].actor == log[1].actor != log[2].actor  # one member did both; another did the last
    assert all(a.actor.startswith("anggota:") and MEMBER not in a.actor and "7731" not in a.actor for a in log)
    to_reporter = " ".join(str(r.to_payload()) for r in tipcon.to("pelapor", mark))
    assert to_reporter and "7731" not in to_reporter and log[0].actor.split(":")[1] not in to_reporter
    assert code in to_reporter


async def test_reopening_a_closed_case_asks_first(tipcon: TipConsole) -> None:
    code, tip_id = await _armed(tipcon)
    await tipcon.send("/batal", user=MEMBER, group=True)
    await tipcon.send(callback=f"tip:st:{tip_id}:4", user=MEMBER, group=True)  # Selesai
    mark = tipcon.mark()
    r = await tipcon.send(callback=f"tip:st:{tip_id}:0", user=MEMBER, group=True)
    assert "sudah ditutup" in r[-1].text and not tipcon.to("pelapor", mark)
    assert [b.data for row in r[-1].buttons for b in row] == [f"tip:re:{tip_id}:0", "tip:rex"]
    assert (await tipcon.tip_by_code(code)).status == "selesai"
    r = await tipcon.send(callback="tip:rex", user=MEMBER, group=True)
    assert r[-1].text == t("group.reopen_cancelled") and (await tipcon.tip_by_code(code)).status == "selesai"
    await tipcon.send(callback=f"tip:st:{tip_id}:0", user=MEMBER, group=True)
    r = await tipcon.send(callback=f"tip:re:{tip_id}:0", user=MEMBER, group=True)
    reopened = await tipcon.tip_by_code(code)
    assert reopened.status == "diterima" and reopened.purge_after is None
    assert [x.text for x in tipcon.to("pelapor", mark)] == [
        t("tips.status_notice", code=code, status=t("tips.status.diterima"))]
    # a closed status to another closed status needs no confirmation
    await tipcon.send(callback=f"tip:st:{tip_id}:4", user=MEMBER, group=True)
    r = await tipcon.send(callback=f"tip:st:{tip_id}:3", user=MEMBER, group=True)
    assert (await tipcon.tip_by_code(code)).status == "tidak_dapat"


async def test_a_typed_number_at_the_question_step_changes_no_status(tipcon: TipConsole) -> None:
    """Walkthrough 5: "1" typed as the question used to press the tip's first status button (numbered choices)."""
    code, tip_id = await _armed(tipcon)
    await tipcon.send(callback=f"tip:st:{tip_id}:1", user="anggota-lain", group=True)  # Sedang ditelaah
    await _armed_again(tipcon, code)
    mark = tipcon.mark()
    await tipcon.send("1", user=MEMBER, group=True)  # button 1 of the tip message would be "Diterima"
    assert (await tipcon.tip_by_code(code)).status == "ditelaah" and not tipcon.to("pelapor", mark)


async def _armed_again(h: TipConsole, code: str) -> None:
    tip = await h.tip_by_code(code)
    r = await h.send(callback=f"tip:ask:{tip.id}", user=MEMBER, group=True)
    assert "Tulis pertanyaan" in r[-1].text


async def test_kasus_shows_a_tips_buttons_again_so_an_older_tip_can_be_acted_on(tipcon: TipConsole) -> None:
    """In the console group only the last message's choices can be typed: after a second tip arrived (or a status
    confirmation without buttons), /kasus KODE brings the first tip's buttons back, and typed numbers act on it."""
    first = code_of(await tipcon.tip())
    second = code_of(await tipcon.tip(what="Kepala desa memasang baliho paslon"))
    r = await tipcon.send(f"/kasus {first.lower()}", user=MEMBER, group=True)
    assert first in r[-1].text and "Diterima" in r[-1].text
    tip = await tipcon.tip_by_code(first)
    assert [b.data for row in r[-1].buttons for b in row][:2] == [f"tip:st:{tip.id}:0", f"tip:st:{tip.id}:1"]
    r = await tipcon.send("2", user=MEMBER, group=True)  # typed: the second choice of /kasus's message
    assert "Sedang ditelaah" in r[-1].text and first in r[-1].text
    assert (await tipcon.tip_by_code(first)).status == "ditelaah"
    assert (await tipcon.tip_by_code(second)).status == "diterima"
    r = await tipcon.send("/kasus", user=MEMBER, group=True)
    assert r[-1].text == t("group.kasus_usage")
    r = await tipcon.send("/kasus JN-0000-0000", user=MEMBER, group=True)
    assert r[-1].text == t("group.tip_not_found")
