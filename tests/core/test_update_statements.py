"""What one update writes: only what it needs, with every guarantee kept (issue 17).

A Telegram FAQ question from a chat without flow state writes its de-duplication row (one ``INSERT … ON
CONFLICT DO NOTHING``, no savepoint) and its outbox row, nothing else: no conversation row for a conversation
without state, no chat-window row (only WhatsApp's 24-hour window needs one). A redelivered update is still
dropped; a flow's state and WhatsApp's chat window are still written.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import event, func, select

from bot.app.runtime import Runtime
from bot.core.model import Incoming, Reply
from bot.storage.models import ChatWindow, Conversation, Outbox, ProcessedUpdate, UnansweredQuestion
from bot.texts import t
from faq.decision import resolve

QUESTION = "Bolehkah PNS menjadi tim sukses calon?"
UNANSWERED = "harga tiket kapal ke nunukan"  # no FAQ entry: logged for the admins


@pytest.fixture
async def rt(settings: Any) -> AsyncIterator[Runtime]:
    runtime = Runtime.create(settings, {})
    await runtime.migrate()
    try:
        yield runtime
    finally:
        await runtime.stop()


class Statements:
    def __init__(self, rt: Runtime) -> None:
        self.seen: list[str] = []
        self._engine = rt.engine.sync_engine
        event.listen(self._engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.seen.append(" ".join(statement.split()).upper())

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._record)

    def writes(self) -> list[str]:
        return [s for s in self.seen if s.startswith(("INSERT", "UPDATE", "DELETE", "SAVEPOINT", "RELEASE"))
                or (s.startswith("WITH") and " INSERT INTO " in s)]  # PostgreSQL: the chat lock, then the INSERT


def written_table(statement: str) -> str:
    found = re.search(r"\b(?:INSERT INTO|UPDATE|DELETE FROM) (\w+)", statement)
    return found.group(1) if found else statement.split(" ")[0]


async def _count(rt: Runtime, model: Any, *where: Any) -> int:
    async with rt.services.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _tg(text: str, update: str, chat: str = "9001") -> Incoming:
    return Incoming(channel="telegram", chat_id=chat, user_id=chat, text=text, update_key=update)


async def test_a_stateless_telegram_question_writes_only_its_dedup_and_outbox_rows(rt: Runtime) -> None:
    stmts = Statements(rt)
    try:
        await rt.core.handle(_tg(QUESTION, "1"))
        await rt.core.handle(_tg(QUESTION, "2"))  # the same chat again: still nothing but the two rows
    finally:
        stmts.close()
    writes = stmts.writes()
    assert [written_table(w) for w in writes] == ["PROCESSED_UPDATES", "OUTBOX"] * 2, writes
    assert all("ON CONFLICT" in w for w in writes)
    # PostgreSQL: the chat's advisory lock is taken, without waiting, by its batch's one lock statement, before
    # the de-duplication INSERT (an update left out of its batch waits for it inside that INSERT instead)
    assert not any(s.startswith("SELECT PG_ADVISORY_XACT_LOCK") for s in stmts.seen)
    if rt.engine.dialect.name == "postgresql":
        for n, statement in enumerate(stmts.seen):
            if written_table(statement) == "PROCESSED_UPDATES":
                assert "PG_TRY_ADVISORY_XACT_LOCK" in stmts.seen[n - 1], stmts.seen
    assert not any("CHAT_WINDOWS" in s or ("CONVERSATIONS" in s and not s.startswith("SELECT")) for s in stmts.seen)
    assert await _count(rt, Outbox) == 2
    assert await _count(rt, ChatWindow) == 0
    assert await _count(rt, Conversation) == 0


async def test_a_redelivered_update_is_still_dropped(rt: Runtime) -> None:
    await rt.core.handle(_tg(QUESTION, "7"))
    await rt.core.handle(_tg(QUESTION, "7"))
    assert await _count(rt, Outbox) == 1
    assert await _count(rt, ProcessedUpdate) == 1


async def test_flow_state_and_the_whatsapp_window_are_still_written(rt: Runtime) -> None:
    await rt.core.handle(_tg("/lapor", "10"))  # starts the report flow: its state is kept
    assert await _count(rt, Conversation, Conversation.flow == "lapor") == 1
    await rt.core.handle(Incoming(channel="whatsapp", chat_id="+6281300000009", user_id="+6281300000009",
                                  text=QUESTION, update_key="SM1"))
    assert await _count(rt, ChatWindow) == 1


async def test_two_chats_asking_the_same_new_unanswered_question_at_once(rt: Runtime) -> None:
    """Different chats are handled concurrently: both record the same unanswered question (an upsert)."""
    question = UNANSWERED
    assert resolve(question).logged, question
    await asyncio.gather(*(rt.core.handle(_tg(question, f"u{n}", chat=str(9100 + n))) for n in range(4)))
    async with rt.services.sessions() as s:
        rows = (await s.scalars(select(UnansweredQuestion))).all()
    assert [(r.count, r.resolved) for r in rows] == [(4, False)]
    replies = [Reply.from_payload(p).text for p in (await _payloads(rt))]
    assert len(replies) == 4 and t("error.generic") not in replies


async def _payloads(rt: Runtime) -> list[Any]:
    async with rt.services.sessions() as s:
        return list((await s.scalars(select(Outbox.payload))).all())


async def test_a_batch_reads_its_conversations_in_one_select_and_each_advances_its_own(rt: Runtime) -> None:
    """Updates handled together read their conversations rows in one statement; each flow still moves on from
    its own state (here: 8 chats in the report flow each give their region at once)."""
    chats = [str(9200 + n) for n in range(8)]
    for n, chat in enumerate(chats):
        await rt.core.handle(_tg("/lapor", f"s{n}", chat=chat))
    async with rt.services.sessions() as s:
        before = {r.conv_key: (r.flow, r.step) for r in (await s.scalars(select(Conversation))).all()}
    assert len(before) == len(chats) and {v[0] for v in before.values()} == {"lapor"}
    stmts = Statements(rt)
    try:
        await asyncio.gather(*(rt.core.handle(_tg("Kukar", f"r{n}", chat=chat)) for n, chat in enumerate(chats)))
    finally:
        stmts.close()
    conv_reads = [s for s in stmts.seen if s.startswith("SELECT") and "FROM CONVERSATIONS" in s]
    assert len(conv_reads) < len(chats) // 2, conv_reads  # one per batch, not one per update
    async with rt.services.sessions() as s:
        after = {r.conv_key: (r.flow, r.step, r.data) for r in (await s.scalars(select(Conversation))).all()}
    assert set(after) == set(before)
    for key, (flow, step, data) in after.items():
        assert flow == "lapor" and step != before[key][1], (key, step)  # moved on from the region step
        assert data.get("region") == "64.02", data  # with its own answer (Kutai Kartanegara)


async def test_a_numbered_channel_update_reads_its_choices_once(rt: Runtime) -> None:
    """Console/WhatsApp: the update's transaction reads its conversation and its chat's choices row once each,
    and writes the new choices without reading the row again (an upsert, or an UPDATE of a row if any)."""
    console = Incoming(channel="console", chat_id="c1", user_id="c1", text="/start", update_key="a")
    await rt.core.handle(console)
    stmts = Statements(rt)
    try:
        await rt.core.handle(replace(console, text="/lapor", update_key="b"))  # buttons: the choices change
        await rt.core.handle(replace(console, text="1", update_key="c"))  # picks one
    finally:
        stmts.close()
    # each update's transaction: from its de-duplication INSERT to its outbox INSERT (the read before it is the
    # prepare hook's, outside the transaction)
    starts = [n for n, s in enumerate(stmts.seen) if written_table(s) == "PROCESSED_UPDATES"]
    ends = [n for n, s in enumerate(stmts.seen) if written_table(s) == "OUTBOX"]
    assert len(starts) == len(ends) == 2, stmts.seen
    for start, end in zip(starts, ends, strict=True):
        reads = [s for s in stmts.seen[start:end] if s.startswith("SELECT") and "FROM CONVERSATIONS" in s]
        assert len(reads) == 2, reads  # its conversation (the batch's read), its choices
    async with rt.services.sessions() as s:
        rows = (await s.scalars(select(Conversation))).all()
    assert any(r.data.get("_choices") for r in rows)  # the choices were remembered
