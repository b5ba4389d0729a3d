"""WhatsApp channel through Twilio: signed webhooks in, REST messages out, same core as Telegram.

Inbound (``POST /whatsapp``): the ``X-Twilio-Signature`` is checked with twilio's RequestValidator
against the configured public URL (correct behind a reverse proxy); forged or malformed posts get
403/400 and a log line without the sender's number. The message is handled by the core before the
200 is returned (one short transaction), so an acknowledged message is never lost.
STOP/BERHENTI and START/MULAI are mapped to /berhenti and /mulai.

Outbound (``WhatsAppSender``): text is rendered with numbered choices and split under the WhatsApp
limit. Outside the 24-hour customer-service window (last inbound message older than 24 h) only an
approved template may be sent: reminders and broadcasts use the configured Content SIDs; other
messages are failed as "window closed" rather than sent into error 63016.

Status callbacks (``POST /whatsapp/status``, signed the same way) are recorded on the outbox row.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from sqlalchemy import select, update
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from bot.channels.console import render
from bot.config import Settings
from bot.core.clock import utcnow
from bot.core.model import MAX_TEXT_CHARS, Incoming, MediaIn, Reply
from bot.storage.db import SessionMaker
from bot.storage.models import ChatWindow, Outbox
from bot.texts import t
from bot.web import read_limited
from broadcasts.delivery import SendResult
from broadcasts.outbox import Claimed

if TYPE_CHECKING:
    from bot.channels.twilio_client import TwilioSender
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=24)
MAX_BODY_CHARS = 1500  # Twilio documents 1,600 characters per message body
TEMPLATE_PURPOSES = {"broadcast": "broadcast", "reminder": "reminder", "notice": "tip_update"}
KEYWORDS = {
    "STOP": "/berhenti",
    "BERHENTI": "/berhenti",
    "UNSUBSCRIBE": "/berhenti",
    "START": "/mulai",
    "MULAI": "/mulai",
}
PERMANENT_CODES = {21211, 21614, 63003, 63024}  # invalid / non-WhatsApp numbers
BLOCKED_CODES = {21610}  # recipient opted out


def split_text(text: str, limit: int = MAX_BODY_CHARS) -> list[str]:
    """Split at paragraph, line or word boundaries so that each part fits ``limit``."""
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = max(rest.rfind("\n\n", 0, limit), rest.rfind("\n", 0, limit), rest.rfind(" ", 0, limit))
        if cut <= limit // 2:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts or [""]


def render_whatsapp(reply: Reply) -> str:
    text = render(reply)
    n = sum(len(row) for row in reply.buttons)
    if n:
        choices = ", ".join(str(i) for i in range(1, n)) + f" atau {n}" if n > 1 else "1"
        text += "\n\n" + t("whatsapp.reply_with_number", choices=choices)
    return text


class WhatsAppSender:
    channel = "whatsapp"

    def __init__(self, settings: Settings, twilio: TwilioSender, sessions: SessionMaker) -> None:
        self.settings = settings
        self.twilio = twilio
        self.sessions = sessions

    async def _window_open(self, addr_key: str) -> bool:
        async with self.sessions() as s:
            last = await s.scalar(select(ChatWindow.last_inbound_at).where(ChatWindow.addr_key == addr_key))
        return last is not None and utcnow() - last < WINDOW

    async def send(self, msg: Claimed, reply: Reply) -> SendResult:
        wa = self.settings.whatsapp
        assert wa.sender is not None
        to = msg.chat_id
        if not await self._window_open(msg.addr_key):
            purpose = TEMPLATE_PURPOSES.get(msg.purpose)
            sid = wa.templates.get(purpose) if purpose else None
            if sid is None:
                return SendResult("failed", error="whatsapp window closed and no template for this message")
            body = render(Reply(text=reply.text, html=reply.html))
            outcome = await self.twilio.send_template(to, wa.sender, sid, {"1": body[:1000]})
            return self._result(outcome)
        last: SendResult = SendResult("sent")
        for part in split_text(render_whatsapp(reply)):
            last = self._result(await self.twilio.send_text(to, wa.sender, part))
            if last.status != "sent":
                return last
        return last

    @staticmethod
    def _result(outcome: Any) -> SendResult:
        if outcome.ok:
            return SendResult("sent", external_id=outcome.sid)
        code = outcome.code
        if outcome.status == 429 or code == 20429:
            return SendResult("retry", retry_after=outcome.retry_after or 1.0, error=f"twilio {code}")
        if code in BLOCKED_CODES:
            return SendResult("blocked", error=f"twilio {code}")
        if code == 63016:
            return SendResult("failed", error="twilio 63016: outside the 24h window")
        if outcome.status is None or outcome.status >= 500 or code in (None, 20500, 20503):
            return SendResult("retry", error=f"twilio {outcome.status} {code}")
        if code in PERMANENT_CODES or 400 <= outcome.status < 500:
            return SendResult("failed", error=f"twilio {outcome.status} {code}")
        return SendResult("retry", error=f"twilio {outcome.status} {code}")


def to_incoming(params: dict[str, str]) -> Incoming | None:
    sender = params.get("From", "")
    if not sender.startswith("whatsapp:"):
        return None
    number = sender.removeprefix("whatsapp:")
    body = params.get("Body", "") or ""
    payload = params.get("ButtonPayload")
    keyword = KEYWORDS.get(body.strip().upper())
    media: list[MediaIn] = []
    try:
        n_media = min(int(params.get("NumMedia", "0") or 0), 10)
    except ValueError:
        n_media = 0
    for i in range(n_media):
        url = params.get(f"MediaUrl{i}")
        if url:
            ctype = params.get(f"MediaContentType{i}", "application/octet-stream")
            kind = "photo" if ctype.startswith("image/") else "video" if ctype.startswith("video/") else "document"
            media.append(MediaIn(kind, url, ctype))  # type: ignore[arg-type]
    return Incoming(
        channel="whatsapp",
        chat_id=number,
        user_id=number,
        chat_type="private",
        text=keyword or body[:MAX_TEXT_CHARS],
        callback=payload[:64] if payload and ":" in payload else None,
        media=tuple(media),
        update_key=params.get("MessageSid") or None,
        truncated=len(body) > MAX_TEXT_CHARS,
    )


class WhatsAppWebhook:
    """Starlette routes for inbound messages and status callbacks."""

    def __init__(self, rt: Runtime, twilio: TwilioSender | None) -> None:
        wa = rt.settings.whatsapp
        assert wa.auth_token is not None
        self.rt = rt
        self.twilio = twilio
        self.validator = RequestValidator(wa.auth_token.get_secret_value())
        self.public_url = (wa.public_url or "").rstrip("/")

    def routes(self) -> list[Route]:
        return [
            Route("/whatsapp", self.inbound, methods=["POST"]),
            Route("/whatsapp/status", self.status, methods=["POST"]),
        ]

    async def _verified_params(self, request: Request, path: str) -> dict[str, str] | Response:
        body = await read_limited(request, 64_000)
        if body is None:
            return PlainTextResponse("payload too large", status_code=413)
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
        except (UnicodeDecodeError, ValueError):
            log.warning("whatsapp webhook: malformed body", extra={"path": path})
            return PlainTextResponse("bad request", status_code=400)
        params = dict(pairs)
        url = (self.public_url + path) if self.public_url else str(request.url)
        signature = request.headers.get("x-twilio-signature", "")
        if not signature or not self.validator.validate(url, params, signature):
            log.warning("whatsapp webhook: invalid signature rejected", extra={"path": path})
            return PlainTextResponse("forbidden", status_code=403)
        return params

    async def inbound(self, request: Request) -> Response:
        params = await self._verified_params(request, "/whatsapp")
        if isinstance(params, Response):
            return params
        inc = to_incoming(params)
        if inc is None:
            log.warning("whatsapp webhook: not a WhatsApp message")
            return PlainTextResponse("bad request", status_code=400)
        await self.rt.core.handle(inc)
        return Response("<Response/>", media_type="application/xml")

    async def status(self, request: Request) -> Response:
        params = await self._verified_params(request, "/whatsapp/status")
        if isinstance(params, Response):
            return params
        sid = params.get("MessageSid", "")
        status = params.get("MessageStatus", "")[:16]
        code = params.get("ErrorCode") or None
        if sid and status:
            values: dict[str, Any] = {"platform_status": status}
            if code:
                values["last_error"] = f"twilio {status} {code}"[:200]
            async with self.rt.services.sessions() as s, s.begin():
                await s.execute(update(Outbox).where(Outbox.external_id == sid).values(**values))
            log.info("whatsapp status", extra={"status": status, "code": code})
        return PlainTextResponse("ok")
