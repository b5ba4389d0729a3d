"""Crash-safety scenario shared by ``tests/reliability/test_crash.py`` and ``benchmarks/reliability.py``.

The bot runs as a real subprocess (``python -m bot --config FILE run``) against the fake Telegram Bot API
server running in ANOTHER process (``FakeTelegramProcess``), so the fake and its record survive the bot's
``kill -9``. Meanwhile:

* ``tips`` reporters fill in /lapor as real users would: each acts on the LAST message the bot sent them
  (press the offered button, type the asked text) and, when nothing comes for ``retry_seconds``, repeats
  their last action (an update the killed bot had fetched but not processed is lost: Telegram considers
  it delivered once the next getUpdates confirms it);
* a broadcast to ``recipients`` subscribers is due at start and sent at ``broadcast_rate`` messages/s;
* the bot is SIGKILLed ``kills`` times at random moments and restarted at once.

Afterwards: every acknowledged tip (the reporter received its receipt code) must appear exactly once in
its Bawaslu group; every broadcast recipient got the broadcast at most once, and every recipient who got
nothing has an outbox row marked ``unknown`` (crash while sending: at-most-once by design).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from bot.core.clock import utcnow
from bot.core.identity import Identity
from bot.storage.db import create_engine, session_maker
from bot.storage.migrate import upgrade
from bot.storage.models import Broadcast, Outbox, Subscriber, Tip
from bot.texts import t
from tests.reliability import anon
from tests.reliability.flows import CODE_RE
from tests.support.fakes.telegram_server import FakeTelegramProcess, RecordedCall, make_callback, make_message

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "123456:CRASH-TOKEN"
SECRET = "reliability-secret-0123456789-abcdefghijklmnop"
ADMIN_ID = 4242
GROUP = -100111  # Bawaslu Kutai Kartanegara
FIRST_RECIPIENT = 50_000_000
BROADCAST_TEXT = "Siaran uji ketahanan: ASN wajib netral"


@dataclass
class CrashConfig:
    tips: int = 20
    recipients: int = 300
    kills: int = 3
    broadcast_rate: float = 40.0  # messages/s (Telegram allows 30)
    kill_window: tuple[float, float] = (1.5, 4.0)  # seconds after a (re)start
    retry_seconds: float = 6.0
    timeout: float = 120.0
    seed: int = 1


@dataclass
class CrashResult:
    config: dict[str, Any]
    kills: int = 0
    seconds: float = 0.0
    tips_acknowledged: int = 0
    tips_in_db: int = 0
    tips_not_acknowledged: int = 0
    tip_group_duplicates: int = 0
    tip_group_lost: int = 0
    user_retries: int = 0
    reply_duplicates: int = 0  # replies re-sent after a crash (by design: replies are at-least-once)
    broadcast_recipients: int = 0
    broadcast_delivered: int = 0
    broadcast_duplicates: int = 0
    broadcast_lost: int = 0
    broadcast_unknown_rows: int = 0
    broadcast_unknown_but_delivered: int = 0
    lost_without_unknown_row: int = 0
    outbox_status: dict[str, int] = field(default_factory=dict)
    # rows still pending or sending when the bot stopped (what each was, for the failure message)
    outbox_open: list[dict[str, Any]] = field(default_factory=list)
    recovery_log_lines: int = 0
    recovered_unknown: int = 0  # rows found "sending" at a restart: broadcast rows marked unknown
    recovered_resent: int = 0  # ... and reply/tip rows sent again
    anonymity_findings: list[str] = field(default_factory=list)
    api_calls_scanned: int = 0
    log_lines_scanned: int = 0

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


# --- setup ---------------------------------------------------------------------------------------------
def write_config(path: Path, db_url: str, fake_url: str, rate: float) -> Path:
    path.write_text("\n".join([
        'log_level = "DEBUG"',
        "[database]", f'url = "{db_url}"',
        "[security]", f'secret_key = "{SECRET}"',
        "[telegram]", f'token = "{TOKEN}"', f'base_url = "{fake_url}/bot"', f'base_file_url = "{fake_url}/file/bot"',
        f"admin_ids = [{ADMIN_ID}]", "poll_timeout = 1",
        "[rate_limits]", f"telegram_global_per_sec = {rate}", "telegram_per_chat_per_sec = 1000",
        "telegram_per_group_per_min = 100000",
        "[tips]", "max_per_day = 1000",
        "[bawaslu_groups]", f'"64.02" = {GROUP}', f"default = {GROUP}",
        "",
    ]), encoding="utf-8")
    return path


async def seed(db_url: str, recipients: int) -> None:
    """Migrated schema, ``recipients`` active subscribers and one broadcast due now."""
    ident = Identity(SECRET)
    engine = create_engine(db_url)
    try:
        await upgrade(engine)
        sessions = session_maker(engine)
        async with sessions() as s, s.begin():
            for start in range(0, recipients, 5000):
                await s.execute(insert(Subscriber), [
                    {"channel": "telegram", "addr_key": ident.key("addr", "telegram", str(FIRST_RECIPIENT + i)),
                     "addr_enc": ident.seal("telegram", str(FIRST_RECIPIENT + i)), "region_code": "64.02",
                     "role": "asn", "active": True, "blocked": False}
                    for i in range(start, min(recipients, start + 5000))
                ])
            s.add(Broadcast(text=BROADCAST_TEXT, audience="all", scheduled_at=utcnow(), status="scheduled",
                            creator_channel="telegram", creator_enc=ident.seal("telegram", str(ADMIN_ID)),
                            creator_label=f"telegram:{ADMIN_ID}"))
    finally:
        await engine.dispose()


class BotProcess:
    def __init__(self, config: Path, log_path: Path, argv: list[str] | None = None) -> None:
        self.config, self.log_path = config, log_path
        self.argv = argv  # instead of ``python -m bot --config CONFIG run``
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JAGANETRAL_")}
        env["PYTHONUNBUFFERED"] = "1"
        with self.log_path.open("ab") as log_file:
            argv = self.argv or [sys.executable, "-m", "bot", "--config", str(self.config), "run"]
            self.proc = subprocess.Popen(argv,
                                         cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 30.0) -> int | None:
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                return proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
                return None
        return proc.returncode

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


# --- the fake's record, followed from this process ----------------------------------------------------------
class Feed:
    """Polls the fake server's call log (HTTP control API) and indexes successful sends by chat."""

    def __init__(self, fake: FakeTelegramProcess) -> None:
        assert fake.control is not None
        self.control = fake.control
        self.calls: list[RecordedCall] = []
        self.by_chat: dict[int, list[RecordedCall]] = {}
        self.changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def poll_once(self) -> None:
        batch = await asyncio.to_thread(self.control.calls, len(self.calls))
        for call in batch:
            self.calls.append(call)
            if call.ok and call.method.startswith("send") and isinstance(call.chat_id, int):
                self.by_chat.setdefault(call.chat_id, []).append(call)
        if batch:
            self.changed.set()

    async def run(self) -> None:
        while True:
            await self.poll_once()
            await asyncio.sleep(0.1)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.poll_once()


def _buttons(call: RecordedCall) -> list[str]:
    markup = call.params.get("reply_markup") or {}
    if not isinstance(markup, dict):
        return []
    return [str(b.get("callback_data")) for row in markup.get("inline_keyboard", []) for b in row]


class Reporter:
    """A user filling in /lapor who reacts to the bot's last message and repeats themselves when ignored."""

    def __init__(self, uid: int, feed: Feed, fake: FakeTelegramProcess, retry: float) -> None:
        self.uid, self.feed, self.retry = uid, feed, retry
        assert fake.control is not None
        self.control = fake.control
        self.codes: set[str] = set()
        self.retries = 0
        self.pressed_ok = False
        self._last: dict[str, Any] | None = None

    def _update(self, kind: str, value: str) -> dict[str, Any]:
        names = {"username": f"{anon.USERNAME}{self.uid % 1000}", "first_name": anon.FIRST_NAME}
        if kind == "text":
            return make_message(self.uid, self.uid, value, last_name=anon.LAST_NAME, **names)
        return make_callback(self.uid, self.uid, value, **names)

    async def act(self, kind: str, value: str) -> None:
        self._last = {"kind": kind, "value": value}
        if value == "lapor:ok":
            self.pressed_ok = True
        await asyncio.to_thread(self.control.inject_update, self._update(kind, value))

    def decide(self, call: RecordedCall) -> tuple[str, str] | None:
        text, buttons = call.text or "", _buttons(call)
        for prefix, action in (("lapor:c:", "lapor:c:medsos"), ("lapor:ok", "lapor:ok"),
                               ("lapor:done", "lapor:done"), ("lapor:skip", "lapor:skip")):
            if any(b.startswith(prefix) for b in buttons):
                return ("press", action)
        if "Langkah 4/6" in text:
            return ("text", "Kantor camat, Senin 10.00")
        if "Langkah 5/6" in text:
            return ("text", f"Kejadian uji nomor {self.uid - anon.REPORTER_ID_BASE}")
        if text.startswith(t("tips.expired")[:20]) and not self.pressed_ok:
            return ("text", "/lapor Kukar")
        return None

    async def run(self, deadline: float) -> None:
        seen = 0
        await self.act("text", "/lapor Kukar")
        acted_at = time.monotonic()
        while not self.codes and time.monotonic() < deadline:
            msgs = self.feed.by_chat.get(self.uid, [])
            if len(msgs) > seen:
                new, seen = msgs[seen:], len(msgs)
                for call in new:
                    m = CODE_RE.search(call.text or "")
                    if m:
                        self.codes.add(m.group(0))
                if self.codes:
                    return
                action = self.decide(new[-1])
                if action is not None:
                    await self.act(*action)
                acted_at = time.monotonic()
            elif time.monotonic() - acted_at > self.retry and self._last is not None:
                self.retries += 1
                await self.act(self._last["kind"], self._last["value"])
                acted_at = time.monotonic()
            self.feed.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.feed.changed.wait(), 0.3)


def make_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)


# --- the scenario ------------------------------------------------------------------------------------------
async def _broadcast_settled(db_url: str) -> bool:
    engine = create_engine(db_url)
    try:
        async with session_maker(engine)() as s:
            b = await s.scalar(select(Broadcast))
            if b is None or not b.expanded:
                return False
            open_rows = await s.scalar(select(func.count()).select_from(Outbox).where(
                Outbox.status.in_(("pending", "sending"))))
            return int(open_rows or 0) == 0
    finally:
        await engine.dispose()


async def _db_facts(db_url: str) -> tuple[dict[str, int], set[int], int, list[str]]:
    ident = Identity(SECRET)
    engine = create_engine(db_url)
    try:
        async with session_maker(engine)() as s:
            status = {k: int(v) for k, v in (await s.execute(
                select(Outbox.status, func.count()).group_by(Outbox.status))).all()}
            unknown = (await s.scalars(select(Outbox.addr_enc).where(
                Outbox.status == "unknown", Outbox.broadcast_id.is_not(None)))).all()
            unknown_chats = {int(ident.open(enc)[1]) for enc in unknown}
            tips = int(await s.scalar(select(func.count()).select_from(Tip)) or 0)
            codes = list((await s.scalars(select(Tip.code))).all())
        return status, unknown_chats, tips, codes
    finally:
        await engine.dispose()


async def _open_rows(db_url: str) -> list[dict[str, Any]]:
    engine = create_engine(db_url)
    try:
        async with session_maker(engine)() as s:
            rows = (await s.scalars(select(Outbox).where(Outbox.status.in_(("pending", "sending"))))).all()
            return [{"id": r.id, "status": r.status, "purpose": r.purpose, "is_group": r.is_group,
                     "attempts": r.attempts, "created_at": str(r.created_at), "next_attempt_at": str(r.next_attempt_at),
                     "last_error": r.last_error, "text": str((r.payload or {}).get("text", ""))[:60]} for r in rows]
    finally:
        await engine.dispose()


async def run_scenario(workdir: Path, db_url: str | None = None, cfg: CrashConfig | None = None) -> CrashResult:
    cfg = cfg or CrashConfig()
    rng = random.Random(cfg.seed)
    make_dir(workdir)
    db_url = db_url or f"sqlite+aiosqlite:///{workdir / 'crash.db'}"
    result = CrashResult(config=dict(cfg.__dict__))
    await seed(db_url, cfg.recipients)
    fake = FakeTelegramProcess().start()
    log_path = workdir / "bot.log"
    bot = BotProcess(write_config(workdir / "config.toml", db_url, fake.url, cfg.broadcast_rate), log_path)
    feed = Feed(fake)
    feed.start()
    started = time.monotonic()
    deadline = started + cfg.timeout
    ids = anon.reporter_ids(cfg.tips)
    reporters = [Reporter(uid, feed, fake, cfg.retry_seconds) for uid in ids]
    try:
        bot.start()
        users = asyncio.gather(*(r.run(deadline) for r in reporters))
        for _ in range(cfg.kills):
            await asyncio.sleep(rng.uniform(*cfg.kill_window))
            bot.kill9()
            result.kills += 1
            bot.start()
        await users
        while time.monotonic() < deadline:
            if await _broadcast_settled(db_url):
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(0.5)
    finally:
        bot.stop()
        await feed.stop()
        fake.stop()
    result.seconds = round(time.monotonic() - started, 1)

    # --- tips
    acked = set().union(*(r.codes for r in reporters))
    group_codes = Counter(m.group(0) for c in feed.by_chat.get(GROUP, []) for m in [CODE_RE.search(c.text or "")] if m
                          and "Informasi awal" in (c.text or ""))
    result.tips_acknowledged = len(acked)
    result.tips_not_acknowledged = sum(1 for r in reporters if not r.codes)
    result.tip_group_duplicates = sum(max(0, group_codes[c] - 1) for c in acked)
    result.tip_group_lost = sum(1 for c in acked if group_codes[c] == 0)
    result.user_retries = sum(r.retries for r in reporters)
    reply_counter = Counter((c.chat_id, c.text) for uid in ids for c in feed.by_chat.get(uid, []))
    result.reply_duplicates = sum(n - 1 for n in reply_counter.values() if n > 1)

    # --- broadcast
    status, unknown_chats, tips_in_db, _codes = await _db_facts(db_url)
    result.outbox_status, result.tips_in_db = status, tips_in_db
    if {"pending", "sending"} & set(status):
        result.outbox_open = await _open_rows(db_url)
    recipients = range(FIRST_RECIPIENT, FIRST_RECIPIENT + cfg.recipients)
    got = Counter({chat: sum(1 for c in feed.by_chat.get(chat, []) if BROADCAST_TEXT in (c.text or ""))
                   for chat in recipients})
    lost = {chat for chat in recipients if got[chat] == 0}
    result.broadcast_recipients = cfg.recipients
    result.broadcast_delivered = sum(1 for chat in recipients if got[chat] > 0)
    result.broadcast_duplicates = sum(max(0, n - 1) for n in got.values())
    result.broadcast_lost = len(lost)
    result.broadcast_unknown_rows = len(unknown_chats)
    result.broadcast_unknown_but_delivered = len(unknown_chats - lost)
    result.lost_without_unknown_row = len(lost - unknown_chats)

    # --- logs and anonymity
    log_text = log_path.read_text(encoding="utf-8", errors="replace")
    for line in log_text.splitlines():
        if "outbox recovery after unclean stop" in line:
            rec = json.loads(line)
            result.recovery_log_lines += 1
            result.recovered_unknown += int(rec.get("unknown", 0))
            result.recovered_resent += int(rec.get("resend", 0))
    idents = anon.identifiers_for(ids) + tuple(f"{anon.USERNAME}{uid % 1000}" for uid in ids)
    result.anonymity_findings = anon.scan_calls(feed.calls, idents) + anon.scan(log_text, idents, where="bot log")
    result.api_calls_scanned = len(feed.calls)
    result.log_lines_scanned = log_text.count("\n")
    return result


def bot_errors(workdir: Path) -> list[dict[str, Any]]:
    """ERROR records of the bot's JSON log (e.g. "handler failed")."""
    out = []
    for line in (workdir / "bot.log").read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("level") in ("ERROR", "CRITICAL"):
            out.append(rec)
    return out
