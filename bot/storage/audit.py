"""The audit log: who did what, when (broadcasts, cancellations, case actions, missed work)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import AuditLog


def audit(session: AsyncSession, actor: str, action: str, now: datetime, **detail: Any) -> None:
    """Add one audit row to the session's transaction (committed with the action it records)."""
    session.add(AuditLog(at=now, actor=actor[:64], action=action[:48], detail=detail))
