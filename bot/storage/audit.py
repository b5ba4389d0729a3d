"""The audit log: who did what, for accountability (admin broadcasts, actions on tips).

Actors are officials (admins, Bawaslu group members), never reporters. Admin broadcasts name the admin's
channel id; actions on tips name the group member by a pseudonym (``handlers.tips.cases.actor``), so the
log shows that one member did several things without storing who they are.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import AuditLog


def audit(session: AsyncSession, actor: str, action: str, now: datetime, **detail: Any) -> None:
    """Add one audit row to the session's transaction (committed with the action it records)."""
    session.add(AuditLog(at=now, actor=actor[:64], action=action[:48], detail=detail))
