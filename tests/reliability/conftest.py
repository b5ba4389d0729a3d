"""Fixtures of the reliability suite: production logging + the anonymity audit on every test, and a
Telegram harness (real PTB Application + Runtime) against the in-process fake Bot API server."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.logs import setup_logging
from tests.reliability import anon
from tests.support.fakes.telegram_server import FakeTelegramServer
from tests.support.telegram_harness import TelegramHarness, telegram_overrides

ADMIN_ID = 4242
GROUP_KUKAR = -100111  # Bawaslu Kutai Kartanegara (64.02)
GROUP_KALTIM = -100222  # Bawaslu Kalimantan Timur (64): every other 64.xx region
GROUP_DEFAULT = -100999
GROUPS = {"64.02": GROUP_KUKAR, "64": GROUP_KALTIM, "default": GROUP_DEFAULT}
FAST_LIMITS = {  # rate limits lifted: the suite measures robustness, not the pacing (tested elsewhere)
    "telegram_global_per_sec": 100000, "telegram_per_chat_per_sec": 1000, "telegram_per_group_per_min": 100000,
    "whatsapp_per_sec": 100000,
}
_NOISY = ("httpx", "httpcore", "telegram", "apscheduler", "aiosqlite", "alembic", "asyncio", "uvicorn.access")


@dataclass
class Audit:
    """What the anonymity audit scans when the test ends (besides the captured log records)."""

    servers: list[Any] = field(default_factory=list)  # FakeTelegramServer / lists of RecordedCall
    texts: list[tuple[str, str]] = field(default_factory=list)  # (where, text): exports, subprocess logs …
    identifiers: set[str] = field(default_factory=lambda: set(anon.IDENTIFIERS))
    scanned: dict[str, int] = field(default_factory=dict)

    def add_ids(self, ids: list[int]) -> None:
        self.identifiers.update(str(i) for i in ids)

    def findings(self, records: list[logging.LogRecord], log_file: Path) -> list[str]:
        idents = tuple(sorted(self.identifiers))
        found = anon.scan_records(records, idents)
        calls: list[Any] = []
        for s in self.servers:
            calls += list(s.calls) if hasattr(s, "calls") and not callable(s.calls) else list(s)
        found += anon.scan_calls(calls, idents)
        log_text = log_file.read_text(encoding="utf-8") if log_file.exists() else ""
        found += anon.scan(log_text, idents, where="json log file")
        for where, text in self.texts:
            found += anon.scan(text, idents, where=where)
        self.scanned = {"log_records": len(records), "api_calls": len(calls),
                        "log_lines": log_text.count("\n"), "other_texts": len(self.texts)}
        return found


@pytest.fixture(autouse=True)
def audit(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> Iterator[Audit]:
    """Production logging (JSON formatter, third-party loggers at WARNING) at DEBUG for our loggers, and at
    teardown: zero reporter identifiers in log records, the JSON log, recorded API calls and registered texts."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, {n: logging.getLogger(n).level for n in _NOISY})
    log_file = tmp_path / "bot-log.jsonl"
    setup_logging("DEBUG", log_file)
    file_handler = root.handlers[0]
    root.handlers.extend(h for h in saved[0] if h not in root.handlers)  # keep pytest's capture handlers
    caplog.set_level(logging.DEBUG)
    result = Audit()
    try:
        yield result
        for h in root.handlers:
            h.flush()
        records = caplog.get_records("setup") + caplog.get_records("call")
        findings = result.findings(records, log_file)
        assert not findings, f"reporter identifiers leaked: {findings[:20]}"
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)
        file_handler.close()


def error_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """ERROR (and worse) records of our own loggers, e.g. "handler failed", "sender raised"."""
    ours = ("bot", "handlers", "broadcasts", "faq")
    return [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR and r.name.split(".")[0] in ours]


def json_log_lines(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


@pytest.fixture
async def tg_server(audit: Audit) -> AsyncIterator[FakeTelegramServer]:
    server = FakeTelegramServer()
    await server.start()
    audit.servers.append(server)
    try:
        yield server
    finally:
        await server.stop()


def reliability_settings(make_settings: Any, server: FakeTelegramServer, **extra: Any) -> Any:
    over: dict[str, Any] = {
        **telegram_overrides(server, admin_ids=[ADMIN_ID]),
        "bawaslu_groups": GROUPS,
        "rate_limits": FAST_LIMITS,
        "tips": {"max_per_day": 1000},
    }
    over.update(extra)
    return make_settings(**over)


@pytest.fixture
async def tg(make_settings: Any, tg_server: FakeTelegramServer) -> AsyncIterator[TelegramHarness]:
    harness = TelegramHarness(reliability_settings(make_settings, tg_server), tg_server)
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()
