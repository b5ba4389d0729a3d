"""The FAQ through the real handler and core (console channel, SQLite and PostgreSQL): the first line of
the reply in each band, intents, what is logged as unanswered, and the admins' /pertanyaan."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.core.model import Incoming, Reply
from bot.storage.models import AuditLog, UnansweredQuestion
from bot.texts import t
from faq import Thresholds, default_matcher
from faq.decision import resolve
from faq.kb import VERDICTS

LIKE = "boleh gak like postingan paslon di IG?"
LABELS = [t(f"faq.verdict.{v}") for v in VERDICTS]


def first_line(replies: list[Reply]) -> str:
    assert len(replies) == 1, replies
    return replies[0].text.splitlines()[0]


def button_data(replies: list[Reply]) -> list[str]:
    return [b.data for r in replies for row in r.buttons for b in row]


def has_label(replies: list[Reply]) -> bool:
    return any(label in r.text for r in replies for label in LABELS)


async def unanswered(console: Any) -> list[UnansweredQuestion]:
    async with console.rt.services.sessions() as s:
        return list(await s.scalars(select(UnansweredQuestion).order_by(UnansweredQuestion.id)))


@pytest.fixture
def scores() -> tuple[float, float]:
    ranked = default_matcher().rank(LIKE)
    return ranked[0][1], ranked[1][1]


@pytest.fixture
def thresholds(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Set the matcher's thresholds (data, as if ``faq/thresholds.toml`` said so) for one test."""

    def set_(th: Thresholds) -> None:
        monkeypatch.setattr(default_matcher(), "thresholds", th)

    return set_


# --- bands -------------------------------------------------------------------------------------------
async def test_clear_band_starts_with_the_verdict_label(console: Any) -> None:
    res = resolve(LIKE)
    assert res.band == "clear", res
    entry = default_matcher().kb.entries[res.match.id or ""]
    replies = await console.say(LIKE)
    assert first_line(replies) == t(f"faq.verdict.{entry.verdict}")
    # every related topic the answer lists has its button (walkthrough 15)
    assert {f"faq:{r}" for r in entry.related} <= set(button_data(replies))
    assert await unanswered(console) == []


async def test_uncertain_band_suggests_without_a_label_until_one_is_picked(
    console: Any, thresholds: Any, scores: tuple[float, float]
) -> None:
    best, _ = scores
    thresholds(Thresholds(answer=best + 0.01, margin=0.01, suggest=best - 0.01))
    replies = await console.say(LIKE)
    assert first_line(replies) == t("faq.suggest")
    assert not has_label(replies)
    data = button_data(replies)
    assert 2 <= len(data) <= 3 and all(d.startswith("faq:") for d in data)
    picked = await console.say("1")  # the first candidate
    entry = default_matcher().kb.entries[data[0].partition(":")[2]]
    assert first_line(picked) == t(f"faq.verdict.{entry.verdict}")
    assert await unanswered(console) == []


async def test_weak_band_suggests_and_logs(console: Any, thresholds: Any, scores: tuple[float, float]) -> None:
    best, _ = scores
    thresholds(Thresholds(answer=best + 0.05, margin=0.05, suggest=best + 0.01))  # hints from best - 0.09
    replies = await console.say(LIKE)
    assert first_line(replies) == t("faq.suggest")
    assert t("faq.weak_note") in replies[0].text
    assert not has_label(replies)
    assert "faq:medsos-like" in button_data(replies)
    assert [q.text for q in await unanswered(console)] == [LIKE]


async def test_none_band_is_honest_and_logs(console: Any, thresholds: Any) -> None:
    thresholds(Thresholds(answer=1.5, margin=0.01, suggest=1.4))
    replies = await console.say(LIKE)
    assert first_line(replies) == t("faq.none")
    assert replies[0].buttons == []
    assert [q.text for q in await unanswered(console)] == [LIKE]


async def test_one_word_gets_suggestions_not_a_verdict(console: Any) -> None:
    replies = await console.say("kampanye")
    assert first_line(replies) == t("faq.suggest") and not has_label(replies)


async def test_runner_up_is_offered_below_a_clear_answer(console: Any, thresholds: Any) -> None:
    # walkthrough 6: the right entry was the runner-up and was not offered
    question = "pppk paruh waktu wajib netral ga"
    ranked = default_matcher().rank(question)
    (best_id, best), (_, second) = ranked[0], ranked[1]
    thresholds(Thresholds(answer=best - 0.01, margin=(best - second) / 2, suggest=ranked[2][1] - 0.01))
    # the runner-up offered: the first after the best that is about the person the question names (the label
    # guard leaves out pppk-pasangan-calon, about a PPPK whose spouse runs; tests/faq/test_label_guard.py)
    offered = default_matcher().match(question).suggestions
    assert offered and offered[0] in {i for i, _ in ranked[1:3]}
    second_id = offered[0]
    replies = await console.say(question)
    entry = default_matcher().kb.entries[best_id]
    assert first_line(replies) == t(f"faq.verdict.{entry.verdict}")
    kb = default_matcher().kb
    if second_id not in entry.related:
        assert t("faq.or_maybe", topics=kb.entries[second_id].title) in replies[0].text
    assert f"faq:{second_id}" in button_data(replies)


# --- intents -----------------------------------------------------------------------------------------
async def test_lapor_intent_offers_the_report_flow(console: Any) -> None:
    replies = await console.say("saya mau lapor")
    assert replies[0].text == t("intent.lapor")
    assert button_data(replies)[0] == "faqgo:lapor"
    started = await console.press(t("button.start_report"), replies)
    assert first_line(started) == t("tips.intro").splitlines()[0]
    assert await unanswered(console) == []


async def test_report_question_answered_by_the_faq_also_offers_the_flow(console: Any) -> None:
    replies = await console.say("boleh gak lapor atasan yang kampanye")
    assert first_line(replies) in LABELS  # the knowledge base answers it
    assert "faqgo:lapor" in button_data(replies)


@pytest.mark.parametrize(
    ("text", "key"),
    [("halo", "intent.greeting"), ("pagi min", "intent.greeting"), ("makasih", "intent.thanks"),
     ("terima kasih banyak", "intent.thanks"), ("🙏", "intent.thanks")],
)
async def test_greetings_and_thanks_get_a_short_reply_and_are_not_logged(console: Any, text: str, key: str) -> None:
    replies = await console.say(text)
    assert replies[0].text == t(key)
    assert await unanswered(console) == []


@pytest.mark.parametrize(
    ("text", "key"),
    [("cara daftar cpns", "intent.scope_asn"), ("gaji pppk berapa", "intent.scope_asn"),
     ("tunjangan kinerja cair kapan", "intent.scope_asn"), ("calon mana yang bagus", "intent.scope_choice"),
     ("siapa yang harus saya pilih", "intent.scope_choice")],
)
async def test_out_of_scope_gets_the_scope_message_never_a_verdict(console: Any, text: str, key: str) -> None:
    replies = await console.say(text)
    assert replies[0].text == t(key) and not has_label(replies)
    assert await unanswered(console) == []


@pytest.mark.parametrize(
    ("text", "key"),
    [("batal", "intent.no_flow"), ("Kembali", "intent.no_flow"), ("lewati", "intent.no_flow"),
     ("selesai", "intent.no_flow"), ("lanjutkan", "intent.no_flow"), ("bantuan", "intent.help"),
     ("help", "intent.help"), ("menu", "intent.help")],
)
async def test_a_button_word_or_help_outside_any_flow_gets_a_pointer_not_a_topic(
    console: Any, text: str, key: str
) -> None:
    """Console audit: the console asks for button words ("Atau ketik: Lewati, Kembali, Batal"); typed when no
    step waits for them they went to the FAQ: "batal" was stored as an unanswered question, "kembali" offered
    "Mengundurkan diri tidak bisa kembali", "bantuan" offered gifts to voters (bagi-barang)."""
    replies = await console.say(text)
    assert replies[0].text == t(key) and not has_label(replies)
    assert not any(d.startswith("faq:") for d in button_data(replies))
    assert await unanswered(console) == []


@pytest.mark.parametrize(
    ("text", "key"),
    [("gimana cara langganan pengingat", "intent.langganan"), ("mau dapat pengingat tahapan", "intent.langganan"),
     ("saya mau hapus laporan saya", "intent.hapus"), ("cara hapus data saya dari laporan", "intent.hapus")],
)
async def test_subscribing_and_deleting_in_words_point_to_the_commands(console: Any, text: str, key: str) -> None:
    """Console audit: "gimana cara langganan pengingat" got "belum punya jawaban" (and was logged), "saya mau
    hapus laporan saya" got the INFORMASI answer on evidence (bukti-laporan)."""
    replies = await console.say(text)
    assert replies[0].text == t(key) and not has_label(replies)
    assert await unanswered(console) == []


async def test_a_button_word_inside_a_flow_still_works(console: Any) -> None:
    started = await console.say("/lapor")
    assert started
    cancelled = await console.say("batal")
    assert cancelled[0].text == t("tips.cancelled")


async def test_election_dates_point_to_tahapan(console: Any) -> None:
    replies = await console.say("jadwal pencoblosan kapan")
    assert replies[0].text == t("intent.tahapan")
    shown = await console.press(t("button.tahapan"), replies)
    assert shown[0].text == t("sub.stage.need_region")  # /tahapan without a subscription asks for the region


async def test_greeting_before_a_question_is_answered_by_the_faq(console: Any) -> None:
    replies = await console.say("halo, boleh gak like postingan paslon?")
    assert first_line(replies) == t(f"faq.verdict.{default_matcher().kb.entries['medsos-like'].verdict}")


async def test_messages_without_words_are_not_logged(console: Any) -> None:
    for text in ["7", "-1", "<b>x</b>"]:
        replies = await console.say(text)
        assert replies[0].text == t("faq.empty"), text
    assert await unanswered(console) == []


# --- /pertanyaan -------------------------------------------------------------------------------------
QUESTIONS = ["resep rendang padang", "resep soto banjar", "harga tiket kapal ke nunukan"]


async def test_admin_marks_unanswered_questions_handled(console: Any) -> None:
    for q in QUESTIONS:
        assert resolve(q).logged, q
        await console.say(q)
    await console.say(QUESTIONS[0])  # asked twice: listed first
    listed = await console.say("/pertanyaan")
    text = listed[0].text
    assert text.splitlines()[1] == t("faq.unanswered_row", n=1, count=2, text=QUESTIONS[0])
    labels = [b.label for row in listed[0].buttons for b in row]
    assert labels == [t("faq.unanswered_done_button", n=n) for n in (1, 2, 3)]

    done = await console.press(t("faq.unanswered_done_button", n=2), listed)
    second = text.splitlines()[2].split(") ", 1)[1]
    assert done[0].text == t("faq.unanswered_resolved", text=second)
    after = (await console.say("/pertanyaan"))[0].text
    assert second not in after and QUESTIONS[0] in after

    by_command = await console.say("/pertanyaan selesai 1 9")
    assert by_command[0].text.splitlines() == [
        t("faq.unanswered_resolved", text=QUESTIONS[0]), t("faq.unanswered_not_found", n=9)
    ]
    remaining = (await console.say("/pertanyaan"))[0].text
    assert QUESTIONS[0] not in remaining and len(remaining.splitlines()) == 1 + 1 + 2  # title, 1 row, hint
    assert (await console.say("/pertanyaan selesai"))[0].text == t("faq.unanswered_usage")

    rows = {q.text: q for q in await unanswered(console)}
    assert rows[QUESTIONS[0]].resolved and rows[QUESTIONS[0]].resolved_at is not None
    async with console.rt.services.sessions() as s:
        audits = await s.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.action == "faq.unanswered.resolve")
        )
    assert audits == 2

    # the last one by command, then the list is empty; asked again (still unanswered): listed again
    await console.say("/pertanyaan selesai 1")
    assert (await console.say("/pertanyaan"))[0].text == t("faq.unanswered_empty")
    await console.say(QUESTIONS[0])
    again = (await console.say("/pertanyaan"))[0].text
    assert t("faq.unanswered_row", n=1, count=3, text=QUESTIONS[0]) in again


async def test_non_admins_cannot_mark_questions_handled(make_settings: Any) -> None:
    from tests.support.helpers import ConsoleHarness

    admin = ConsoleHarness(make_settings(console_admin=True), user_id="admin")
    user = ConsoleHarness(make_settings(console_admin=False), user_id="user")
    try:
        await user.say("resep rendang padang")
        listed = await admin.say("/pertanyaan")
        data = button_data(listed)[0]
        assert (await user.say("/pertanyaan selesai 1"))[0].text == t("error.admin_only")
        forged = Incoming(channel="console", chat_id="user", user_id="user", callback=data)
        assert (await user.deliver(forged))[0].text == t("error.admin_only")
        async with admin.rt.services.sessions() as s:
            assert await s.scalar(select(func.count()).select_from(UnansweredQuestion)
                                  .where(UnansweredQuestion.resolved.is_(False))) == 1
        assert (await admin.deliver(Incoming(channel="console", chat_id="admin", user_id="admin",
                                             callback=data)))[0].text.startswith("✅")
        assert (await admin.deliver(Incoming(channel="console", chat_id="admin", user_id="admin",
                                             callback=data)))[0].text == t("faq.unanswered_already")
    finally:
        await admin.close()
        await user.close()


async def test_start_report_button_is_refused_in_a_group(console: Any) -> None:
    pressed = Incoming(channel="console", chat_id="console-group", user_id="u", chat_type="group",
                       callback="faqgo:lapor")
    assert (await console.deliver(pressed))[0].text == t("error.private_only")
