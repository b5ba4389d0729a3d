"""One ASGI app (Starlette, served by uvicorn) for webhooks and health checks.

* ``POST /telegram`` — Telegram webhook mode; the ``X-Telegram-Bot-Api-Secret-Token`` header must match
  ``telegram.webhook_secret`` (403 otherwise), body must be a JSON object (400 otherwise).
* ``GET /health`` — database reachable and outbox backlog, for load balancers and monitoring.
Channel modules add their own routes (WhatsApp: ``bot/channels/whatsapp.py``).
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.channels.request_body import read_limited
from bot.storage.models import Outbox

if TYPE_CHECKING:
    from bot.app.runtime import Runtime
    from bot.channels.telegram import TelegramChannel

log = logging.getLogger(__name__)

def build_app(
    rt: Runtime, telegram: TelegramChannel | None = None, extra_routes: list[Route] | None = None
) -> Starlette:
    async def health(_request: Request) -> Response:
        try:
            async with rt.services.sessions() as s:
                pending = await s.scalar(select(func.count()).select_from(Outbox).where(Outbox.status == "pending"))
        except Exception as exc:
            log.error("health check: database unreachable", extra={"error": type(exc).__name__})
            return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok", "outbox_pending": int(pending or 0)})

    async def telegram_webhook(request: Request) -> Response:
        if telegram is None:
            return PlainTextResponse("telegram webhook not enabled", status_code=404)
        secret = rt.settings.telegram.webhook_secret
        given = request.headers.get("x-telegram-bot-api-secret-token", "")
        if secret is None or not hmac.compare_digest(given.encode(), secret.get_secret_value().encode()):
            log.warning("telegram webhook: wrong or missing secret token")
            return PlainTextResponse("forbidden", status_code=403)
        body = await read_limited(request)
        if body is None:
            return PlainTextResponse("payload too large", status_code=413)
        try:
            data: Any = json.loads(body)
        except ValueError:
            data = None
        if not isinstance(data, dict) or "update_id" not in data:
            log.warning("telegram webhook: malformed update")
            return PlainTextResponse("bad request", status_code=400)
        await telegram.process_webhook_update(data)
        return PlainTextResponse("ok")

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/telegram", telegram_webhook, methods=["POST"]),
        *(extra_routes or []),
    ]
    return Starlette(routes=routes)
