"""Outbound Twilio REST access for the WhatsApp channel (real ``twilio.rest.Client``, async, no retries).

Public interface
----------------
``SendOutcome(ok, sid, status, code, message, retry_after)`` (frozen dataclass)
    ``ok``: Twilio accepted the message (HTTP 2xx); ``sid``: message SID ("SM..."/"MM...") when ok;
    ``status``: HTTP status (None when no HTTP answer: timeout / connection error); ``code``: Twilio error
    code (e.g. 20429, 21211, 63016; the HTTP status when the body carried none); ``message``: short
    diagnostic with phone numbers redacted; ``retry_after``: seconds from a ``Retry-After`` header, if any.

``TwilioSender(account_sid, auth_token, *, api_base_url=None, status_callback_url=None, timeout=10)``
    ``await start()`` -- create the aiohttp-based twilio client; MUST run inside the event loop that will use
        it (aiohttp sessions are bound to the loop that created them). Idempotent.
    ``await close()`` -- close the HTTP session. Idempotent; ``start()`` may be called again afterwards.
    ``await send_text(to, from_, body, media_urls=None) -> SendOutcome``
    ``await send_template(to, from_, content_sid, variables: dict[str, str]) -> SendOutcome``
        (``ContentSid`` + ``ContentVariables`` as a JSON string; no ``Body``).
        Both never raise for Twilio/HTTP/network problems (only for programming errors such as calling
        before ``start()``). If ``from_`` is a ``whatsapp:`` address and ``to`` has no channel prefix, the
        prefix is added to ``to`` (the outbox stores bare "+62..." numbers). ``status_callback_url`` is sent
        as ``StatusCallback`` with every message when configured.
    ``await download_media(url, *, max_bytes=16 MiB, timeout=None) -> (bytes, content_type)``
        GETs a Twilio Media URL with HTTP Basic auth (account SID / auth token) and follows the redirect to
        the short-lived CDN URL WITHOUT credentials. Only URLs on ``https://*.twilio.com`` or on the
        configured ``api_base_url`` origin are accepted (inbound ``MediaUrlN`` always point there), so a
        crafted URL cannot make us send credentials elsewhere. Raises ``MediaDownloadError`` (subclass
        ``MediaTooLarge``) on any failure -- the ``MediaFetcher`` contract of ``bot.core.services``.
    ``client`` -- the underlying ``twilio.rest.Client`` (after ``start()``), ``api_base_url``, ``timeout``.

``RoutedAsyncHttpClient(api_base_url=None, *, timeout=None)`` -- the HTTP client handed to twilio (exposed for
    tests): an ``AsyncTwilioHttpClient`` subclass. ``rewrite(url) -> str``.

Design notes
------------
* Base URL: twilio-python has no documented base-URL option (only region/edge, which rewrite
  ``*.twilio.com`` host names). Setting ``client.api.base_url`` works in 9.x but is an undocumented attribute
  of one Domain object. We instead plug in a custom HTTP client -- the documented extension point (twilio's
  "custom HTTP client" guide) -- whose ``request()`` rewrites ``https://<anything>.twilio.com`` (so also
  region/edge host names and any other Twilio domain) to ``api_base_url``, keeping path and query. With a
  base URL configured, nothing can reach the real Twilio by accident.
* Timeouts: twilio passes ``timeout=None`` to aiohttp explicitly, which DISABLES aiohttp's session timeout;
  our ``request()`` applies ``timeout`` (seconds, total per request) instead.
* Retries: ``AsyncTwilioHttpClient(max_retries=N)`` wraps the session in aiohttp-retry's ``RetryClient``
  (``ExponentialRetry(attempts=N)``), which silently repeats POSTs -- on 5xx too -- and can therefore send a
  WhatsApp message twice, and hides 429s from us. We leave ``max_retries=None`` (plain ``ClientSession``,
  exactly ONE HTTP attempt per send) and let the outbox (``broadcasts``) do all retrying, honouring
  ``retry_after`` and its own backoff / idempotency bookkeeping.
* Privacy: recipient numbers never appear in ``SendOutcome.message`` or in our log records; Twilio error
  texts (e.g. 21211 "The 'To' number +62... is not a valid phone number") are redacted. twilio's own
  ``twilio.async_http_client`` logger logs method + URL + non-auth headers at INFO (no form data).
"""

from __future__ import annotations

import base64
import contextvars
import json
import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client
from yarl import URL

from bot.outbox.ports import request_on_wire

log = logging.getLogger(__name__)

DEFAULT_MAX_MEDIA_BYTES = 16 * 1024 * 1024  # WhatsApp's media limit
MAX_REDIRECTS = 5
_CHUNK = 64 * 1024

# Phone-number-like runs ("+62 812-3456-7890", "6281234567890") and channel addresses ("whatsapp:+62...").
_ADDRESS_RE = re.compile(r"(?:whatsapp|sms|messenger|rcs):\S+", re.IGNORECASE)
_NUMBER_RE = re.compile(r"\+?\d[\d ().-]{5,}\d")

# Response headers of the request in progress, captured per send (see ``_capture``).
_captured: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("twilio_captured", default=None)


class MediaDownloadError(Exception):
    """A media URL could not be fetched (bad host, HTTP error, network error, too many redirects...)."""


class MediaTooLarge(MediaDownloadError):
    """The media is bigger than ``max_bytes``."""


@dataclass(frozen=True)
class SendOutcome:
    ok: bool
    sid: str | None
    status: int | None
    code: int | None
    message: str
    retry_after: float | None = None


def redact(text: str) -> str:
    """Remove channel addresses and phone-number-like digit runs from a diagnostic text."""
    return _NUMBER_RE.sub("<number>", _ADDRESS_RE.sub("<address>", text))


def _basic_auth(user: str, password: str) -> str:
    """``Authorization`` header value (aiohttp 3.14 deprecates ``BasicAuth``/``auth=``)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _is_twilio_host(host: str | None) -> bool:
    host = (host or "").lower()
    return host == "twilio.com" or host.endswith(".twilio.com")


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # HTTP-date form: not used by Twilio; the caller falls back to its own backoff
    return max(0.0, min(seconds, 3600.0))


async def _on_written(_session: Any, _ctx: Any, _params: Any) -> None:
    request_on_wire()


class RoutedAsyncHttpClient(AsyncTwilioHttpClient):
    """``AsyncTwilioHttpClient`` that can target another base URL and really applies its timeout.

    Construct inside a running event loop (it creates an ``aiohttp.ClientSession``).
    """

    def __init__(self, api_base_url: str | None = None, *, timeout: float | None = None) -> None:
        # max_retries=None: no aiohttp-retry wrapper -> one HTTP attempt per call (the outbox retries).
        # The trace hooks tell the outbox when a request is written: a send that then gets no answer may have
        # been accepted, and at-most-once purposes are not re-sent (bot.outbox.delivery.no_answer_fate).
        trace = aiohttp.TraceConfig()
        trace.on_request_headers_sent.append(_on_written)
        trace.on_request_chunk_sent.append(_on_written)
        super().__init__(pool_connections=True, trace_configs=[trace], timeout=timeout, max_retries=None)
        self.api_base_url = api_base_url.rstrip("/") if api_base_url else None

    def rewrite(self, url: str) -> str:
        """Point ``https://*.twilio.com/...`` at ``api_base_url`` (unchanged when no base URL is set)."""
        if not self.api_base_url:
            return url
        parts = urlsplit(url)
        if not _is_twilio_host(parts.hostname):
            return url
        base = urlsplit(self.api_base_url)
        path = base.path.rstrip("/") + parts.path
        return urlunsplit((base.scheme, base.netloc, path, parts.query, parts.fragment))

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        seconds = timeout if timeout is not None else self.timeout
        if seconds is not None and seconds <= 0:
            raise ValueError(seconds)
        all_headers = dict(headers or {})
        if auth is not None:
            all_headers["Authorization"] = _basic_auth(*auth)
        kwargs: dict[str, Any] = {
            "method": method.upper(),
            "url": self.rewrite(url),
            "params": params,
            "data": data,
            "headers": all_headers,
            "allow_redirects": allow_redirects,
        }
        self.log_request(kwargs)  # method + URL + headers except Authorization
        assert self.session is not None
        async with self.session.request(**kwargs, timeout=aiohttp.ClientTimeout(total=seconds)) as resp:
            text = await resp.text()
            headers_out = dict(resp.headers)
            status = resp.status
        self.log_response(status, resp)
        captured = _captured.get()
        if captured is not None:
            captured["status"] = status
            captured["headers"] = headers_out
        response = Response(status, text, headers_out)
        self._test_only_last_response = response
        return response


class TwilioSender:
    """Sends WhatsApp messages through Twilio's REST API; see the module docstring."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        api_base_url: str | None = None,
        status_callback_url: str | None = None,
        timeout: float = 10,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.account_sid = account_sid
        self._auth_token = auth_token
        self.api_base_url = api_base_url.rstrip("/") if api_base_url else None
        self.status_callback_url = status_callback_url
        self.timeout = float(timeout)
        self._http: RoutedAsyncHttpClient | None = None
        self.client: Client | None = None

    def __repr__(self) -> str:  # never show the token
        return f"TwilioSender(account_sid={self.account_sid!r}, api_base_url={self.api_base_url!r})"

    # --- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._http is not None:
            return
        self._http = RoutedAsyncHttpClient(self.api_base_url, timeout=self.timeout)
        self.client = Client(self.account_sid, self._auth_token, http_client=self._http)

    async def close(self) -> None:
        http, self._http, self.client = self._http, None, None
        if http is not None:
            await http.close()

    async def __aenter__(self) -> TwilioSender:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- sending --------------------------------------------------------------------------------
    async def send_text(self, to: str, from_: str, body: str, media_urls: list[str] | None = None) -> SendOutcome:
        kwargs: dict[str, Any] = {"body": body}
        if media_urls:
            kwargs["media_url"] = list(media_urls)
        return await self._create(to, from_, kwargs)

    async def send_template(self, to: str, from_: str, content_sid: str, variables: dict[str, str]) -> SendOutcome:
        kwargs: dict[str, Any] = {"content_sid": content_sid}
        if variables:
            kwargs["content_variables"] = json.dumps(variables, ensure_ascii=False)
        return await self._create(to, from_, kwargs)

    async def _create(self, to: str, from_: str, kwargs: dict[str, Any]) -> SendOutcome:
        if self.client is None:
            raise RuntimeError("TwilioSender.start() was not called")
        if from_.lower().startswith("whatsapp:") and ":" not in to:
            to = "whatsapp:" + to
        if self.status_callback_url:
            kwargs["status_callback"] = self.status_callback_url
        captured: dict[str, Any] = {}
        token = _captured.set(captured)
        try:
            msg = await self.client.messages.create_async(to=to, from_=from_, **kwargs)
        except TwilioRestException as exc:
            outcome = self._rest_error(exc, captured)
        except TwilioServiceException as exc:  # RFC-9457 "problem details" error bodies (newer Twilio APIs)
            outcome = self._rest_error(exc, captured)
        except (TimeoutError, aiohttp.ServerTimeoutError):
            outcome = SendOutcome(False, None, None, None, f"timeout after {self.timeout:g}s")
        except aiohttp.ClientError as exc:
            outcome = SendOutcome(False, None, None, None, f"network error: {type(exc).__name__}")
        except (TwilioException, ValueError, KeyError, TypeError) as exc:
            # e.g. a 2xx whose body is not a message resource. Twilio may have accepted the message, but we
            # cannot know: reported as not ok without HTTP status, so the outbox decides (retry = at-least-once).
            outcome = SendOutcome(False, None, captured.get("status"), None,
                                  f"unexpected response: {type(exc).__name__}")
        else:
            return SendOutcome(True, msg.sid, captured.get("status", 201), None, str(msg.status or "queued"))
        finally:
            _captured.reset(token)
        log.warning(
            "twilio send failed",
            extra={"http_status": outcome.status, "twilio_code": outcome.code, "reason": outcome.message[:200]},
        )
        return outcome

    @staticmethod
    def _rest_error(exc: TwilioRestException | TwilioServiceException, captured: dict[str, Any]) -> SendOutcome:
        code = exc.code if isinstance(exc.code, int) else None
        if isinstance(exc, TwilioServiceException):
            msg = str(exc.detail or exc.title or "")
        else:
            msg = str(exc.msg or "").removeprefix("Unable to create record: ")
        headers = {k.lower(): v for k, v in (captured.get("headers") or {}).items()}
        retry_after = _parse_retry_after(headers.get("retry-after"))
        text = redact(f"twilio {code}: {msg}" if code else msg or f"HTTP {exc.status}")[:300]
        return SendOutcome(False, None, exc.status, code, text, retry_after)

    # --- media ----------------------------------------------------------------------------------
    def _trusted(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme == "https" and _is_twilio_host(parts.hostname):
            return True
        if self.api_base_url:
            base = urlsplit(self.api_base_url)
            return (parts.scheme, parts.netloc) == (base.scheme, base.netloc)
        return False

    async def download_media(
        self, url: str, *, max_bytes: int = DEFAULT_MAX_MEDIA_BYTES, timeout: float | None = None
    ) -> tuple[bytes, str]:
        """Fetch a Twilio media URL -> (bytes, content type); raises ``MediaDownloadError``."""
        if self._http is None or self._http.session is None:
            raise RuntimeError("TwilioSender.start() was not called")
        if not self._trusted(url):
            raise MediaDownloadError("media URL is not on the Twilio API host")
        session = self._http.session
        headers: dict[str, str] = {"Authorization": _basic_auth(self.account_sid, self._auth_token)}
        current = self._http.rewrite(url)
        client_timeout = aiohttp.ClientTimeout(total=timeout if timeout is not None else max(self.timeout, 30.0))
        try:
            for _hop in range(MAX_REDIRECTS + 1):
                async with session.get(current, headers=headers, allow_redirects=False, timeout=client_timeout) as resp:
                    if resp.status in (301, 302, 303, 307, 308):
                        location = resp.headers.get("Location")
                        if not location:
                            raise MediaDownloadError(f"redirect without Location (HTTP {resp.status})")
                        current = str(resp.url.join(URL(location)))
                        headers = {}  # credentials go to the Media resource only, never to the CDN
                        continue
                    if resp.status != 200:
                        raise MediaDownloadError(f"media download failed: HTTP {resp.status}")
                    if resp.content_length is not None and resp.content_length > max_bytes:
                        raise MediaTooLarge(f"media is {resp.content_length} bytes (limit {max_bytes})")
                    buf = bytearray()
                    async for chunk in resp.content.iter_chunked(_CHUNK):
                        buf += chunk
                        if len(buf) > max_bytes:
                            raise MediaTooLarge(f"media exceeds {max_bytes} bytes")
                    ctype = resp.content_type or "application/octet-stream"
                    return bytes(buf), ctype
            raise MediaDownloadError("too many redirects")
        except TimeoutError as exc:
            raise MediaDownloadError("media download timed out") from exc
        except aiohttp.ClientError as exc:
            raise MediaDownloadError(f"media download failed: {type(exc).__name__}") from exc
