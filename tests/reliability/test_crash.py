"""Crash safety: ``kill -9`` of the bot process while tips are submitted and a broadcast is running.

See ``tests/reliability/crash.py`` for the scenario; ``benchmarks/reliability.py`` prints its figures.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.app.runtime import Runtime
from bot.core.clock import set_clock, utcnow
from bot.core.model import Reply
from bot.outbox.ports import Claimed, SendResult
from bot.outbox.store import LEASE
from bot.storage.models import Outbox
from tests.reliability.crash import CrashConfig, CrashResult, bot_errors, run_scenario


class Recorder:
    channel = "telegram"

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, msg: Claimed, reply: Reply) -> SendResult:
        self.sent.append(reply.text)
        return SendResult("sent", external_id="1")


async def test_rows_a_killed_process_left_sending_are_recovered_while_running(make_settings: Any) -> None:
    """Regression: recovery used to run only at start-up and only for expired leases, so a restart within
    the 2-minute lease left the dead process's in-flight rows in "sending" for good (an acknowledged tip
    never reached its group, a broadcast never finished)."""
    settings = make_settings()
    rt = Runtime.create(settings, {"telegram": (rec := Recorder())})
    try:
        async with rt.services.sessions() as s, s.begin():
            for purpose, text in (("tip", "laporan"), ("broadcast", "siaran")):
                await rt.services.outbox.enqueue(s, channel="telegram", chat_id="-100111", reply=Reply(text),
                                                 is_group=True, purpose=purpose, idem_key=f"k:{purpose}")
            for row in (await s.scalars(select(Outbox))).all():  # what kill -9 mid-send leaves behind
                row.status, row.lease_until, row.attempts = "sending", utcnow() + LEASE, 1
        sqlite = settings.is_sqlite
        if not sqlite:  # other workers may hold live leases: only expired ones are taken over
            set_clock(lambda: datetime.now(UTC) + LEASE + timedelta(seconds=5))
            rt.worker.recovery_every = 0.2
        await rt.start(scheduler=False)
        for _ in range(100):
            async with rt.services.sessions() as s:
                statuses = sorted((await s.scalars(select(Outbox.status))).all())
            if "sending" not in statuses and rec.sent:
                break
            await asyncio.sleep(0.05)
        assert statuses == ["sent", "unknown"]  # the tip is re-sent, the broadcast row is not (at-most-once)
        assert rec.sent == ["laporan"]
    finally:
        await rt.stop()


def _check(result: CrashResult, workdir: Path, cfg: CrashConfig) -> None:
    print(json.dumps(result.to_json()))
    assert result.kills == cfg.kills
    assert result.tips_not_acknowledged == 0, result
    assert result.tips_acknowledged == cfg.tips == result.tips_in_db
    assert result.tip_group_lost == 0
    # Tips are at-least-once by design: a kill after Telegram accepted the group message but before the
    # outbox recorded it re-sends it at restart (same receipt code). Only such rows may duplicate.
    assert result.tip_group_duplicates <= result.recovered_resent
    assert result.broadcast_duplicates == 0
    assert result.lost_without_unknown_row == 0
    assert result.broadcast_lost == result.broadcast_unknown_rows - result.broadcast_unknown_but_delivered
    assert result.broadcast_delivered + result.broadcast_lost == cfg.recipients
    assert not {"pending", "sending"} & set(result.outbox_status), (result.outbox_status, result.outbox_open)
    assert result.anonymity_findings == []
    assert [e.get("msg") for e in bot_errors(workdir)] == []


async def test_kill9_during_tips_and_broadcast(db_url: str, tmp_path: Path) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL: rows of a killed process wait for their 2-minute lease; see the slow variant")
    cfg = CrashConfig(tips=20, recipients=300, kills=3, timeout=150)
    _check(await run_scenario(tmp_path, db_url, cfg), tmp_path, cfg)


@pytest.mark.slow
async def test_kill9_during_tips_and_broadcast_long(db_url: str, tmp_path: Path) -> None:
    cfg = CrashConfig(tips=200, recipients=5000, kills=10, broadcast_rate=60, kill_window=(4.0, 12.0), timeout=900,
                      retry_seconds=20)
    _check(await run_scenario(tmp_path, db_url, cfg), tmp_path, cfg)
