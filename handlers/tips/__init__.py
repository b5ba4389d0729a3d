"""The tip feature: anonymous violation tips from the public to the Bawaslu group of their region."""

from __future__ import annotations

from bot.core.router import Router
from handlers.tips import flow, group


def register(router: Router) -> None:
    flow.register(router)
    group.register(router)
