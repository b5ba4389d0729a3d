"""WhatsApp channel through Twilio: signed webhooks in, REST messages out, same core as Telegram.

Wiring (``bot.app.attach``): ``await attach_whatsapp(rt)`` creates and starts the ``TwilioSender``, adds the
``WhatsAppSender`` to the runtime's delivery worker, registers ``services.media_fetchers["whatsapp"]`` (Twilio
media URLs, fetched with Basic auth) and returns ``(twilio, routes)``; mount the routes with
``bot.app.web.build_app`` and call ``await twilio.close()`` on shutdown.

Inbound (``POST /whatsapp``): the ``X-Twilio-Signature`` is checked with twilio's RequestValidator
against ``whatsapp.public_url`` + path (correct behind a reverse proxy); forged or malformed posts get
403/400 and a log line without the sender's number. The message is handled by the core before the
200 is returned (one short transaction), so an acknowledged message is never lost; Twilio's
``MessageSid`` de-duplicates its retries. STOP/BERHENTI and START/MULAI are mapped to /berhenti and /mulai.
Only the number (as chat and user id, like a Telegram id) reaches the core: ``ProfileName`` and ``WaId`` are
dropped here and never stored or logged.

Outbound (``WhatsAppSender``): text is rendered with numbered choices ("Balas 1, 2 atau 3.") and split
under the WhatsApp limit. Outside the 24-hour customer-service window (last inbound message older than
24 h, ``ChatWindow``) only an approved template may be sent: reminders, broadcasts and tip notices use the
Content SID configured in ``whatsapp.templates[purpose]`` with one variable ``{"1": text}``; other messages
fail as "window closed" rather than being sent into error 63016. A synchronous 63016 falls back to the
template when one is configured (else the row fails with that reason). A 401 (code 20003: the account SID or
auth token is wrong) keeps the message for a retry, like a rejected Telegram token.

Status callbacks (``POST /whatsapp/status``, signed the same way) are recorded on the outbox row
(``platform_status``; ``last_error`` with the Twilio error code). ``failed``/``undelivered`` turn the row
``failed``; with error 63016 and a template for the row's purpose the row is queued again and sent as the
template; with an opt-out / invalid-recipient code the subscriber is deactivated like a Telegram 403.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from sqlalchemy import delete, select, update
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from bot.channels.console import render
from bot.channels.request_body import read_limited
from bot.channels.splitting import split_parts
from bot.config import Settings
from bot.core.clock import utcnow
from bot.core.identity import short
from bot.core.model import MAX_TEXT_CHARS, Incoming, MediaIn, Reply
from bot.outbox.ports import Claimed, OutboxStatus, SendResult
from bot.storage.db import SessionMaker
from bot.storage.models import ChatWindow, Outbox, Subscriber
from bot.texts import t

if TYPE_CHECKING:
    from bot.channels.twilio_client import SendOutcome, TwilioSender

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=24)
MAX_BODY_CHARS = 1500  # Twilio documents 1,600 characters per message body
MAX_VARIABLE_CHARS = 900  # a template body is at most 1,024 characters including its fixed text
MAX_WEBHOOK_BYTES = 64_000
MAX_MEDIA = 10  # WhatsApp sends at most 10 media per inbound message
INBOUND_PATH = "/whatsapp"
STATUS_PATH = "/whatsapp/status"
# outbox purpose -> key of ``whatsapp.templates`` (the Content SID used outside the 24-hour window)
TEMPLATE_PURPOSES = {"broadcast": "broadcast", "reminder": "reminder", "notice": "tip_update"}
KEYWORDS = {
    "STOP": "/berhenti",
    "BERHENTI": "/berhenti",
    "UNSUBSCRIBE": "/berhenti",
    "START": "/mulai",
    "MULAI": "/mulai",
}
WINDOW_CLOSED_CODE = 63016
PERMANENT_CODES = {21211, 21614, 63003, 63024}  # invalid / non-WhatsApp numbers
BLOCKED_CODES = {21610}  # recipient opted out
RATE_CODES = {20429, 63018}
AUTH_CODES = {20003}  # the account SID or auth token is wrong: the bot's fault, not the message's
TEMPLATE_FLAG = "wa_template"  # payload key: send this row as its purpose's template, whatever the window
STATUS_RANK = {"accepted": 0, "scheduled": 0, "queued": 0, "sending": 1, "sent": 2, "delivered": 3, "read": 4}
FAILED_STATUSES = {"failed", "undelivered", "canceled"}
_B = re.compile(r"</?(?:b|strong)>", re.IGNORECASE)
_I = re.compile(r"</?(?:i|em)>", re.IGNORECASE)


def split_text(text: str, limit: int = MAX_BODY_CHARS) -> list[str]:
    """Split at paragraph, line or word boundaries so that each part fits ``limit`` (a WhatsApp body)."""
    return split_parts(text, limit)


def _whatsapp_markup(reply: Reply) -> Reply:
    """Bot-composed HTML: <b> becomes WhatsApp *bold*, <i> _italic_ (render() strips the other tags)."""
    if not reply.html:
        return reply
    text = _I.sub("_", _B.sub("*", reply.text))
    return Reply(text=text, buttons=reply.buttons, media=reply.media, html=True, protect=reply.protect)


def render_whatsapp(reply: Reply) -> str:
    """Plain text with numbered choices and a "Balas 1, 2 atau 3." hint."""
    text = render(_whatsapp_markup(reply))
    n = sum(len(row) for row in reply.buttons)
    if n and not reply.text_input:  # a text step lists its buttons as words to type (render)
        choices = (", ".join(str(i) for i in range(1, n)) + f" atau {n}") if n > 1 else "1"
        text += "\n\n" + t("whatsapp.reply_with_number", choices=choices)
    return text


def template_variable(reply: Reply) -> str:
    """The text of a reply as one template variable: no newlines/tabs or long space runs (WhatsApp rejects
    them in parameters), at most ``MAX_VARIABLE_CHARS`` characters. Buttons are dropped (the user can
    answer the template to reopen the window)."""
    body = render(_whatsapp_markup(Reply(text=reply.text, media=reply.media, html=reply.html)))
    flat = " ".join(body.split())
    if len(flat) > MAX_VARIABLE_CHARS:
        flat = flat[: MAX_VARIABLE_CHARS - 1].rstrip() + "…"
    return flat or "-"


def template_sid(settings: Settings, purpose: str) -> str | None:
    """The Content SID to use for an outbox ``purpose`` outside the 24-hour window (None: none configured)."""
    key = TEMPLATE_PURPOSES.get(purpose)
    return settings.whatsapp.templates.get(key) if key else None


def status_callback_url(settings: Settings) -> str | None:
    """``public_url`` + "/whatsapp/status" (None without a public URL: then no status callbacks)."""
    base = settings.whatsapp.public_url
    return f"{base.rstrip('/')}{STATUS_PATH}" if base else None


async def close_window(sessions: SessionMaker, addr_key: str, before: Any = None) -> None:
    """Forget the 24-hour window of an address (Twilio said it is closed); ``before``: only if the last
    inbound message is older than that (a newer message reopened it)."""
    stmt = delete(ChatWindow).where(ChatWindow.addr_key == addr_key)
    if before is not None:
        stmt = stmt.where(ChatWindow.last_inbound_at <= before)
    async with sessions() as s, s.begin():
        await s.execute(stmt)


class WhatsAppSender:
    """``ChannelSender`` for the outbox: free-form inside the window, templates outside it."""

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
        sid = template_sid(self.settings, msg.purpose)
        if msg.payload.get(TEMPLATE_FLAG) or not await self._window_open(msg.addr_key):
            if sid is None:
                return SendResult("failed", error="whatsapp: 24h window closed and no template for this message")
            return await self._send_template(msg, reply, sid)
        result: SendResult = SendResult("sent")
        for i, part in enumerate(split_text(render_whatsapp(reply))):
            outcome = await self.twilio.send_text(msg.chat_id, wa.sender, part)
            if i == 0 and outcome.code == WINDOW_CLOSED_CODE and sid is not None:
                # our window record was wrong (e.g. restored database): Twilio says closed -> template
                await close_window(self.sessions, msg.addr_key)
                return await self._send_template(msg, reply, sid)
            result = self._result(outcome)
            if result.status != "sent":
                # a retry re-sends the earlier parts too (rare; better than losing the rest) -- except for
                # at-most-once purposes, which the worker turns "unknown" for a partly delivered message
                return replace(result, partial=i > 0)
        return result

    async def _send_template(self, msg: Claimed, reply: Reply, content_sid: str) -> SendResult:
        assert self.settings.whatsapp.sender is not None
        outcome = await self.twilio.send_template(
            msg.chat_id, self.settings.whatsapp.sender, content_sid, {"1": template_variable(reply)}
        )
        return self._result(outcome)

    @staticmethod
    def _result(outcome: SendOutcome) -> SendResult:
        if outcome.ok:
            return SendResult("sent", external_id=outcome.sid)
        code = outcome.code
        if outcome.status == 429 or code in RATE_CODES:
            return SendResult("retry", retry_after=outcome.retry_after or 1.0, error=f"twilio {code}")
        if outcome.status == 401 or code in AUTH_CODES:  # kept (attempt cap, then the admins' alert)
            log.error("twilio rejected the account credentials; check whatsapp.account_sid and auth_token",
                      extra={"code": code})
            return SendResult("retry", error=f"twilio {outcome.status} {code}: credentials rejected")
        if code in BLOCKED_CODES:
            return SendResult("blocked", error=f"twilio {code}: recipient opted out")
        if code == WINDOW_CLOSED_CODE:
            return SendResult("failed", error="twilio 63016: outside the 24h window and no template configured")
        if outcome.status is None:  # timeout / connection lost: no answer, it may have been accepted
            return SendResult("retry", error=f"twilio no answer: {outcome.message[:80]}", answered=False)
        if outcome.status >= 500 or code in (None, 20500, 20503):
            return SendResult("retry", error=f"twilio {outcome.status} {code}")
        if code in PERMANENT_CODES or 400 <= outcome.status < 500:
            return SendResult("failed", error=f"twilio {outcome.status} {code}")
        return SendResult("retry", error=f"twilio {outcome.status} {code}")


def _media_kind(ctype: str) -> str:
    if ctype.startswith("image/"):
        return "photo"
    if ctype.startswith("video/"):
        return "video"
    if ctype.startswith("audio/"):
        return "voice"  # WhatsApp audio is almost always a voice note: the tips flow refuses those
    return "document"


def to_incoming(params: dict[str, str]) -> Incoming | None:
    """The core's view of an inbound webhook: the number only (ProfileName and WaId are dropped)."""
    sender = params.get("From", "")
    if not sender.startswith("whatsapp:"):
        return None
    number = sender.removeprefix("whatsapp:").strip()
    if not number:
        return None
    body = params.get("Body", "") or ""
    payload = params.get("ButtonPayload")
    keyword = KEYWORDS.get(body.strip().upper())
    media: list[MediaIn] = []
    try:
        n_media = min(int(params.get("NumMedia", "0") or 0), MAX_MEDIA)
    except ValueError:
        n_media = 0
    for i in range(max(n_media, 0)):
        url = params.get(f"MediaUrl{i}")
        if url:
            ctype = (params.get(f"MediaContentType{i}") or "application/octet-stream")[:100]
            media.append(MediaIn(_media_kind(ctype), url, ctype))  # type: ignore[arg-type]
    return Incoming(
        channel="whatsapp",
        chat_id=number,
        user_id=number,
        chat_type="private",
        text=keyword or body[:MAX_TEXT_CHARS],
        callback=payload[:64] if payload and ":" in payload and len(payload.encode()) <= 64 else None,
        media=tuple(media),
        update_key=(params.get("MessageSid") or "")[:64] or None,
        truncated=len(body) > MAX_TEXT_CHARS,
        reply_to=(params.get("OriginalRepliedMessageSid") or "")[:64] or None,  # a quoted reply: the SID quoted
    )


class WhatsAppWebhook:
    """Starlette routes for inbound messages and status callbacks."""

    def __init__(
        self,
        settings: Settings,
        handle: Callable[[Incoming], Awaitable[None]],
        sessions: SessionMaker,
        notify: Callable[[], None],
        twilio: TwilioSender | None = None,
    ) -> None:
        """``handle`` is the core's update handler; ``notify`` wakes the delivery loop (re-queued rows)."""
        wa = settings.whatsapp
        assert wa.auth_token is not None
        self.settings = settings
        self.handle = handle
        self.sessions = sessions
        self.notify = notify
        self.twilio = twilio
        self.validator = RequestValidator(wa.auth_token.get_secret_value())
        self.public_url = (wa.public_url or "").rstrip("/")

    def routes(self) -> list[Route]:
        return [
            Route(INBOUND_PATH, self.inbound, methods=["POST"]),
            Route(STATUS_PATH, self.status, methods=["POST"]),
        ]

    async def _verified_params(self, request: Request, path: str) -> dict[str, str] | Response:
        body = await read_limited(request, MAX_WEBHOOK_BYTES)
        if body is None:
            log.warning("whatsapp webhook: payload too large", extra={"path": path})
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
        params = await self._verified_params(request, INBOUND_PATH)
        if isinstance(params, Response):
            return params
        inc = to_incoming(params)
        if inc is None:
            log.warning("whatsapp webhook: not a WhatsApp message")
            return PlainTextResponse("bad request", status_code=400)
        await self.handle(inc)
        return Response("<Response/>", media_type="application/xml")

    async def status(self, request: Request) -> Response:
        params = await self._verified_params(request, STATUS_PATH)
        if isinstance(params, Response):
            return params
        sid = params.get("MessageSid", "")[:64]
        status = params.get("MessageStatus", "").strip().lower()[:16]
        raw_code = (params.get("ErrorCode") or "").strip()
        code = int(raw_code) if raw_code.isdecimal() else None
        if sid and status:
            outcome = await self.record_status(sid, status, code)
            log.info("whatsapp status", extra={"status": status, "code": code, "outcome": outcome})
        return PlainTextResponse("ok")

    async def record_status(self, sid: str, status: str, code: int | None) -> str:
        """Apply one status callback to its outbox row; returns what was done (for logs and tests)."""
        sessions = self.sessions
        now = utcnow()
        async with sessions() as s, s.begin():
            row = await s.scalar(select(Outbox).where(Outbox.external_id == sid, Outbox.channel == "whatsapp"))
            if row is None:
                return "unknown message"
            old = row.platform_status or ""
            failed = status in FAILED_STATUSES
            if not failed and (old in FAILED_STATUSES or STATUS_RANK.get(status, 0) < STATUS_RANK.get(old, 0)):
                return "stale"  # callbacks may arrive out of order: never downgrade
            row.platform_status = status
            if not failed:
                return "recorded"
            row.last_error = f"twilio {status} {code or ''}".strip()[:200]
            if row.status != OutboxStatus.SENT:
                return "recorded"
            sid_template = template_sid(self.settings, row.purpose)
            if code == WINDOW_CLOSED_CODE and sid_template is not None and not row.payload.get(TEMPLATE_FLAG):
                row.payload = {**row.payload, TEMPLATE_FLAG: True}
                row.status = OutboxStatus.PENDING.value
                row.next_attempt_at = now
                row.external_id = None
                row.platform_status = None
                row.last_error = "twilio 63016: outside the 24h window; re-sent as template"
                await s.execute(
                    delete(ChatWindow).where(
                        ChatWindow.addr_key == row.addr_key, ChatWindow.last_inbound_at <= (row.sent_at or now)
                    )
                )
                outcome = "requeued as template"
            elif code in BLOCKED_CODES or code in PERMANENT_CODES:
                row.status = (OutboxStatus.BLOCKED if code in BLOCKED_CODES else OutboxStatus.FAILED).value
                await s.execute(
                    update(Subscriber)
                    .where(Subscriber.addr_key == row.addr_key)
                    .values(active=False, blocked=True, updated_at=now)
                )
                log.info("whatsapp recipient unreachable; subscriber deactivated", extra={"addr": short(row.addr_key)})
                outcome = "recipient deactivated"
            else:
                row.status = OutboxStatus.FAILED.value
                outcome = "failed"
        if outcome == "requeued as template":
            self.notify()
        return outcome
