"""A tip never ends silently (review C3, walkthrough 3): a migrated group is followed, a failed, unrouted or
removed-from group tip alerts the admins, an unrouted tip is delivered once its group is configured, the
reporter sees "waiting" until the group has it, and a configuration that cannot deliver tips is refused.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.__main__ import main
from bot.app.serve import serve
from bot.channels.console import CONSOLE_GROUP_CHAT, CONSOLE_PRIVATE_CHAT
from bot.config import ConfigError
from bot.storage.models import Outbox, Tip
from bot.texts import t
from tests.conftest import TEST_SECRET
from tests.handlers.tips.conftest import GROUPS as CONSOLE_GROUPS
from tests.handlers.tips.conftest import TipConsole, code_of
from tests.support.fakes.telegram_server import FakeTelegramServer, make_callback, make_message, make_my_chat_member
from tests.support.telegram_harness import TelegramHarness, telegram_overrides, wait_recorded

KAB, NEW_KAB, DEFAULT = -100711, -1000000711, -100799
GROUPS = {"64.02": KAB, "default": DEFAULT}
REPORTER, MEMBER, ADMIN = 812812812, 555111, 4242


@pytest.fixture
async def tg(make_settings: Any) -> AsyncIterator[TelegramHarness]:
    server = FakeTelegramServer()
    await server.start()
    fast = {"telegram_per_chat_per_sec": 100.0, "telegram_per_group_per_min": 6000.0}
    settings = make_settings(bawaslu_groups=GROUPS, rate_limits=fast,
                             **telegram_overrides(server, admin_ids=[ADMIN]))
    harness = TelegramHarness(settings, server)
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()
        await server.stop()


async def _step(h: TelegramHarness, update: dict[str, Any], needle: str, chat: int = REPORTER) -> Any:
    mark = h.mark()
    h.server.inject_update(update)
    return await h.wait_text(chat, needle, since=mark)


async def _tip(h: TelegramHarness) -> str:
    await _step(h, make_message(REPORTER, REPORTER, "/lapor Kukar"), "Langkah 2/6")
    await _step(h, make_callback(REPORTER, REPORTER, "lapor:c:medsos"), "Langkah 3/6")
    await _step(h, make_message(REPORTER, REPORTER, "Kasubag Umum"), "Langkah 4/6")
    await _step(h, make_message(REPORTER, REPORTER, "Kantor bupati"), "Langkah 5/6")
    await _step(h, make_message(REPORTER, REPORTER, "Membagikan poster paslon"), "Langkah 6/6")
    await _step(h, make_callback(REPORTER, REPORTER, "lapor:done"), "INFORMASI AWAL")
    call = await _step(h, make_callback(REPORTER, REPORTER, "lapor:ok"), "Kode laporan")
    return code_of([_reply(call.params["text"])])


def _reply(text: str) -> Any:
    from bot.core.model import Reply

    return Reply(text=text)


async def _tip_row(h: TelegramHarness, code: str) -> Tip:
    assert h.rt is not None
    async with h.rt.services.sessions() as s:
        tip = await s.scalar(select(Tip).where(Tip.code == code))
    assert tip is not None
    return tip


async def test_migrated_group_is_followed_and_admins_told(tg: TelegramHarness) -> None:
    tg.server.migrate_chat(KAB, NEW_KAB)
    mark = tg.mark()
    code = await _tip(tg)
    await tg.wait_text(NEW_KAB, code, since=mark)  # re-targeted and delivered to the supergroup
    tip = await _tip_row(tg, code)
    assert tip.group_chat_id == NEW_KAB
    await tg.wait_text(ADMIN, t("alert.group_migrated", old=KAB, new=NEW_KAB), since=mark)
    # the supergroup's buttons work on the tip (it is the tip's group now)
    await _step(tg, make_callback(NEW_KAB, MEMBER, f"tip:st:{tip.id}:1"), "Sedang ditelaah", REPORTER)
    assert tg.rt is not None
    async with tg.rt.services.sessions() as s:
        statuses = set((await s.scalars(select(Outbox.status).where(Outbox.tip_id == tip.id))).all())
    assert "failed" not in statuses and "dead" not in statuses


async def test_failed_tip_alerts_the_admins(tg: TelegramHarness) -> None:
    tg.server.set_chat_error(KAB, 400, "Bad Request: chat not found")
    mark = tg.mark()
    code = await _tip(tg)
    assert tg.rt is not None
    await tg.server.wait_for(lambda c: str(c.chat_id) == str(KAB), include_failed=True, since=mark)
    await tg.rt.worker.drain()
    report = await tg.rt.watch.check()
    assert report.failed == [code]
    alert = await tg.wait_text(ADMIN, code, since=mark)
    assert "GAGAL" in alert.params["text"] and "Chat not found" in alert.params["text"]
    assert REPORTER not in [c.chat_id for c in tg.server.calls if code in str(c.params.get("text", "")) and
                            "GAGAL" in str(c.params.get("text", ""))]


async def test_a_question_that_never_reaches_the_reporter_is_reported_to_the_group(tg: TelegramHarness) -> None:
    """The group is told "dikirim lewat bot" when its question is queued; a question that then fails (here: the
    reporter blocked the bot; on WhatsApp also a closed 24-hour window without a template) is reported to the
    tip's group once, without saying who the reporter is."""
    assert tg.rt is not None
    mark = tg.mark()
    code = await _tip(tg)
    await tg.wait_text(KAB, code, since=mark)
    tip = await _tip_row(tg, code)
    tg.server.block_user(REPORTER)
    prompt = await _step(tg, make_callback(KAB, MEMBER, f"tip:ask:{tip.id}"), "Balas (reply)", KAB)
    await wait_recorded(tg.rt, prompt.result["message_id"])
    replied = {"message_id": prompt.result["message_id"], "date": 0,
               "chat": {"id": KAB, "type": "supergroup", "title": "g"}}
    await _step(tg, make_message(KAB, MEMBER, "Jam berapa persisnya?", chat_type="supergroup",
                                 reply_to_message=replied), "dikirim lewat bot", KAB)
    await tg.server.wait_for(lambda c: str(c.chat_id) == str(REPORTER) and "Jam berapa" in str(c.params),
                             include_failed=True, since=mark)
    await tg.rt.worker.drain()
    mark = tg.mark()
    report = await tg.rt.watch.check()
    assert report.questions_lost == [code]
    told = await tg.wait_text(KAB, "tidak sampai ke pelapor", since=mark)
    assert code in told.params["text"] and str(REPORTER) not in str(told.params)
    assert (await tg.rt.watch.check()).questions_lost == []  # once
    await tg.rt.worker.drain()
    assert len([c for c in tg.server.sent_messages(KAB) if "tidak sampai ke pelapor" in str(c.params.get("text"))]) == 1


async def test_bot_removed_from_a_bawaslu_group_alerts_the_admins(tg: TelegramHarness) -> None:
    mark = tg.mark()
    tg.server.inject_update(make_my_chat_member(-100123456, MEMBER, "kicked", chat_type="supergroup"))  # not ours
    tg.server.inject_update(make_my_chat_member(KAB, MEMBER, "kicked", chat_type="supergroup"))
    alert = await tg.wait_text(ADMIN, str(KAB), since=mark)
    assert "dikeluarkan" in alert.params["text"] and "Kutai Kartanegara" in alert.params["text"]
    assert not [c for c in tg.server.calls[mark:] if "-100123456" in str(c.params.get("text", ""))]


async def test_unrouted_tip_waits_alerts_and_is_delivered_once_a_group_is_configured(make_settings: Any) -> None:
    lonely = TipConsole(make_settings(console_admin=True))  # no Bawaslu group yet
    try:
        code = code_of(await lonely.tip())
        status = lonely.text(await lonely.send(f"/status {code}"))
        assert t("tips.status.menunggu") in status and "Status: Diterima" not in status
        report = await lonely.rt.watch.check()
        assert report.unrouted == [code]
        await lonely.rt.worker.drain()
        alerts = [r.text for chat, r in lonely.sender.delivered if chat == CONSOLE_PRIVATE_CHAT and code in r.text]
        assert any("belum punya grup" in a for a in alerts)
    finally:
        await lonely.close()

    routed = TipConsole(make_settings(bawaslu_groups=CONSOLE_GROUPS, console_admin=False))  # restart with groups
    try:
        report = await routed.rt.watch.check()
        assert report.routed == [code] and report.unrouted == []
        await routed.rt.worker.drain()
        assert any(code in r.text for r in routed.to(CONSOLE_GROUP_CHAT))
        status = routed.text(await routed.send(f"/status {code}"))
        assert "Status: Diterima" in status
        assert (await routed.rt.watch.check()).routed == []  # once
    finally:
        await routed.close()


WA = {"account_sid": "AC" + "0" * 32, "auth_token": "x" * 32, "sender": "whatsapp:+14155238886"}


async def test_groups_without_a_telegram_sender_are_refused_by_serve(make_settings: Any) -> None:
    settings = make_settings(bawaslu_groups=GROUPS, whatsapp=WA)
    with pytest.raises(ConfigError, match="bawaslu_groups routes tips to Telegram groups"):
        await serve(settings)


def test_groups_without_a_telegram_sender_are_refused_at_start(tmp_path: Path, capsys: Any, db_url: str) -> None:
    wa = WA
    config = tmp_path / "wa-only.toml"
    config.write_text(
        f'[database]\nurl = "{db_url}"\n[security]\nsecret_key = "{TEST_SECRET}"\n'
        f'[whatsapp]\naccount_sid = "{wa["account_sid"]}"\nauth_token = "{wa["auth_token"]}"\n'
        f'sender = "{wa["sender"]}"\n[bawaslu_groups]\n"64.02" = {KAB}\n',
        encoding="utf-8",
    )
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        assert main(["--config", str(config), "run"]) == 2
    finally:  # main() installs the production log handler on sys.stderr (capsys's): give pytest its own back
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "telegram.token is not set" in err[0]
