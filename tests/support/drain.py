"""Drained checks: wait until nothing more can leave the outbox, then assert what did (or did not) go out.

An absence check after a fixed sleep cannot catch a retry that comes later; after ``drained`` it can: a row that
will be retried is still ``pending`` (with a later ``next_attempt_at``), so ``drained`` waits for it too.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.outbox.ports import OutboxStatus
from bot.storage.db import SessionMaker
from bot.storage.models import Outbox


async def outbox_busy(sessions: SessionMaker) -> int:
    """Rows that may still be sent: pending (now or later) or being sent."""
    async with sessions() as s:
        return int(
            await s.scalar(
                select(func.count())
                .select_from(Outbox)
                .where(Outbox.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]))
            )
            or 0
        )


async def drained(sessions: SessionMaker, timeout: float = 20.0) -> None:
    """Return once the outbox has no pending or sending row; fail the test after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (busy := await outbox_busy(sessions)) > 0:
        if loop.time() > deadline:
            raise AssertionError(f"outbox not drained after {timeout} s: {busy} row(s) pending or sending")
        await asyncio.sleep(0.02)
