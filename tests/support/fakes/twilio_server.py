"""Fake Twilio REST API (real HTTP on 127.0.0.1, aiohttp) plus signed-webhook helpers.

The real twilio client talks to it unchanged (``TwilioSender(..., api_base_url=server.url)``)::

    async with FakeTwilioServer() as server:
        sender = TwilioSender(server.account_sid, server.auth_token, api_base_url=server.url)
        await sender.start()
        outcome = await sender.send_text("+6281234567890", "whatsapp:+14155238886", "Halo")
        msg = await server.wait_for(lambda m: m.body == "Halo")

Public interface
----------------
``FakeTwilioServer(account_sid=DEFAULT_ACCOUNT_SID, auth_token=DEFAULT_AUTH_TOKEN, host="127.0.0.1", port=0)``
    Attributes: ``url`` ("http://127.0.0.1:PORT", use as ``api_base_url``), ``host``, ``port``, ``account_sid``,
    ``auth_token``, ``messages: list[SentMessage]`` (accepted messages only), ``requests: list[RecordedRequest]``
    (every REST request incl. rejected ones: count attempts with it), ``media_fetches: list[MediaFetch]``.
    Lifecycle (the test's event loop): ``await start()`` / ``await stop()`` / ``async with server``. After the
        first start the port is fixed: ``stop()`` then ``start()`` re-binds THE SAME PORT; in between clients get
        "connection refused" (an outage).
    Inspection: ``await wait_for(pred, timeout=5.0, *, since=0) -> SentMessage`` (already recorded messages
        count too; ``since=len(server.messages)`` ignores earlier ones; raises ``TimeoutError``),
        ``message(sid)``, ``reset()`` (records, faults, media).
    Faults for ``POST .../Messages.json`` (queued in call order, each consumed by one authenticated request):
        ``fail_next(n=1, status=500)`` (500 -> code 20500, 503 -> 20503, others -> code = status),
        ``rate_limit_next(n=1, retry_after=1.0)`` (429, code 20429, ``Retry-After`` header unless None),
        ``reject_next(n=1, code=63016, status=400, message=None, *, problem_details=False)`` (any Twilio error;
        default texts in ``ERROR_MESSAGES``; ``problem_details=True`` answers an RFC-9457 body, which twilio
        raises as ``TwilioServiceException``), ``drop_next(n=1)`` (connection closed without an answer),
        ``lose_answer_next(n=1)`` (the message IS accepted and recorded, then the connection is closed without
        an answer: the client cannot know it was sent),
        ``set_recipient_error(to, code=21610, status=400, message=None)`` (persistent per recipient; ``to``
        with or without "whatsapp:"), ``set_latency(seconds)``, ``clear_faults()``.
    Validation like Twilio's (400): missing To (21604), missing From/MessagingServiceSid (21603), no Body,
        MediaUrl or ContentSid (21602), Body over 1600 chars (21617), ContentVariables not a JSON object
        (21656), malformed To (21211, the message contains the number like Twilio's), From/To channel mismatch
        e.g. "whatsapp:+1..." -> "+62..." (21910). Wrong Basic auth or account SID -> 401 code 20003.
    Other endpoint: ``GET /2010-04-01/Accounts/{sid}.json`` (account resource, as used by ``bot doctor``);
        unknown paths -> 404 code 20404.
    Media (inbound tests): ``add_media(content, content_type, *, message_sid=None) -> url``
        serves ``GET /2010-04-01/Accounts/{sid}/Messages/{MM}/Media/{ME}``: Basic auth required (401 otherwise),
        answers ``307`` to ``/cdn/<token>`` (no auth needed, token valid ``cdn_ttl`` seconds) which returns the
        bytes with the given Content-Type. ``media_fetches`` records each GET with ``had_auth``, so tests can
        check that credentials are not sent to the CDN.
    Status callbacks: ``await send_status_callback(url, message_sid, status, error_code=None, *, auth_token=None,
        via=None, client=None, extra=None) -> httpx.Response`` POSTs a correctly signed form (fields as Twilio
        sends for WhatsApp; To/From filled from the recorded message), then updates the recorded status
        (so ``wait_for(lambda m: m.status == "delivered")`` returns once the bot has answered that callback).

Module-level webhook helpers (``url`` = the exact public URL Twilio signs; ``via`` = where the POST really goes,
default ``url`` -- e.g. the bot's local address behind a proxy; ``client`` = an httpx.AsyncClient, e.g. with an
ASGI transport, default a fresh one):
    ``build_inbound(url, auth_token, *, from_="whatsapp:+6281234567890", to="whatsapp:+14155238886", body="Halo",
        media=(), profile_name="Budi", wa_id=None, account_sid=DEFAULT_ACCOUNT_SID, message_sid=None,
        extra=None) -> (params: dict[str, str], headers: dict[str, str])`` -- MessageSid/SmsMessageSid/SmsSid,
        AccountSid, From, To, Body, NumMedia, MediaUrlN/MediaContentTypeN, ProfileName, WaId, MessageType,
        SmsStatus, NumSegments, ReferralNumMedia, ApiVersion; headers carry X-Twilio-Signature,
        I-Twilio-Idempotency-Token, Content-Type, User-Agent.
    ``await post_inbound(url, auth_token, *, via=None, client=None, **build_kwargs) -> httpx.Response``
    ``build_forged_inbound(url, auth_token, *, how="wrong_token", **build_kwargs)`` with ``how`` one of
        ``FORGERIES`` ("wrong_token", "tampered", "missing", "wrong_url"); ``await post_forged_inbound(...)``.
    ``build_status_callback(url, auth_token, message_sid, status, *, error_code=None, account_sid=...,
        to=..., from_=..., extra=None) -> (params, headers)``
    ``sign(url, params, auth_token) -> str``, ``new_sid(prefix) -> str``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import socket
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import httpx
from aiohttp import web
from twilio.request_validator import RequestValidator

DEFAULT_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
DEFAULT_AUTH_TOKEN = "fa4e0ab1c2d3e4f5a6b7c8d9e0f1a2b3"
DEFAULT_SENDER = "whatsapp:+14155238886"
DEFAULT_USER = "whatsapp:+6281234567890"
API_VERSION = "2010-04-01"
MAX_BODY = 1600

ERROR_MESSAGES: dict[int, str] = {
    20003: "Authenticate",
    20404: "The requested resource {path} was not found",
    20429: "Too Many Requests",
    20500: "Internal Server Error",
    20503: "Service Unavailable",
    21211: "The 'To' number {to} is not a valid phone number.",
    21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: {to}.",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21617: "The concatenated message body exceeds the 1600 character limit.",
    21656: "The ContentVariables Parameter is invalid.",
    21910: "Invalid From and To pair. From and To should be of the same channel",
    63016: (
        "Failed to send freeform message because you are outside the allowed window. "
        "If you are using WhatsApp, please use a Message Template."
    ),
    63018: "Rate limit exceeded for Channel",
}
FORGERIES = ("wrong_token", "tampered", "missing", "wrong_url")

_ACCOUNT = r"/2010-04-01/Accounts/(?P<account>[^/]+)"
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("POST", re.compile(_ACCOUNT + r"/Messages\.json$"), "_create_message"),
    ("GET", re.compile(_ACCOUNT + r"/Messages/(?P<msg>[^/]+)/Media/(?P<media>[^/.]+)$"), "_get_media"),
    ("GET", re.compile(_ACCOUNT + r"\.json$"), "_fetch_account"),
]
_ADDRESS_RE = re.compile(r"^(?:(?P<channel>[a-z]+):)?(?P<number>\+\d{6,15})$")


def new_sid(prefix: str) -> str:
    """A Twilio-shaped SID: two-letter prefix + 32 hex digits."""
    return prefix + uuid.uuid4().hex


def sign(url: str, params: dict[str, str], auth_token: str) -> str:
    """``X-Twilio-Signature`` for a form POST to ``url``."""
    return RequestValidator(auth_token).compute_signature(url, params)


def _rfc2822(ts: float) -> str:
    return format_datetime(datetime.fromtimestamp(ts, UTC).replace(microsecond=0))


def _error_body(code: int, status: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status}


def _fill(message: str, to: str, path: str) -> str:
    return message.replace("{to}", to).replace("{path}", path)


def _bare(address: str) -> str:
    return address.split(":", 1)[1] if ":" in address else address


@dataclass
class SentMessage:
    """A message the fake accepted (``POST Messages.json`` answered 201)."""

    sid: str
    account_sid: str
    to: str
    from_: str | None
    body: str | None
    media_urls: list[str]
    content_sid: str | None
    content_variables: dict[str, Any] | None  # decoded ContentVariables
    content_variables_raw: str | None
    status_callback: str | None
    messaging_service_sid: str | None
    form: dict[str, list[str]]  # every submitted field, repeated ones in order
    created_at: float
    status: str = "queued"
    status_history: list[str] = field(default_factory=lambda: ["queued"])

    def resource(self) -> dict[str, Any]:
        """The Twilio JSON message resource."""
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body or "",
            "date_created": _rfc2822(self.created_at),
            "date_sent": None,
            "date_updated": _rfc2822(self.created_at),
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": self.from_,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": str(len(self.media_urls)),
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {"media": f"{uri}/Media.json", "feedback": f"{uri}/Feedback.json"},
            "to": self.to,
            "uri": f"{uri}.json",
        }


@dataclass
class RecordedRequest:
    """Any REST request the fake answered (media and CDN GETs are in ``media_fetches`` instead)."""

    method: str
    path: str
    form: dict[str, list[str]]
    status: int  # HTTP status answered (0 = connection dropped)
    code: int | None  # Twilio error code, None on success
    authorized: bool
    at: float


@dataclass
class MediaFetch:
    path: str
    kind: str  # "media" (Twilio API URL) or "cdn"
    had_auth: bool
    status: int
    at: float


@dataclass
class _StoredMedia:
    content: bytes
    content_type: str
    message_sid: str


@dataclass
class _Fault:
    remaining: int
    status: int
    code: int | None
    message: str
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    problem_details: bool = False  # RFC-9457 body instead of the classic {"code", "message", ...}


class FakeTwilioServer:
    """See the module docstring."""

    def __init__(self, account_sid: str = DEFAULT_ACCOUNT_SID, auth_token: str = DEFAULT_AUTH_TOKEN,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.host = host
        self.port = port
        self.cdn_ttl = 300.0
        self.messages: list[SentMessage] = []
        self.requests: list[RecordedRequest] = []
        self.media_fetches: list[MediaFetch] = []
        self._faults: deque[_Fault] = deque()
        self._recipient_errors: dict[str, _Fault] = {}
        self._latency = 0.0
        self._lose_answers = 0
        self._media: dict[str, _StoredMedia] = {}
        self._cdn: dict[str, tuple[str, float]] = {}
        self._runner: web.AppRunner | None = None

    # --- addresses / lifecycle --------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._runner is not None

    async def start(self) -> None:
        """Listen on ``host:port`` (port 0 -> random free port, kept for later restarts)."""
        if self._runner is not None:
            return
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            await web.SockSite(runner, sock).start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self.port = sock.getsockname()[1]
        self._runner = runner

    async def stop(self) -> None:
        """Close the listener and every connection; ``start()`` again re-binds the same port."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> FakeTwilioServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- inspection -------------------------------------------------------------------------------
    def message(self, sid: str) -> SentMessage | None:
        return next((m for m in self.messages if m.sid == sid), None)

    async def wait_for(self, predicate: Callable[[SentMessage], bool], timeout: float = 5.0, *,
                       since: int = 0) -> SentMessage:
        """First accepted message from index ``since`` matching ``predicate`` now or within ``timeout`` (the
        predicate is re-evaluated, so it may wait for a status change); ``TimeoutError`` otherwise."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:  # rescans from ``since`` each time: records change state (message status)
            for item in list(self.messages[since:]):
                if predicate(item):
                    return item
            if loop.time() >= deadline:
                raise TimeoutError(f"no matching message within {timeout}s")
            await asyncio.sleep(0.01)

    def reset(self) -> None:
        self.messages.clear()
        self.requests.clear()
        self.media_fetches.clear()
        self._media.clear()
        self._cdn.clear()
        self.clear_faults()

    # --- faults -----------------------------------------------------------------------------------
    def fail_next(self, n: int = 1, status: int = 500) -> None:
        code = {500: 20500, 503: 20503}.get(status, status)
        message = ERROR_MESSAGES.get(code, "Internal Server Error")
        self._faults.append(_Fault(n, status, code, message))

    def rate_limit_next(self, n: int = 1, retry_after: float | None = 1.0) -> None:
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
        self._faults.append(_Fault(n, 429, 20429, ERROR_MESSAGES[20429], headers))

    def reject_next(self, n: int = 1, code: int = 63016, status: int = 400, message: str | None = None, *,
                    problem_details: bool = False) -> None:
        self._faults.append(_Fault(n, status, code, message or ERROR_MESSAGES.get(code, f"Error {code}"),
                                   problem_details=problem_details))

    def lose_answer_next(self, n: int = 1) -> None:
        self._lose_answers += n

    def drop_next(self, n: int = 1) -> None:
        self._faults.append(_Fault(n, 0, None, "", drop=True))

    def set_recipient_error(self, to: str, code: int = 21610, status: int = 400, message: str | None = None) -> None:
        self._recipient_errors[_bare(to)] = _Fault(-1, status, code, message or ERROR_MESSAGES.get(code, ""))

    def set_latency(self, seconds: float) -> None:
        self._latency = max(0.0, seconds)

    def clear_faults(self) -> None:
        self._faults.clear()
        self._recipient_errors.clear()
        self._latency = 0.0
        self._lose_answers = 0

    # --- media ------------------------------------------------------------------------------------
    def add_media(self, content: bytes, content_type: str, *, message_sid: str | None = None) -> str:
        """Host ``content``; returns its Twilio-style Media URL (as put in ``MediaUrlN`` of a webhook)."""
        msg = message_sid or new_sid("MM")
        media_sid = new_sid("ME")
        self._media[media_sid] = _StoredMedia(bytes(content), content_type, msg)
        return f"{self.url}/{API_VERSION}/Accounts/{self.account_sid}/Messages/{msg}/Media/{media_sid}"

    # --- status callbacks -------------------------------------------------------------------------
    async def send_status_callback(self, url: str, message_sid: str, status: str, error_code: int | None = None,
                                   *, auth_token: str | None = None, via: str | None = None,
                                   client: httpx.AsyncClient | None = None,
                                   extra: dict[str, str] | None = None) -> httpx.Response:
        msg = self.message(message_sid)
        params, headers = build_status_callback(
            url, auth_token or self.auth_token, message_sid, status, error_code=error_code,
            account_sid=self.account_sid, to=msg.to if msg else DEFAULT_USER,
            from_=(msg.from_ or DEFAULT_SENDER) if msg else DEFAULT_SENDER, extra=extra,
        )
        try:
            return await _post(via or url, params, headers, client)
        finally:  # the status changes after the bot got (or failed to get) the callback
            if msg is not None:
                msg.status = status
                msg.status_history.append(status)

    # --- HTTP -------------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if request.method == "GET" and path.startswith("/cdn/"):
            return self._cdn_get(request)
        for method, pattern, handler in _ROUTES:
            match = pattern.match(path)
            if match and request.method == method:
                return await getattr(self, handler)(request, **match.groupdict())
        return self._error(request, {}, 404, 20404, ERROR_MESSAGES[20404].format(path=path), authorized=False)

    def _authorized(self, request: web.Request, account: str) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.lower().startswith("basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return user == self.account_sid == account and password == self.auth_token

    def _record(self, request: web.Request, form: dict[str, list[str]], status: int, code: int | None,
                authorized: bool) -> None:
        self.requests.append(RecordedRequest(request.method, request.path, form, status, code, authorized,
                                             time.monotonic()))

    def _error(self, request: web.Request, form: dict[str, list[str]], status: int, code: int, message: str,
               *, authorized: bool = True, headers: dict[str, str] | None = None,
               problem_details: bool = False) -> web.Response:
        self._record(request, form, status, code, authorized)
        if problem_details:
            body = {"type": f"https://www.twilio.com/docs/errors/{code}", "title": message.split(".")[0],
                    "status": status, "code": code, "detail": message, "instance": request.path}
            return web.json_response(body, status=status, headers=headers, content_type="application/problem+json")
        return web.json_response(_error_body(code, status, message), status=status, headers=headers)

    async def _create_message(self, request: web.Request, account: str) -> web.StreamResponse:
        post = await request.post()
        form: dict[str, list[str]] = {}
        for key, value in post.items():
            form.setdefault(key, []).append(str(value))
        if not self._authorized(request, account):
            return self._error(request, form, 401, 20003, ERROR_MESSAGES[20003], authorized=False)
        if self._latency:
            await asyncio.sleep(self._latency)
        one = {k: v[-1] for k, v in form.items()}
        to, from_ = one.get("To", ""), one.get("From")
        invalid = self._validate(one, form)
        if invalid is not None:
            code, message = invalid
            return self._error(request, form, 400, code, message)
        if self._faults:
            fault = self._faults[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults.popleft()
            if fault.drop:
                self._record(request, form, 0, None, True)
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=500)
            return self._error(request, form, fault.status, fault.code or fault.status,
                               _fill(fault.message, to, request.path), headers=fault.headers,
                               problem_details=fault.problem_details)
        recipient = self._recipient_errors.get(_bare(to))
        if recipient is not None:
            return self._error(request, form, recipient.status, recipient.code or recipient.status,
                               _fill(recipient.message, to, request.path))
        raw_vars = one.get("ContentVariables")
        media = form.get("MediaUrl", [])
        msg = SentMessage(
            sid=new_sid("MM" if media else "SM"), account_sid=account, to=to, from_=from_, body=one.get("Body"),
            media_urls=list(media), content_sid=one.get("ContentSid"),
            content_variables=json.loads(raw_vars) if raw_vars else None, content_variables_raw=raw_vars,
            status_callback=one.get("StatusCallback"), messaging_service_sid=one.get("MessagingServiceSid"),
            form=form, created_at=time.time(),
        )
        if from_ is None:
            msg.status = msg.status_history[0] = "accepted"  # via a Messaging Service sender pool
        self.messages.append(msg)
        self._record(request, form, 201, None, True)
        if self._lose_answers > 0:
            self._lose_answers -= 1
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)
        return web.json_response(msg.resource(), status=201)

    @staticmethod
    def _validate(one: dict[str, str], form: dict[str, list[str]]) -> tuple[int, str] | None:
        to, from_ = one.get("To"), one.get("From")
        if not to:
            return 21604, ERROR_MESSAGES[21604]
        if not from_ and not one.get("MessagingServiceSid"):
            return 21603, ERROR_MESSAGES[21603]
        if not one.get("Body") and not form.get("MediaUrl") and not one.get("ContentSid"):
            return 21602, ERROR_MESSAGES[21602]
        if len(one.get("Body", "")) > MAX_BODY:
            return 21617, ERROR_MESSAGES[21617]
        raw = one.get("ContentVariables")
        if raw:
            try:
                if not isinstance(json.loads(raw), dict):
                    raise ValueError(raw)
            except ValueError:
                return 21656, ERROR_MESSAGES[21656]
        to_match = _ADDRESS_RE.match(to)
        if to_match is None:
            return 21211, ERROR_MESSAGES[21211].format(to=to)
        from_match = _ADDRESS_RE.match(from_) if from_ else None
        if from_match is not None and from_match["channel"] != to_match["channel"]:
            return 21910, ERROR_MESSAGES[21910]
        return None

    async def _fetch_account(self, request: web.Request, account: str) -> web.Response:
        if not self._authorized(request, account):
            return self._error(request, {}, 401, 20003, ERROR_MESSAGES[20003], authorized=False)
        self._record(request, {}, 200, None, True)
        now = _rfc2822(time.time())
        return web.json_response({
            "sid": account, "owner_account_sid": account, "friendly_name": "Fake account", "status": "active",
            "type": "Full", "date_created": now, "date_updated": now,
            "uri": f"/{API_VERSION}/Accounts/{account}.json",
        })

    async def _get_media(self, request: web.Request, account: str, msg: str, media: str) -> web.Response:
        had_auth = "Authorization" in request.headers
        stored = self._media.get(media)
        if stored is None or stored.message_sid != msg or account != self.account_sid:
            status = 404
        elif not self._authorized(request, account):
            status = 401
        else:
            status = 307
        self.media_fetches.append(MediaFetch(request.path, "media", had_auth, status, time.monotonic()))
        if status == 404:
            return web.json_response(_error_body(20404, 404, ERROR_MESSAGES[20404].format(path=request.path)),
                                     status=404)
        if status == 401:
            return web.json_response(_error_body(20003, 401, ERROR_MESSAGES[20003]), status=401)
        token = uuid.uuid4().hex
        self._cdn[token] = (media, time.monotonic() + self.cdn_ttl)
        return web.Response(status=307, headers={"Location": f"/cdn/{token}?Expires={int(time.time() + 300)}"})

    def _cdn_get(self, request: web.Request) -> web.Response:
        token = request.path.removeprefix("/cdn/")
        entry = self._cdn.get(token)
        stored = self._media.get(entry[0]) if entry and entry[1] > time.monotonic() else None
        status = 200 if stored is not None else 403
        self.media_fetches.append(MediaFetch(request.path, "cdn", "Authorization" in request.headers, status,
                                             time.monotonic()))
        if stored is None:
            return web.Response(status=403, text="<Error><Code>AccessDenied</Code></Error>",
                                content_type="application/xml")
        return web.Response(body=stored.content, headers={"Content-Type": stored.content_type})


# --- webhook helpers (module level: usable without a running fake) -----------------------------------

def _headers(url: str, params: dict[str, str], auth_token: str) -> dict[str, str]:
    return {
        "X-Twilio-Signature": sign(url, params, auth_token),
        "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": "TwilioProxy/1.1",
    }


def _message_type(media: Sequence[tuple[str, str]]) -> str:
    if not media:
        return "text"
    ctype = media[0][1]
    for prefix, kind in (("image/", "image"), ("video/", "video"), ("audio/", "audio")):
        if ctype.startswith(prefix):
            return kind
    return "document"


def build_inbound(url: str, auth_token: str, *, from_: str = DEFAULT_USER, to: str = DEFAULT_SENDER,
                  body: str = "Halo", media: Iterable[tuple[str, str]] = (), profile_name: str = "Budi",
                  wa_id: str | None = None, account_sid: str = DEFAULT_ACCOUNT_SID, message_sid: str | None = None,
                  extra: dict[str, str] | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """A signed inbound WhatsApp webhook form, as Twilio posts it to ``url``."""
    media = list(media)
    sid = message_sid or new_sid("MM" if media else "SM")
    params: dict[str, str] = {
        "SmsMessageSid": sid,
        "NumMedia": str(len(media)),
        "ProfileName": profile_name,
        "MessageType": _message_type(media),
        "SmsSid": sid,
        "WaId": wa_id if wa_id is not None else _bare(from_).lstrip("+"),
        "SmsStatus": "received",
        "Body": body,
        "To": to,
        "NumSegments": "1",
        "ReferralNumMedia": "0",
        "MessageSid": sid,
        "AccountSid": account_sid,
        "From": from_,
        "ApiVersion": API_VERSION,
    }
    for i, (media_url, content_type) in enumerate(media):
        params[f"MediaContentType{i}"] = content_type
        params[f"MediaUrl{i}"] = media_url
    params.update(extra or {})
    return params, _headers(url, params, auth_token)


def build_forged_inbound(url: str, auth_token: str, *, how: str = "wrong_token",
                         **kwargs: Any) -> tuple[dict[str, str], dict[str, str]]:
    """Like ``build_inbound`` but with a signature that must NOT validate (see ``FORGERIES``)."""
    if how not in FORGERIES:
        raise ValueError(f"how must be one of {FORGERIES}")
    if how == "wrong_token":
        return build_inbound(url, auth_token[::-1] + "x", **kwargs)
    if how == "wrong_url":
        return build_inbound(url.rstrip("/") + "/other", auth_token, **kwargs)
    params, headers = build_inbound(url, auth_token, **kwargs)
    if how == "tampered":
        params["Body"] = params["Body"] + " (diubah)"
    else:
        del headers["X-Twilio-Signature"]
    return params, headers


def build_status_callback(url: str, auth_token: str, message_sid: str, status: str, *,
                          error_code: int | None = None, account_sid: str = DEFAULT_ACCOUNT_SID,
                          to: str = DEFAULT_USER, from_: str = DEFAULT_SENDER,
                          extra: dict[str, str] | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """A signed message status callback form (WhatsApp flavour)."""
    channel = to.split(":", 1)[0] if ":" in to else None
    params: dict[str, str] = {
        "ApiVersion": API_VERSION,
        "MessageStatus": status,
        "SmsSid": message_sid,
        "SmsStatus": status,
        "To": to,
        "From": from_,
        "MessageSid": message_sid,
        "AccountSid": account_sid,
    }
    if channel:
        params.update({"ChannelPrefix": channel, "ChannelToAddress": _bare(to), "StructuredMessage": "false",
                       "ChannelInstallSid": "XE" + "0" * 32})
    if error_code is not None:
        params["ErrorCode"] = str(error_code)
    params.update(extra or {})
    return params, _headers(url, params, auth_token)


async def _post(url: str, params: dict[str, str], headers: dict[str, str],
                client: httpx.AsyncClient | None) -> httpx.Response:
    if client is not None:
        return await client.post(url, data=params, headers=headers)
    async with httpx.AsyncClient(timeout=10.0) as own:
        return await own.post(url, data=params, headers=headers)


async def post_inbound(url: str, auth_token: str, *, via: str | None = None,
                       client: httpx.AsyncClient | None = None, **kwargs: Any) -> httpx.Response:
    """POST a signed inbound message (signature for ``url``, sent to ``via`` or ``url``)."""
    params, headers = build_inbound(url, auth_token, **kwargs)
    return await _post(via or url, params, headers, client)


async def post_forged_inbound(url: str, auth_token: str, *, how: str = "wrong_token", via: str | None = None,
                              client: httpx.AsyncClient | None = None, **kwargs: Any) -> httpx.Response:
    params, headers = build_forged_inbound(url, auth_token, how=how, **kwargs)
    return await _post(via or url, params, headers, client)
