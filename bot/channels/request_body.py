"""Reading a webhook's request body with a size cap (Telegram and WhatsApp webhooks)."""

from __future__ import annotations

from starlette.requests import Request

MAX_BODY = 1_000_000


async def read_limited(request: Request, limit: int = MAX_BODY) -> bytes | None:
    """The request body, or None when it exceeds ``limit`` bytes."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return body
