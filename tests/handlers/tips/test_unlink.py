"""/hapus and the retention purge unlink the reporter: the database holds nothing of them afterwards.

The scanner (``tests/reliability/anon.scan_database``) reads every table and column, opening sealed values
with the configured key. The reporter here uses the audit's distinctive id, so any trace is a finding.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.core.clock import set_clock, utcnow
from bot.storage import retention
from bot.storage.models import (
    ChatWindow,
    Conversation,
    Outbox,
    ProcessedUpdate,
    RateCounter,
    Tip,
    TipMedia,
    UnansweredQuestion,
)
from bot.texts import t
from handlers.tips.store import purge_expired
from tests.handlers.tips.conftest import TipConsole, code_of
from tests.reliability import anon

REPORTER = str(anon.REPORTER_ID)


def pseudonyms(h: TipConsole, user: str = REPORTER) -> dict[str, str]:
    """Every keyed hash the bot derives from the reporter's console chat and user id."""
    key = h.rt.services.identity.key
    return {
        "reporter": key("reporter", "console", user),
        "addr": key("addr", "console", user),
        "conv": key("conv", "console", user, user),
        "choices": key("choices", "console", user),
        "user": key("user", "console", user),
    }


async def scan(h: TipConsole, *extra: str) -> list[str]:
    return await anon.scan_database(h.rt.services.sessions, (*anon.IDENTIFIERS, *extra),
                                    identity=h.rt.services.identity)


async def _asked_and_answered(h: TipConsole) -> tuple[str, Tip]:
    code = code_of(await h.tip(user=REPORTER, what="Kepala dinas membagikan poster paslon"))
    tip = await h.tip_by_code(code)
    await h.send(callback=f"tip:st:{tip.id}:1", user="anggota", group=True)  # status notice to the reporter
    await h.send(callback=f"tip:ask:{tip.id}", user="anggota", group=True)
    await h.send("Jam berapa persisnya?", user="anggota", group=True)
    await h.send(callback="tip:askok", user="anggota", group=True)  # question to the reporter (with "Jawab")
    await h.send(f"/status {code}", user=REPORTER)
    return code, tip


async def test_the_database_scanner_finds_planted_identifiers(tipcon: TipConsole) -> None:
    identity = tipcon.rt.services.identity
    assert await scan(tipcon) == []
    async with tipcon.rt.services.sessions() as s, s.begin():
        s.add(Outbox(channel="telegram", addr_key="k", addr_enc=identity.seal("telegram", REPORTER),
                     payload={"text": "halo"}, created_at=utcnow(), next_attempt_at=utcnow()))
        s.add(Conversation(conv_key="c", data={"draft": f"nama saya {anon.FULL_NAME}"}, updated_at=utcnow()))
        s.add(TipMedia(kind="document", content=f"...{anon.USERNAME}...".encode(), sha256_original="x",
                       created_at=utcnow()))
    found = await scan(tipcon)
    assert any(f.startswith("db outbox.addr_enc") for f in found), found  # only visible once opened
    assert any(f.startswith("db conversations.data") for f in found), found
    assert any(f.startswith("db tip_media.content") for f in found), found
    # without the key the sealed address is opaque: the audit must open it
    plain = await anon.scan_database(tipcon.rt.services.sessions, anon.IDENTIFIERS)
    assert not any(f.startswith("db outbox.addr_enc") for f in plain)


async def test_hapus_unlinks_the_reporter_everywhere(tipcon: TipConsole) -> None:
    code, tip = await _asked_and_answered(tipcon)
    names = pseudonyms(tipcon)
    before = await scan(tipcon)
    assert any("outbox.addr_enc" in f for f in before)  # the reporter's address is in the outbox until /hapus
    async with tipcon.rt.services.sessions() as s:
        assert await s.scalar(select(Conversation.id).where(Conversation.conv_key == names["choices"]))

    await tipcon.send(f"/hapus {code}", user=REPORTER)
    r = await tipcon.send(callback=f"hapus:ok:{tip.id}", user=REPORTER)
    assert r[-1].text == t("tips.hapus_done", code=code, days=90)
    assert "kode samaran" in r[-1].text and "/status" in r[-1].text  # says honestly what stays

    assert await scan(tipcon) == []  # no id, in clear or sealed, anywhere — the answer to /hapus included
    async with tipcon.rt.services.sessions() as s:
        rows = (await s.scalars(select(Outbox))).all()
        tied = [o for o in rows if o.tip_id == tip.id or o.addr_key == names["addr"]]
        assert tied and all(o.payload == {"redacted": True} and o.addr_enc == "" and o.external_id is None
                            for o in tied)
        assert not [o for o in rows if code in str(o.payload) and not o.is_group and o.addr_key != ""]
        assert await s.scalar(select(Conversation.id).where(Conversation.conv_key == names["choices"])) is None
    # (outside the session above: on SQLite every transaction takes the write lock, BEGIN IMMEDIATE)
    found = {f.split()[1] for f in await scan(tipcon, names["addr"], names["choices"])}
    assert found <= {"chat_windows.addr_key"}, found  # the last-message time, kept 48 h (WhatsApp window)
    async with tipcon.rt.services.sessions() as s:
        stored = await s.scalar(select(Tip).where(Tip.id == tip.id))
        assert stored is not None and stored.reply_enc is None and stored.reporter_key == names["reporter"]
    # the pseudonym keeps /status working; nobody can reach the reporter any more
    assert "Laporan " + code in (await tipcon.send(f"/status {code}", user=REPORTER))[-1].text
    mark = tipcon.mark()
    await tipcon.send(callback=f"tip:st:{tip.id}:2", user="anggota", group=True)
    assert not tipcon.to(REPORTER, mark)


async def test_the_purge_removes_the_pseudonym_and_every_trace(tipcon: TipConsole) -> None:
    code, tip = await _asked_and_answered(tipcon)
    names = pseudonyms(tipcon)
    await tipcon.send(callback=f"tip:st:{tip.id}:4", user="anggota", group=True)  # closed: purge scheduled
    purge_after = (await tipcon.tip_by_code(code)).purge_after
    assert purge_after is not None
    later = purge_after + timedelta(hours=1)
    async with tipcon.rt.services.sessions() as s, s.begin():
        assert await purge_expired(s, later, tipcon.rt.services.identity) == 1
        await retention.purge(s, later, tipcon.rt.settings.retention)
    assert await scan(tipcon, *names.values()) == []
    stored = await tipcon.tip_by_code(code)
    assert stored.reporter_key == "" and stored.reply_enc is None and stored.description  # the case stays
    assert (await tipcon.send("/status", user=REPORTER))[-1].text == t("tips.my_list_empty")


async def _links_to_tip(h: TipConsole, code: str, tip_id: int) -> list[str]:
    """What still ties a chat to the tip: an outbox row with its address that names the tip (its code, a button
    with its id), a conversation whose buttons or flow name it."""
    async with h.rt.services.sessions() as s:
        rows = (await s.scalars(select(Outbox).where(Outbox.addr_enc != "", Outbox.is_group.is_(False)))).all()
        convs = (await s.scalars(select(Conversation))).all()
    button = f":{tip_id}"
    found = [f"outbox {o.id} {o.payload.get('text', '')[:40]!r}" for o in rows
             if code in str(o.payload) or any(d.endswith(button) for row in o.payload.get("buttons", [])
                                             for _label, d in row)]
    found += [f"conversation {c.flow} {c.data}" for c in convs
              if (c.data.get("tip_id") == tip_id and c.flow == "tipjawab")
              or any(str(d).endswith(button) for d in c.data.get("_choices", []))]
    return found


async def _purge_day(h: TipConsole, at: object) -> None:
    """The daily tip purge and the hourly retention purge, as the scheduler runs them at ``at``."""
    async with h.rt.services.sessions() as s, s.begin():
        await purge_expired(s, at, h.rt.services.identity)  # type: ignore[arg-type]
        await retention.purge(s, at, h.rt.settings.retention)  # type: ignore[arg-type]


async def test_the_purge_unlinks_what_the_reporter_saw_in_its_last_days(tipcon: TipConsole) -> None:
    """The reporter checks their closed case the day before its purge, and Bawaslu asks one more question:
    the purge must wipe those messages (they name the tip and carry the reply address) and the button memory
    ("Jawab" names the tip) too, not leave them to the 7-day outbox and 30-day draft rules."""
    code, tip = await _asked_and_answered(tipcon)
    names = pseudonyms(tipcon)
    await tipcon.send(callback=f"tip:st:{tip.id}:4", user="anggota", group=True)  # closed: purge in 90 days
    purge_after = (await tipcon.tip_by_code(code)).purge_after
    assert purge_after is not None
    set_clock(lambda: purge_after - timedelta(days=1))
    await tipcon.send(f"/status {code}", user=REPORTER)
    await tipcon.send(callback=f"tip:ask:{tip.id}", user="anggota", group=True)
    await tipcon.send("Masih ada bukti lain?", user="anggota", group=True)
    await tipcon.send(callback="tip:askok", user="anggota", group=True)  # "Jawab" is the reporter's last button
    assert await _links_to_tip(tipcon, code, tip.id)
    await _purge_day(tipcon, purge_after + timedelta(hours=1))
    assert await _links_to_tip(tipcon, code, tip.id) == []
    assert await scan(tipcon, names["addr"], names["choices"], names["conv"]) == []
    stored = await tipcon.tip_by_code(code)
    assert stored.reporter_key == "" and stored.reply_enc is None and stored.description  # the case stays


async def test_the_purge_unlinks_what_the_reporter_did_after_hapus(tipcon: TipConsole) -> None:
    """After /hapus the pseudonym still answers /status and an earlier "Jawab" button: what that shows names
    the tip, and the purge must wipe it (the reply address is gone by then, so the purge finds it by the tip)."""
    code, tip = await _asked_and_answered(tipcon)
    names = pseudonyms(tipcon)
    await tipcon.send(callback=f"tip:st:{tip.id}:4", user="anggota", group=True)
    await tipcon.send(f"/hapus {code}", user=REPORTER)
    await tipcon.send(callback=f"hapus:ok:{tip.id}", user=REPORTER)
    purge_after = (await tipcon.tip_by_code(code)).purge_after
    assert purge_after is not None
    set_clock(lambda: purge_after - timedelta(days=1))
    await tipcon.send(f"/status {code}", user=REPORTER)
    await tipcon.send(f"/jawab {code}", user=REPORTER)  # an answer begun, never sent
    assert await _links_to_tip(tipcon, code, tip.id)
    await _purge_day(tipcon, purge_after + timedelta(hours=1))
    assert await _links_to_tip(tipcon, code, tip.id) == []
    # (the chat's button memory stays: the answer prompt's "Batal" names no tip, and the chat is unknown now)
    assert await scan(tipcon, names["addr"], names["conv"]) == []


async def test_retention_purges_old_personal_data_and_keeps_recent(tipcon: TipConsole) -> None:
    cfg = tipcon.rt.settings.retention
    now = utcnow()
    old, new = now - timedelta(days=400), now - timedelta(minutes=5)
    async with tipcon.rt.services.sessions() as s, s.begin():
        for when, tag in ((old, "old"), (new, "new")):
            s.add(ProcessedUpdate(key=f"telegram:{tag}", created_at=when))
            s.add(Conversation(conv_key=f"conv-{tag}", flow="lapor", step="what", data={"what": tag},
                               updated_at=when))
            s.add(ChatWindow(addr_key=f"win-{tag}", last_inbound_at=when))
            s.add(RateCounter(scope="tip", subject_key=f"rc-{tag}", day=when.date().isoformat(), count=1))
            s.add(TipMedia(tip_id=None, kind="document", content=tag.encode(), sha256_original=tag, created_at=when))
            s.add(UnansweredQuestion(normalized=tag, text=tag, first_seen=when, last_seen=when))
            s.add(Outbox(channel="console", addr_key=f"a-{tag}", addr_enc="sealed", payload={"text": tag},
                         status="sent", sent_at=when, created_at=when, next_attempt_at=when, external_id="42"))
        s.add(Outbox(channel="console", addr_key="a-pending", addr_enc="sealed", payload={"text": "pending"},
                     status="pending", created_at=old, next_attempt_at=old))
    async with tipcon.rt.services.sessions() as s, s.begin():
        done = await retention.purge(s, now, cfg)
    assert all(done[k] >= 1 for k in ("outbox_redacted", "processed_updates", "conversations", "chat_windows",
                                      "rate_counters", "exports", "unanswered")), done
    async with tipcon.rt.services.sessions() as s:
        assert (await s.scalars(select(ProcessedUpdate.key))).all() == ["telegram:new"]
        assert "conv-old" not in (await s.scalars(select(Conversation.conv_key))).all()
        assert (await s.scalars(select(ChatWindow.addr_key))).all() == ["win-new"]
        assert "rc-old" not in (await s.scalars(select(RateCounter.subject_key))).all()
        assert (await s.scalars(select(TipMedia.content).where(TipMedia.tip_id.is_(None)))).all() == [b"new"]
        assert (await s.scalars(select(UnansweredQuestion.text))).all() == ["new"]
        out = {o.payload.get("text", "redacted"): o for o in (await s.scalars(select(Outbox))).all()}
    assert set(out) == {"new", "pending", "redacted"}
    gone = out["redacted"]
    assert gone.addr_enc == "" and gone.addr_key == "" and gone.external_id is None and gone.status == "sent"
    assert out["pending"].addr_enc == "sealed"  # never touched before it is sent


async def test_a_message_sent_after_hapus_is_redacted_once_sent(tipcon: TipConsole) -> None:
    """Rows still queued at /hapus (here: a status notice not yet delivered) are wiped as soon as sent."""
    code = code_of(await tipcon.tip(user=REPORTER))
    tip = await tipcon.tip_by_code(code)
    await tipcon.rt.core.handle(  # queued, not delivered yet
        tipcon.incoming(callback=f"tip:st:{tip.id}:1", user="anggota", group=True))
    await tipcon.rt.core.handle(tipcon.incoming(callback=f"hapus:ok:{tip.id}", user=REPORTER))
    async with tipcon.rt.services.sessions() as s:
        queued = (await s.scalars(select(Outbox).where(Outbox.status == "pending"))).all()
    assert queued and all((o.idem_key or "").startswith(retention.EPHEMERAL) for o in queued
                          if o.tip_id == tip.id and not o.is_group)
    await tipcon.rt.worker.drain()
    assert await scan(tipcon) == []
