"""Who receives a broadcast or a stage reminder: subscriber filters.

The scheduler copies the matching subscribers into the outbox ``CHUNK`` at a time in primary-key order (keyset
pagination, inside the database: ``OutboxStore.enqueue_audience``), so a broadcast to 100,000 subscribers
never holds them in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from bot import regions
from bot.storage.models import Subscriber
from broadcasts.timeline import Timeline

AUDIENCES = ("all", "region", "asn")
ROLES = ("asn", "publik")
CHUNK = 1000  # subscribers per expansion transaction (copied inside the database: OutboxStore.enqueue_audience)


@dataclass(frozen=True)
class Audience:
    """``kind`` all | region | asn; ``region_code`` for "region"; ``role`` narrows any kind to a role."""

    kind: str = "all"
    region_code: str | None = None
    role: str | None = None

    def condition(self) -> ColumnElement[bool]:
        conds: list[ColumnElement[bool]] = [Subscriber.active.is_(True)]
        if self.kind == "region":
            if not self.region_code:
                raise ValueError("a region audience needs a region code")
            conds.append(region_condition(self.region_code))
        elif self.kind == "asn":
            conds.append(Subscriber.role == "asn")
        elif self.kind != "all":
            raise ValueError(f"unknown audience {self.kind!r}")
        if self.role:
            conds.append(Subscriber.role == self.role)
        return and_(*conds)


def region_condition(code: str) -> ColumnElement[bool]:
    """Subscribers of a region: the region itself and, for a province, every kabupaten/kota in it."""
    region = regions.get(code)
    norm = region.code if region else code
    if region is not None and region.level == "provinsi":
        return or_(Subscriber.region_code == norm, Subscriber.region_code.like(f"{norm}.%"))
    return Subscriber.region_code == norm


def reminder_condition(timeline: Timeline, tz: str) -> ColumnElement[bool]:
    """Active subscribers whose region the timeline covers and whose region lies in time zone ``tz``."""
    codes = covered_codes(timeline, tz)
    if not codes:
        return and_(Subscriber.active.is_(True), ~true())
    return and_(Subscriber.active.is_(True), Subscriber.region_code.in_(codes))


def covered_codes(timeline: Timeline, tz: str) -> list[str]:
    """Every province and kabupaten/kota code in ``tz`` that ``timeline`` covers (at most ~550)."""
    out: list[str] = []
    for prov in regions.provinces():
        if prov.tz != tz:
            continue
        if timeline.covers(prov.code):
            out.append(prov.code)
        out.extend(k.code for k in regions.kabkota(prov.code) if timeline.covers(k.code))
    return out


async def count(session: AsyncSession, condition: ColumnElement[bool]) -> int:
    return int(await session.scalar(select(func.count()).select_from(Subscriber).where(condition)) or 0)
