"""Shared by the multi-worker test and ``benchmarks/outbox_workers.py``: seed an outbox, run
``python -m bot worker`` processes against a fake Telegram server, wait, collect what happened."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.core.identity import Identity
from bot.core.model import Reply
from bot.outbox.store import OutboxStore
from bot.storage.db import create_engine, session_maker
from bot.storage.models import Outbox

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "123456:TEST-TOKEN"
FIRST_CHAT = 700_000


def message_text(i: int) -> str:
    return f"Pesan uji {i}"


async def seed_outbox(url: str, n: int, secret: str, *, chunk: int = 1000) -> None:
    """``n`` pending Telegram rows, one per private chat (chat ids FIRST_CHAT…), text ``message_text(i)``."""
    store = OutboxStore(Identity(secret))
    engine = create_engine(url)
    try:
        sessions = session_maker(engine)
        for start in range(0, n, chunk):
            rows = [
                store.row_values(channel="telegram", chat_id=str(FIRST_CHAT + i), reply=Reply(message_text(i)),
                                 purpose="broadcast", idem_key=f"load:{i}")
                for i in range(start, min(n, start + chunk))
            ]
            async with sessions() as s, s.begin():
                await store.enqueue_many(s, rows)
    finally:
        await engine.dispose()


async def status_counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(select(Outbox.status, func.count()).group_by(Outbox.status))
            return {status: int(count) for status, count in rows.all()}
    finally:
        await engine.dispose()


async def sent_span(url: str) -> float:
    """Seconds between the first and the last ``sent_at``."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            first, last = (await conn.execute(select(func.min(Outbox.sent_at), func.max(Outbox.sent_at)))).one()
    finally:
        await engine.dispose()
    return (last - first).total_seconds() if first and last else 0.0


async def wait_all_sent(url: str, n: int, timeout: float, procs: list[subprocess.Popen[bytes]]) -> dict[str, int]:
    """Poll until ``n`` rows are ``sent`` (or a worker died, or timeout); returns the last status counts."""
    deadline = time.monotonic() + timeout
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        counts = await status_counts(url)
        if counts.get("sent", 0) >= n:
            return counts
        if any(p.poll() is not None for p in procs):
            return counts
        await asyncio.sleep(0.2)
    return counts


def write_config(path: Path, *, db_url: str, secret: str, fake_url: str, processes: int) -> Path:
    path.write_text(
        "\n".join([
            'log_level = "INFO"',
            "[database]", f'url = "{db_url}"',
            "[security]", f'secret_key = "{secret}"',
            "[telegram]", f'token = "{TOKEN}"', f'base_url = "{fake_url}/bot"',
            f'base_file_url = "{fake_url}/file/bot"',
            "[rate_limits]", "telegram_global_per_sec = 1000000", "telegram_per_chat_per_sec = 1000",
            f"sender_processes = {processes}",
            "",
        ]),
        encoding="utf-8",
    )
    return path


@dataclass
class WorkerProc:
    proc: subprocess.Popen[bytes]
    log_path: Path

    def stats(self) -> dict[str, Any]:
        """The fields of the ``worker stopped`` log line (empty when the worker did not stop cleanly)."""
        for line in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if data.get("msg") == "worker stopped":
                return data
        return {}

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-3000:]


def start_workers(config: Path, count: int, log_dir: Path) -> list[WorkerProc]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAGANETRAL_")}
    env["PYTHONUNBUFFERED"] = "1"
    workers = []
    for i in range(count):
        log_path = log_dir / f"worker{i}.log"
        with log_path.open("wb") as log_file:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bot", "--config", str(config), "worker"],
                cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
            )
        workers.append(WorkerProc(proc, log_path))
    return workers


def stop_workers(workers: list[WorkerProc], timeout: float = 20.0) -> list[int | None]:
    """SIGTERM (graceful: in-flight sends finish), then SIGKILL after ``timeout``; returns exit codes."""
    for w in workers:
        if w.proc.poll() is None:
            w.proc.send_signal(signal.SIGTERM)
    codes: list[int | None] = []
    for w in workers:
        try:
            codes.append(w.proc.wait(timeout))
        except subprocess.TimeoutExpired:
            w.proc.kill()
            w.proc.wait(5)
            codes.append(None)
    return codes
