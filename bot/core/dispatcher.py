"""The channel-agnostic core: one unit of work per incoming update.

``Core.handle(incoming)`` runs in a database transaction: de-duplicate the update, load the conversation state,
dispatch to a handler, save state and queue every reply in the outbox. Only after the commit is the delivery
worker woken — so nothing is shown to a user that is not already durable. (The transaction may hold other
chats' updates too; see below.)

Updates of one chat are handled one at a time (``bot.core.locks``): an in-process lock per chat, plus on
PostgreSQL an advisory transaction lock on the same key, so that several photos sent together (several
webhooks at once), a double-tapped button or two ``run`` nodes never read the same state and overwrite each
other. The lock is per chat, not per user: in a group the members share the chat's numbered-choices row.

Updates of different chats run concurrently (the Telegram channel hands several at once), and the updates that
queue up while a transaction runs share the next one (group commit, ``bot.core.group_commit``: one COMMIT for
them all; one failing update makes the batch be done again one update at a time). On SQLite, where the
database admits one writer at a time anyway, this process's transactions also take turns on an in-process gate
instead of waiting in SQLite's busy handler (which sleeps up to 100 ms between retries). On PostgreSQL a batch
takes its chats' advisory locks without waiting for any (``pg_try_advisory_xact_lock``): an update whose chat
another node (or another transaction of this process) holds is left out and done in a transaction of its own
beside the next batches, waiting there for that chat alone. Network work outside the transaction
(``Router.prepare`` hooks) still overlaps.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any, cast

from sqlalchemy import ARRAY, BigInteger, Table, bindparam, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from bot.core.clock import utcnow
from bot.core.context import Context, FlowState
from bot.core.group_commit import GroupCommit
from bot.core.identity import short
from bot.core.locks import KeyedLocks, advisory_key, lock_across_processes
from bot.core.model import Button, Incoming, Reply, label_word
from bot.core.router import Router
from bot.core.services import Services
from bot.outbox.ports import Purpose
from bot.storage.db import insert_ignore_returning, per_dialect_insert
from bot.storage.models import ChatWindow, Conversation, ProcessedUpdate
from bot.texts import t

log = logging.getLogger(__name__)

NUMBERED_CHANNELS = frozenset({"console", "whatsapp"})
WINDOW_CHANNELS = frozenset({"whatsapp"})  # free-form replies only within 24 h of the user's last message
CHOICES_KEY = "_choices"
WORDS_KEY = "_words"  # the buttons' label words ("kembali"), typed instead of a number
TEXT_KEY = "_text"  # the last message asks for typed text: digits are text

# The statements every update runs, built once (Core, not ORM: building and ORM-loading them per update cost
# more CPU than SQLite took to run them).
_CONV = cast(Table, Conversation.__table__)
_LOAD_CONV = select(_CONV.c.id, _CONV.c.flow, _CONV.c.step, _CONV.c.data).where(_CONV.c.conv_key == bindparam("k"))
_LOAD_CONVS = select(_CONV.c.conv_key, _CONV.c.id, _CONV.c.flow, _CONV.c.step, _CONV.c.data).where(
    _CONV.c.conv_key.in_(bindparam("keys", expanding=True))
)
_INSERT_CONV = insert(_CONV)
_UPDATE_CONV = update(_CONV).where(_CONV.c.id == bindparam("row_id")).values(
    flow=bindparam("b_flow"), step=bindparam("b_step"), data=bindparam("b_data"), updated_at=bindparam("b_at")
)
# numbered choices rows (no flow state): remembered by an upsert; a message without buttons ends them, if any
_UPSERT_CHOICES = per_dialect_insert(_CONV, lambda ins: ins.values(
    conv_key=bindparam("conv_key"), flow=None, step=None, data=bindparam("data"), updated_at=bindparam("updated_at")
).on_conflict_do_update(
    index_elements=["conv_key"],
    set_={"flow": None, "step": None, "data": ins.excluded.data, "updated_at": ins.excluded.updated_at},
))
_END_CHOICES = update(_CONV).where(_CONV.c.conv_key == bindparam("b_key")).values(
    data=bindparam("b_data"), updated_at=bindparam("b_at")
)
_PROCESSED = cast(Table, ProcessedUpdate.__table__)
_FIRST_DELIVERY = insert_ignore_returning(_PROCESSED, "key", _PROCESSED.c.key)
# PostgreSQL: the chat's advisory lock and the de-duplication in one round trip. The lock is a CTE with a volatile
# function, so PostgreSQL materialises it (evaluates it) before the INSERT reads its one row from it.
_CHAT_LOCK = select(func.pg_advisory_xact_lock(bindparam("lock", type_=BigInteger)).label("held")).cte("chat_lock")
_LOCKED_FIRST_DELIVERY = (
    pg_insert(_PROCESSED)
    .from_select(
        ["key", "created_at"],
        select(
            bindparam("key", type_=_PROCESSED.c.key.type), bindparam("created_at", type_=_PROCESSED.c.created_at.type)
        ).select_from(_CHAT_LOCK),
    )
    .on_conflict_do_nothing(index_elements=["key"])
    .returning(_PROCESSED.c.key)
)
# PostgreSQL, a batch: the advisory locks of its chats that no other transaction holds (taken; never waits), and
# (several updates; NULL: the server's own setting) a bound on how long any later statement of the batch may wait
# for a row another transaction holds.
_TRY_CHAT_LOCKS = text(
    "WITH bound AS MATERIALIZED (SELECT set_config('lock_timeout', "
    "COALESCE(CAST(:lock_timeout AS TEXT), current_setting('lock_timeout')), true)) "
    "SELECT k FROM bound, unnest(CAST(:keys AS BIGINT[])) AS k WHERE pg_try_advisory_xact_lock(k)"
).bindparams(bindparam("keys", type_=ARRAY(BigInteger))).columns(k=BigInteger)
PG_BATCHES_IN_FLIGHT = 4  # PostgreSQL: a slow update holds up its own batch only
# a batch of several updates waiting longer for a row lock is rolled back and done one update at a time (an update
# on its own waits as long as the server lets it)
BATCH_LOCK_TIMEOUT_MS = 1000


@dataclass(frozen=True, slots=True)
class _Row:
    """A conversations row as loaded: its id, flow state and data."""

    id: int
    flow: str | None
    step: str | None
    data: dict[str, Any]


@dataclass(slots=True)
class _Batch:
    """What the updates of one batch share: their conversations rows (read in one SELECT) and their replies'
    outbox rows (inserted in one statement after them)."""

    convs: dict[str, _Row]
    outbox_rows: list[dict[str, Any]] = field(default_factory=list)


def _state(row: _Row | None) -> FlowState:
    """The flow state a loaded conversation row holds (a copy: the handler may change it)."""
    return FlowState(row.flow, row.step, copy.deepcopy(row.data)) if row is not None else FlowState()


def _processed_key(inc: Incoming) -> str:
    """The update's de-duplication key (``processed_updates.key``)."""
    return f"{inc.channel}:{inc.update_key}"


async def _load_row(session: Any, key: str) -> _Row | None:
    found = (await session.execute(_LOAD_CONV, {"k": key})).first()
    return _Row(found.id, found.flow, found.step, found.data or {}) if found is not None else None


async def _load_rows(session: Any, keys: list[str]) -> dict[str, _Row]:
    """Several conversations rows in one SELECT (a batch's updates' own conversations)."""
    found = (await session.execute(_LOAD_CONVS, {"keys": keys})).all()
    return {r.conv_key: _Row(r.id, r.flow, r.step, r.data or {}) for r in found}


async def _save_row(session: Any, row: _Row | None, key: str, flow: str | None, step: str | None,
                    data: dict[str, Any], now: Any) -> None:
    if row is None:
        await session.execute(_INSERT_CONV, {"conv_key": key, "flow": flow, "step": step, "data": data,
                                             "updated_at": now})
    else:
        await session.execute(_UPDATE_CONV, {"row_id": row.id, "b_flow": flow, "b_step": step, "b_data": data,
                                             "b_at": now})


class Core:
    def __init__(self, services: Services, router: Router) -> None:
        self.services = services
        self.router = router
        self._wake: list[Any] = []
        self._locks = KeyedLocks()
        self._gate: asyncio.Lock | None = asyncio.Lock() if services.settings.is_sqlite else None
        self.batch_lock_timeout_ms = BATCH_LOCK_TIMEOUT_MS
        # updates waiting for the running transaction share the next one (bot/core/group_commit.py)
        self._batches: GroupCommit[tuple[Incoming, Any]] = GroupCommit(
            self._transaction, self._in_batch, self._handle_alone,
            concurrency=1 if self._gate is not None else PG_BATCHES_IN_FLIGHT,
        )

    @asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        """Around each transaction of an update: one at a time on SQLite (see the module docstring)."""
        if self._gate is None:
            yield
            return
        async with self._gate:
            yield

    async def close(self, timeout: float = 5.0) -> None:
        """Shutdown: the updates whose transactions run now finish first (at most ``timeout`` seconds)."""
        await self._batches.close(timeout)

    def on_committed(self, callback: Any) -> None:
        """Register a zero-argument callable run after each commit (wakes the delivery worker)."""
        self._wake.append(callback)

    def _notify(self) -> None:
        for cb in self._wake:
            cb()

    def conv_key(self, inc: Incoming) -> str:
        return self.services.identity.key("conv", inc.channel, inc.chat_id, inc.user_id)

    def lock_key(self, inc: Incoming) -> str:
        """What updates are serialised on: the chat (covers its conversations and its numbered choices)."""
        return self.services.identity.key("lock", inc.channel, inc.chat_id)

    async def handle(self, inc: Incoming) -> None:
        inc = _without_nul(inc)
        try:
            async with self._locks.hold(self.lock_key(inc)):
                prepared = await self._prepare(inc) if self.router.has_preparers else None
                await self._handle(inc, prepared)
        except Exception:
            log.exception(
                "handler failed", extra={"channel": inc.channel, "conv": short(self.conv_key(inc))}
            )
            await self._enqueue_error(inc)
        self._notify()

    async def _prepare(self, inc: Incoming) -> Any:
        """Network/CPU work of a ``Router.prepare`` hook, before (and outside) the update's transaction.

        Runs under the chat's lock: the state it reads is the state the transaction will see (in this process).
        A failing hook only loses the head start — the handler then does the work itself."""
        svc = self.services
        if inc.callback is None and not (inc.channel in NUMBERED_CHANNELS and 0 < len(inc.text) <= 40):
            return None
        async with self._turn(), svc.sessions() as session:  # a short read; closed before the hook runs
            conv = await _load_row(session, self.conv_key(inc))
            choices = await self._load_choices(session, inc.channel, inc.chat_id) if inc.callback is None else None
        picked = self._numbered_choice(inc, choices) if inc.callback is None else inc
        if isinstance(picked, str):
            return None
        hook = self.router.preparer(picked)
        if hook is None:
            return None
        try:
            return await hook(picked, _state(conv), svc)
        except Exception:
            log.exception("prepare hook failed; the handler does the work", extra={"channel": inc.channel})
            return None

    async def _handle(self, inc: Incoming, prepared: Any = None) -> None:
        await self._batches.submit((inc, prepared))

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Any]:
        async with self._turn(), self.services.sessions() as session, session.begin():
            yield session

    async def _handle_alone(self, job: tuple[Incoming, Any]) -> None:
        """One update in a transaction of its own."""
        async with self._transaction() as session:
            await self._in_transaction(session, job)

    async def _in_batch(self, session: Any, jobs: list[tuple[Incoming, Any]]) -> list[tuple[Incoming, Any]]:
        """Several updates in one transaction: on PostgreSQL their chats' locks first, in one statement that
        waits for none (an update whose chat another transaction holds is left out, and done alone after; and
        no later statement of a batch of several waits for a row lock longer than ``batch_lock_timeout_ms``: the
        batch then fails, and its updates are done one at a time); their de-duplication rows in one statement, then
        each update in turn (flushed after it: its writes fail as its own), then all their replies' outbox rows
        in one statement."""
        now = utcnow()
        dialect = session.get_bind().dialect.name
        # One update per chat: a second one (its chat's lock was let go when an earlier caller stopped waiting)
        # waits for a transaction of its own, after this one.
        by_chat: dict[str, tuple[Incoming, Any]] = {}  # the chat's lock key -> its first update here
        left_out: list[tuple[Incoming, Any]] = []
        for job in jobs:
            chat = self.lock_key(job[0])
            if chat in by_chat:
                left_out.append(job)
            else:
                by_chat[chat] = job
        jobs = list(by_chat.values())
        if dialect == "postgresql":
            wanted = {id(job): advisory_key(chat) for chat, job in by_chat.items()}
            bound = f"{self.batch_lock_timeout_ms}ms" if len(jobs) > 1 else None
            result = await session.execute(_TRY_CHAT_LOCKS, {"keys": sorted(wanted.values()), "lock_timeout": bound})
            held = set(result.scalars().all())
            left_out += [job for job in jobs if wanted[id(job)] not in held]
            jobs = [job for job in jobs if wanted[id(job)] in held]
        keyed = [_processed_key(inc) for inc, _p in jobs if inc.update_key is not None]
        first: set[str] = set()
        if keyed:
            result = await session.execute(_FIRST_DELIVERY[dialect], [{"key": k, "created_at": now} for k in keyed])
            first = set(result.scalars().all())
        fresh = [job for job in jobs if job[0].update_key is None or _processed_key(job[0]) in first]
        if len(fresh) < len(jobs):
            log.info("duplicate update ignored", extra={"n": len(jobs) - len(fresh)})
        jobs = fresh
        # Their conversations in one SELECT: a conversation row is written only by its own chat's updates (never
        # by another chat's handler), and a batch holds one update per chat, so no update of the batch changes a
        # row another one of it has read. (Numbered choices rows, which other chats' updates do write, are read
        # by each update when it runs.)
        batch = _Batch(await _load_rows(session, [self.conv_key(inc) for inc, _p in jobs]) if jobs else {})
        for job in jobs:
            await self._in_transaction(session, job, batch)
            await session.flush()
        await self.services.outbox.enqueue_many(session, batch.outbox_rows)
        return left_out

    async def _in_transaction(self, session: Any, job: tuple[Incoming, Any], batch: _Batch | None = None) -> None:
        """Everything one update does, in the caller's transaction: its own, or its ``batch``'s (then its chat's
        lock and de-duplication are done, its conversation row is among the batch's if it has one, and its
        replies' outbox rows are added to the batch's)."""
        inc, prepared = job
        svc = self.services
        now = utcnow()  # after waiting for the turn
        # the chat's lock across processes (PostgreSQL) before anything is read, then de-duplication
        if batch is None:
            if inc.update_key is None:
                await lock_across_processes(session, self.lock_key(inc))
            elif not await self._first_delivery(session, inc, now, self.lock_key(inc)):
                log.info("duplicate update ignored", extra={"channel": inc.channel})
                return
        key = self.conv_key(inc)
        conv = batch.convs.get(key) if batch is not None else await _load_row(session, key)
        state = _state(conv)
        was_empty = _empty(state)
        not_a_choice: str | None = None
        current: dict[str, Any] | None = None
        if inc.channel in NUMBERED_CHANNELS:
            current = await self._load_choices(session, inc.channel, inc.chat_id)
            picked = self._numbered_choice(inc, current)
            if isinstance(picked, str):
                not_a_choice = picked
            else:
                inc = picked
        ctx = Context(incoming=inc, session=session, state=state, services=svc, now=now, prepared=prepared)
        if inc.truncated:
            ctx.reply(t("error.too_long"))
        if not_a_choice is not None:  # the choices stay on screen: remembered again below
            ctx.reply(not_a_choice)
            ctx.sent.append((inc.channel, inc.chat_id, _choices_reply(current or {})))
        else:
            await self.router.dispatch(ctx)
        if not (was_empty and _empty(state)):  # a conversation without state needs no row (or update)
            await _save_row(session, conv, key, state.flow, state.step, state.data, now)
        await self._remember_choices(
            session, now, [(inc.channel, inc.chat_id, r) for r in ctx.replies] + ctx.sent
        )
        if inc.chat_type == "private" and inc.channel in WINDOW_CHANNELS:
            await self._touch_window(session, inc, now)
        rows = [
            svc.outbox.row_values(channel=inc.channel, chat_id=inc.chat_id, reply=reply,
                                  is_group=inc.chat_type == "group", purpose=Purpose.REPLY)
            for reply in ctx.replies
        ]
        if batch is not None:
            batch.outbox_rows.extend(rows)  # inserted with the batch's, in this order
        else:
            for row in rows:  # one statement each: ids (the sending order within a chat) in reply order
                await svc.outbox.enqueue_many(session, [row])

    @staticmethod
    async def _first_delivery(session: Any, inc: Incoming, now: Any, lock_key: str) -> bool:
        """Record the update as processed (in the update's transaction); False if it already was.

        One ``INSERT … ON CONFLICT DO NOTHING``: on PostgreSQL a concurrent transaction inserting the same key
        makes it wait for that one's outcome, then insert nothing (it committed) or the row (it rolled back).
        On PostgreSQL the same statement first takes the chat's advisory lock (``lock_across_processes``)."""
        params = {"key": _processed_key(inc), "created_at": now}
        if session.get_bind().dialect.name == "postgresql":
            result = await session.execute(_LOCKED_FIRST_DELIVERY, {**params, "lock": advisory_key(lock_key)})
        else:
            result = await session.execute(_FIRST_DELIVERY["sqlite"], params)
        return result.first() is not None

    async def _touch_window(self, session: Any, inc: Incoming, now: Any) -> None:
        addr_key = self.services.identity.key("addr", inc.channel, inc.chat_id)
        window = await session.get(ChatWindow, addr_key)
        if window is None:
            session.add(ChatWindow(addr_key=addr_key, last_inbound_at=now))
        else:
            window.last_inbound_at = now

    def _choices_key(self, channel: str, chat_id: str) -> str:
        return self.services.identity.key("choices", channel, chat_id)

    async def _load_choices(self, session: Any, channel: str, chat_id: str) -> dict[str, Any] | None:
        row = await _load_row(session, self._choices_key(channel, chat_id))
        return row.data if row is not None and row.data else None

    async def _remember_choices(self, session: Any, now: Any, messages: list[tuple[str, str, Reply]]) -> None:
        """Chats without real buttons: the buttons of the last message sent to each chat are its choices.

        A later message without buttons ends them (its choices are no longer on screen); a message that asks
        for typed text (``Reply.text_input``) keeps its buttons only as label words."""
        latest: dict[tuple[str, str], Reply] = {}
        for channel, chat_id, reply in messages:
            if channel in NUMBERED_CHANNELS:
                latest[(channel, chat_id)] = reply
        for (channel, chat_id), reply in latest.items():
            flat = [b for row in reply.buttons for b in row]
            data = {
                CHOICES_KEY: [b.data for b in flat],
                WORDS_KEY: [label_word(b.label) for b in flat],
                TEXT_KEY: reply.text_input,
            }
            # written without reading the row first: an upsert, or (no buttons) an UPDATE of a row if there is one
            key = self._choices_key(channel, chat_id)
            if flat:
                await session.execute(_UPSERT_CHOICES[session.get_bind().dialect.name],
                                      {"conv_key": key, "data": data, "updated_at": now})
            else:
                await session.execute(_END_CHOICES, {"b_key": key, "b_data": data, "b_at": now})

    @staticmethod
    def _numbered_choice(inc: Incoming, current: dict[str, Any] | None) -> Incoming | str:
        """On channels without real buttons, "2" picks the second button of the last message.

        Only the message still on screen counts, and only when it asks for a choice: at a step that asks for
        typed text a digit stays text (a button is typed as its label word there). Returns the text of a
        reply instead when the number is not one of the choices."""
        choices: list[str] = (current or {}).get(CHOICES_KEY) or []
        if not choices or inc.callback is not None or inc.media:
            return inc
        words: list[str] = (current or {}).get(WORDS_KEY) or []
        typed = label_word(inc.text)
        if typed and typed in words:
            return replace(inc, text="", callback=choices[words.index(typed)])
        if (current or {}).get(TEXT_KEY):
            return inc
        text = inc.text.strip().rstrip(".")
        if text.isdecimal():
            n = int(text)
            if 1 <= n <= len(choices):
                return replace(inc, text="", callback=choices[n - 1])
            return t("choice.out_of_range", n=text[:6], max=len(choices)) if len(choices) > 1 else t(
                "choice.out_of_range_one", n=text[:6])
        return inc

    async def _enqueue_error(self, inc: Incoming) -> None:
        try:
            async with self._turn(), self.services.sessions() as session, session.begin():
                await self.services.outbox.enqueue(
                    session,
                    channel=inc.channel,
                    chat_id=inc.chat_id,
                    reply=Reply(text=t("error.generic")),
                    is_group=inc.chat_type == "group",
                    purpose=Purpose.REPLY,
                )
        except Exception:
            log.exception("could not queue the error reply")


def _choices_reply(current: dict[str, Any]) -> Reply:
    """A stand-in for the message whose choices are still current (its buttons, its text-input flag)."""
    buttons = [[Button(word or "-", data)] for data, word in zip(current.get(CHOICES_KEY) or [],
                                                                 current.get(WORDS_KEY) or [], strict=False)]
    return Reply(buttons=buttons, text_input=bool(current.get(TEXT_KEY)))


def _empty(state: FlowState) -> bool:
    return state.flow is None and state.step is None and not state.data


def _without_nul(inc: Incoming) -> Incoming:
    """NUL characters cannot be stored in PostgreSQL text columns (the update would fail): drop them."""
    if not any(v and "\x00" in v for v in (inc.text, inc.callback, inc.update_key)):
        return inc
    return replace(
        inc,
        text=inc.text.replace("\x00", ""),
        callback=inc.callback.replace("\x00", "") if inc.callback else inc.callback,
        update_key=inc.update_key.replace("\x00", "") if inc.update_key else inc.update_key,
    )
