"""Fake Telegram Bot API server for tests and benchmarks (real HTTP on 127.0.0.1, aiohttp).

The real python-telegram-bot (22.x) talks to it unchanged::

    async with FakeTelegramServer() as server:
        bot = Bot(TOKEN, base_url=server.base_url, base_file_url=server.base_file_url)
        # or ApplicationBuilder().token(TOKEN).base_url(server.base_url).base_file_url(server.base_file_url)
        server.inject_update(make_message(chat_id=42, user_id=42, text="/start"))
        call = await server.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == 42)

Bot API methods: only those JagaNetral calls, directly or through PTB's ``Application``/``Updater``:
``getMe``, ``getUpdates`` (long polling), ``setWebhook``, ``deleteWebhook``, ``sendMessage``, ``sendPhoto``,
``sendDocument``, ``sendVideo``, ``answerCallbackQuery``, ``getFile`` plus the file download
``GET /file/bot<token>/<file_path>``. Every other method gets 404 "Not Found" (and is recorded, so a test can
still assert that the bot never called it).

Public interface
----------------
``FakeTelegramServer(token: str | None = None, host: str = "127.0.0.1", port: int = 0)``
    ``token=None`` accepts any token in the URL; a given token is enforced (others get 401).
    Attributes: ``url`` ("http://127.0.0.1:PORT"), ``base_url`` (url + "/bot"), ``base_file_url``
    (url + "/file/bot"), ``host``, ``port``, ``token``, ``bot_user_id``, ``bot_username``,
    ``bot_first_name``, ``calls: list[RecordedCall]``, ``stats: Stats``, ``webhook_url``.

    Lifecycle (same asyncio loop as the test):
        ``await start()`` / ``await stop()`` / ``async with server``.  After the first start the port is
        fixed, so ``await stop()`` followed by ``await start()`` re-binds THE SAME PORT: in between, clients
        get "connection refused" (PTB raises ``NetworkError``) -- this is how to simulate an outage.
    Lifecycle (own thread + loop, for sync code or when the bot runs elsewhere):
        ``start_in_thread(timeout=10.0) -> FakeTelegramServer`` / ``stop_thread(timeout=10.0)`` /
        ``with server: ...``.  All public methods below are thread-safe.
    Separate process (outlives a SIGKILLed bot): ``python -m tests.support.fakes.telegram_server --port N``
        prints ``READY http://127.0.0.1:N`` on stdout; see ``FakeTelegramProcess`` and
        ``RemoteFakeTelegram`` (``calls``, ``sent_messages``, ``stats``, ``duplicates``, ``inject_update``,
        ``fault``: HTTP control endpoints under ``/_control/``, listed in ``_control``).

    Recording / inspection:
        ``calls`` (every Bot API call incl. failed ones; ``RecordedCall``), ``calls_of(method)``,
        ``sent_messages(chat_id=None, *, include_failed=False)`` (sendMessage/Photo/Document/Video),
        ``texts(chat_id=None) -> list[str]`` (text or caption of delivered sends),
        ``duplicates() -> dict[tuple[int | str, str], int]`` ((chat_id, text) delivered more than once ->
        times), ``duplicate_count() -> int``, ``pending_updates`` (injected, not yet confirmed),
        ``waiting_pollers`` (getUpdates requests currently long-polling), ``mark() -> int``.
        ``await wait_for(predicate, timeout=5.0, *, count=1, include_failed=False, since=0) -> RecordedCall``
        waits until ``count`` recorded calls (by default only successful ones, scanning from index
        ``since`` of ``calls`` -- i.e. already recorded calls match too) satisfy ``predicate``; raises
        ``TimeoutError``; use ``since=server.mark()`` (taken before acting) to ignore earlier calls.
        ``wait_for_sync(...)`` is the blocking twin (for thread mode).
    Injection:
        ``inject_update(update: dict) -> int`` (assigns/repairs ``update_id``, returns it),
        ``register_file(data, *, file_path=None, file_id=None, mime_type=None, file_name=None) -> StoredFile``
        (bytes served by getFile + ``GET /file/bot<token>/<file_path>``), ``make_photo_message(...)`` /
        ``make_document_message(...)`` (module builders with ``server=self``).
    Faults (runtime configurable; ``methods=None`` means every method EXCEPT getUpdates, pass
    ``methods=["getUpdates"]`` to hit polling):
        ``fail_next(n=1, status=500, *, methods=None, chat_id=None, description=None)``,
        ``rate_limit_next(n=1, retry_after=1, *, methods=None, chat_id=None)`` (429 + parameters.retry_after),
        ``block_user(chat_id)`` (403 "Forbidden: bot was blocked by the user"),
        ``set_chat_error(chat_id, status, description, parameters=None)`` (every send to the chat fails so),
        ``migrate_chat(chat_id, new_chat_id)`` (400 + migrate_to_chat_id),
        ``set_latency(seconds, *, methods=None, max_seconds=None, before_fraction=1.0)`` (each request waits
        ``seconds``, or with ``max_seconds`` a uniformly random time between the two; ``before_fraction`` of
        that delay passes before the request is processed -- and a send counted by the limits and recorded --
        the rest after, before the answer is sent: 1.0, the default, puts all of it before, so arrivals at the
        counter jitter by the whole delay, the worst case; 0.5 is a link whose round trip is half uplink,
        half downlink),
        ``lose_answer_next(n=1, *, methods=None, chat_id=None, mode="drop", hold=30.0)`` (the request IS
        processed and recorded as ok -- the message is delivered -- but its answer is lost: "drop" closes the
        connection without a response, "hold" keeps the answer back for ``hold`` seconds, past the client's
        read timeout),
        ``enforce_limits(global_per_sec=30, per_chat_per_sec=1, per_group_per_min=20, burst=0)``
        (sliding windows over successful sends; a send over a limit gets 429 with a computed retry_after),
        ``clear_faults()``, ``reset()`` (calls, updates, faults, stats).

Module-level builders (valid Update JSON, auto-incrementing update_id / message_id):
    ``make_message`` (``edited=True`` for an ``edited_message``), ``make_callback``, ``make_photo_message``,
    ``make_document_message``, ``make_my_chat_member``, ``make_user``, ``make_chat``.

Fidelity notes: method names are case-insensitive; form, multipart and JSON bodies are accepted; nested
objects (reply_markup, allowed_updates...) are JSON-decoded in ``params``; texts over 4096 / captions over
1024 characters give 400; with ``parse_mode=HTML`` a text or caption with malformed entities (an
unsupported or unclosed tag, a stray "<", an unknown "&entity;") gives 400 "can't parse entities" like
Telegram; getUpdates while a webhook is set, or a second concurrent getUpdates, gives 409 Conflict
(the older poll is terminated, like Telegram); unknown methods give 404 "Not Found".
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gc
import hashlib
import html
import itertools
import json
import math
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from aiohttp import web

JSONDict = dict[str, Any]
ChatKey = int | str

DEFAULT_BOT_ID = 123456
DEFAULT_BOT_USERNAME = "jaganetral_test_bot"
MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024

# Canonical (camelCase) names of the methods the bot calls (directly or through PTB's Application/Updater),
# keyed by lower case (the API is case-insensitive). Any other method gets 404 "Not Found".
_KNOWN_METHODS = [
    "getMe", "getUpdates", "setWebhook", "deleteWebhook", "sendMessage", "sendPhoto", "sendDocument", "sendVideo",
    "answerCallbackQuery", "getFile",
]
CANONICAL = {name.lower(): name for name in _KNOWN_METHODS}
# Message-producing sends (recorded as sent messages, subject to flood limits and per-chat errors).
_SEND_METHODS = {"sendmessage", "sendphoto", "senddocument", "sendvideo"}
_MEDIA_KINDS = ("photo", "document", "video")
# Parameters that are plain strings and must never be JSON-decoded ("123" stays "123").
_STRING_FIELDS = {
    "text", "caption", "parse_mode", "callback_query_id", "file_id", "url", "secret_token", "photo", "document",
    "video", "thumbnail", "ip_address", "certificate", "business_connection_id", "message_effect_id",
}


def _is_send(method_lower: str) -> bool:
    """Message-producing sends (subject to flood limits)."""
    return method_lower in _SEND_METHODS


def _norm_chat(value: Any) -> ChatKey | None:
    """Chat ids as int when numeric, else the string (e.g. "@channel")."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return text or None


def _is_group(chat: ChatKey) -> bool:
    return (isinstance(chat, int) and chat < 0) or isinstance(chat, str)


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


_HTML_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "code",
              "pre", "blockquote", "tg-emoji"}
_HTML_TOKEN = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^<>]*)?)>|<|&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);|&")


def _html_entity_error(text: str) -> str | None:
    """Telegram's HTML parse check: the error text it gives (None when the markup is fine)."""
    stack: list[str] = []
    for m in _HTML_TOKEN.finditer(text):
        offset = len(text[: m.start()].encode())
        token = m.group(0)
        if token == "<":
            return f"Unsupported start tag at byte offset {offset}"
        if token == "&":
            continue  # a bare ampersand is accepted
        if token.startswith("&"):
            name = m.group(4)
            if not name.startswith("#") and name not in ("lt", "gt", "amp", "quot"):
                return f'Unsupported HTML entity "&{name};" at byte offset {offset}'
            continue
        closing, tag = m.group(1) == "/", m.group(2).lower()
        if tag not in _HTML_TAGS:
            kind = "end" if closing else "start"
            return f'Unsupported {kind} tag "{tag}" at byte offset {offset}'
        if not closing:
            stack.append(tag)
        elif not stack or stack[-1] != tag:
            return f'Unmatched end tag at byte offset {offset}, expected "</{stack[-1]}>", found "</{tag}>"' if stack \
                else f'Unexpected end tag at byte offset {offset}'
        else:
            stack.pop()
    if stack:
        return f"Can't find end tag corresponding to start tag \"{stack[-1]}\""
    return None


def _visible_length(text: str, parse_mode: str | None) -> int:
    if parse_mode and parse_mode.upper() == "HTML":
        text = html.unescape(re.sub(r"<[^>]+>", "", text))
    return len(text)


# --------------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------------

@dataclass
class UploadedFile:
    field: str
    filename: str | None
    content_type: str | None
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    def to_json(self) -> JSONDict:
        return {
            "field": self.field, "filename": self.filename, "content_type": self.content_type,
            "size": self.size, "sha256": hashlib.sha256(self.data).hexdigest(),
            "data_b64": base64.b64encode(self.data).decode(),
        }

    @classmethod
    def from_json(cls, data: JSONDict) -> UploadedFile:
        return cls(data["field"], data.get("filename"), data.get("content_type"), base64.b64decode(data["data_b64"]))


@dataclass
class RecordedCall:
    """One Bot API call as received (``params`` JSON-decoded) and how the fake answered it."""

    seq: int
    method: str  # canonical camelCase name when known (e.g. "sendMessage")
    params: JSONDict
    files: dict[str, UploadedFile]
    timestamp: float  # time.monotonic() when answered
    chat_id: ChatKey | None
    status: int = 200
    ok: bool = True
    result: Any = None
    description: str | None = None
    retry_after: int | None = None

    @property
    def text(self) -> str | None:
        """``text`` or ``caption`` of the call (None if neither)."""
        value = self.params.get("text", self.params.get("caption"))
        return None if value is None else str(value)

    def to_json(self) -> JSONDict:
        return {
            "seq": self.seq, "method": self.method, "params": self.params,
            "files": {k: v.to_json() for k, v in self.files.items()}, "timestamp": self.timestamp,
            "chat_id": self.chat_id, "status": self.status, "ok": self.ok, "result": self.result,
            "description": self.description, "retry_after": self.retry_after,
        }

    @classmethod
    def from_json(cls, data: JSONDict) -> RecordedCall:
        files = {k: UploadedFile.from_json(v) for k, v in data.get("files", {}).items()}
        return cls(
            seq=data["seq"], method=data["method"], params=data["params"], files=files,
            timestamp=data["timestamp"], chat_id=data["chat_id"], status=data["status"], ok=data["ok"],
            result=data.get("result"), description=data.get("description"), retry_after=data.get("retry_after"),
        )


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    mime_type: str | None = None
    file_name: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    def to_api(self) -> JSONDict:
        return {"file_id": self.file_id, "file_unique_id": self.file_unique_id, "file_size": self.size,
                "file_path": self.file_path}


@dataclass
class Limits:
    global_per_sec: int = 30
    per_chat_per_sec: int = 1
    per_group_per_min: int = 20
    burst: int = 0  # extra sends tolerated on top of each limit within its window


@dataclass
class Stats:
    """Counters; the maxima are measured over sliding windows of successful sends (always tracked)."""

    requests: int = 0
    sent: int = 0  # successful message-producing sends
    rate_limited_429: int = 0  # every 429 answered (enforced + injected)
    enforced_429: int = 0  # 429 caused by enforce_limits()
    injected_failures: int = 0  # fail_next()
    forbidden_403: int = 0
    max_global_per_sec: int = 0
    max_global_at: float | None = None  # when the busiest 1-second window (so far) ended
    first_send_at: float | None = None
    last_send_at: float | None = None

    def achieved_rate(self) -> float:
        """Successful sends per second between the first and the last send."""
        if self.first_send_at is None or self.last_send_at is None or self.sent < 2:
            return 0.0
        span = self.last_send_at - self.first_send_at
        return self.sent / span if span > 0 else float("inf")

    def to_json(self) -> JSONDict:
        return {
            "requests": self.requests, "sent": self.sent, "rate_limited_429": self.rate_limited_429,
            "enforced_429": self.enforced_429, "injected_failures": self.injected_failures,
            "forbidden_403": self.forbidden_403, "max_global_per_sec": self.max_global_per_sec,
            "first_send_at": self.first_send_at, "last_send_at": self.last_send_at,
            "max_global_at": self.max_global_at,
            "achieved_rate": self.achieved_rate() if self.sent >= 2 else 0.0,
        }


@dataclass
class _LostAnswer:
    remaining: int
    mode: str
    hold: float
    methods: frozenset[str] | None
    chat_id: ChatKey | None

    def matches(self, method_lower: str, chat_id: ChatKey | None) -> bool:
        return _method_matches(self.methods, method_lower) and (self.chat_id is None or chat_id == self.chat_id)


@dataclass
class _Fault:
    remaining: int
    status: int
    description: str
    retry_after: int | None
    methods: frozenset[str] | None
    chat_id: ChatKey | None

    def matches(self, method_lower: str, chat_id: ChatKey | None) -> bool:
        return _method_matches(self.methods, method_lower) and (self.chat_id is None or chat_id == self.chat_id)


def _method_matches(methods: frozenset[str] | None, method_lower: str) -> bool:
    """``None`` means every method except getUpdates."""
    if methods is None:
        return method_lower != "getupdates"
    return method_lower in methods


class ApiError(Exception):
    def __init__(self, status: int, description: str, parameters: JSONDict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def payload(self) -> JSONDict:
        body: JSONDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


class _Windows:
    """Sliding windows of successful send times (global/1 s, per chat/1 s, per group/60 s): O(1) amortised."""

    def __init__(self) -> None:
        self.global_1s: deque[float] = deque()
        self.chat_1s: dict[ChatKey, deque[float]] = {}
        self.group_60s: dict[ChatKey, deque[float]] = {}

    @staticmethod
    def _trim(dq: deque[float], now: float, window: float) -> deque[float]:
        limit = now - window
        while dq and dq[0] <= limit:
            dq.popleft()
        return dq

    def check(self, chat: ChatKey | None, now: float, limits: Limits) -> int | None:
        """Return a retry_after (s) if one more send now would exceed a limit, else None."""
        waits: list[float] = []
        dq = self._trim(self.global_1s, now, 1.0)
        if len(dq) >= limits.global_per_sec + limits.burst:
            waits.append(dq[0] + 1.0 - now)
        if chat is not None:
            cdq = self.chat_1s.get(chat)
            if cdq is not None and len(self._trim(cdq, now, 1.0)) >= limits.per_chat_per_sec + limits.burst:
                waits.append(cdq[0] + 1.0 - now)
            if _is_group(chat):
                gdq = self.group_60s.get(chat)
                if gdq is not None and len(self._trim(gdq, now, 60.0)) >= limits.per_group_per_min + limits.burst:
                    waits.append(gdq[0] + 60.0 - now)
        if not waits:
            return None
        return max(1, math.ceil(max(waits)))

    def record(self, chat: ChatKey | None, now: float, stats: Stats) -> None:
        self._trim(self.global_1s, now, 1.0).append(now)
        if len(self.global_1s) > stats.max_global_per_sec:
            stats.max_global_per_sec, stats.max_global_at = len(self.global_1s), now
        if chat is None:
            return
        self._trim(self.chat_1s.setdefault(chat, deque()), now, 1.0).append(now)
        if _is_group(chat):
            self._trim(self.group_60s.setdefault(chat, deque()), now, 60.0).append(now)


# --------------------------------------------------------------------------------------------------
# Builders
# --------------------------------------------------------------------------------------------------

_update_ids = itertools.count(1)
_message_ids = itertools.count(1)
_callback_ids = itertools.count(1)


def make_user(user_id: int, *, first_name: str = "Pengguna", last_name: str | None = None,
              username: str | None = None, language_code: str | None = "id", is_bot: bool = False) -> JSONDict:
    user: JSONDict = {"id": user_id, "is_bot": is_bot, "first_name": first_name}
    if last_name:
        user["last_name"] = last_name
    if username:
        user["username"] = username
    if language_code:
        user["language_code"] = language_code
    return user


def make_chat(chat_id: ChatKey, *, chat_type: str | None = None, title: str | None = None,
              username: str | None = None, first_name: str | None = None, last_name: str | None = None) -> JSONDict:
    """Chat JSON; type inferred when omitted: positive id -> private, -100... -> supergroup, other negative
    -> group, "@name" -> channel."""
    if chat_type is None:
        if isinstance(chat_id, str):
            chat_type = "channel"
        elif chat_id > 0:
            chat_type = "private"
        else:
            chat_type = "supergroup" if str(chat_id).startswith("-100") else "group"
    chat: JSONDict = {"id": chat_id, "type": chat_type}
    if chat_type == "private":
        chat["first_name"] = first_name or "Pengguna"
        if last_name:
            chat["last_name"] = last_name
    else:
        chat["title"] = title or f"Grup {chat_id}"
    if username:
        chat["username"] = username
    return chat


def _command_entities(text: str | None) -> list[JSONDict] | None:
    if not text or not text.startswith("/"):
        return None
    command = text.split(maxsplit=1)[0]
    return [{"type": "bot_command", "offset": 0, "length": _utf16_len(command)}]


def make_message(
    chat_id: int | str,
    user_id: int,
    text: str | None = None,
    *,
    chat_type: str | None = None,
    username: str | None = None,
    first_name: str = "Pengguna",
    last_name: str | None = None,
    language_code: str | None = "id",
    title: str | None = None,
    chat_username: str | None = None,
    message_id: int | None = None,
    date: int | None = None,
    photo: list[JSONDict] | str | None = None,
    document: JSONDict | str | None = None,
    caption: str | None = None,
    entities: list[JSONDict] | None = None,
    reply_to_message: JSONDict | None = None,
    edited: bool = False,
    update_id: int | None = None,
    extra: JSONDict | None = None,
) -> JSONDict:
    """A ``message`` (or ``edited_message``) Update. "/cmd ..." texts get a bot_command entity.

    ``photo``: list of PhotoSize dicts or a file_id; ``document``: Document dict or a file_id.
    ``extra`` is merged into the Message object (e.g. {"location": {...}})."""
    user = make_user(user_id, first_name=first_name, last_name=last_name, username=username,
                     language_code=language_code)
    chat = make_chat(chat_id, chat_type=chat_type, title=title, username=chat_username,
                     first_name=first_name, last_name=last_name)
    now = int(time.time())
    msg: JSONDict = {
        "message_id": message_id if message_id is not None else next(_message_ids),
        "date": date if date is not None else now,
        "chat": chat,
        "from": user,
    }
    if text is not None:
        msg["text"] = text
        ents = entities if entities is not None else _command_entities(text)
        if ents:
            msg["entities"] = ents
    if photo is not None:
        if isinstance(photo, str):
            photo = [{"file_id": photo, "file_unique_id": f"u{photo}", "width": 640, "height": 480}]
        msg["photo"] = photo
    if document is not None:
        if isinstance(document, str):
            document = {"file_id": document, "file_unique_id": f"u{document}"}
        msg["document"] = document
    if caption is not None:
        msg["caption"] = caption
    if reply_to_message is not None:
        msg["reply_to_message"] = reply_to_message
    if edited:
        msg["edit_date"] = now
    if extra:
        msg.update(extra)
    key = "edited_message" if edited else "message"
    return {"update_id": update_id if update_id is not None else next(_update_ids), key: msg}


def make_callback(
    chat_id: int | str,
    user_id: int,
    data: str,
    message_id: int = 1,
    *,
    chat_type: str | None = None,
    message_text: str = "Pilih salah satu:",
    reply_markup: JSONDict | None = None,
    username: str | None = None,
    first_name: str = "Pengguna",
    callback_id: str | None = None,
    bot_id: int = DEFAULT_BOT_ID,
    bot_username: str = DEFAULT_BOT_USERNAME,
    update_id: int | None = None,
) -> JSONDict:
    """A ``callback_query`` Update for a button under bot message ``message_id``."""
    message: JSONDict = {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": make_chat(chat_id, chat_type=chat_type, first_name=first_name),
        "from": {"id": bot_id, "is_bot": True, "first_name": "JagaNetral", "username": bot_username},
        "text": message_text,
    }
    if reply_markup is not None:
        message["reply_markup"] = reply_markup
    query: JSONDict = {
        "id": callback_id or f"cbq{next(_callback_ids)}",
        "from": make_user(user_id, first_name=first_name, username=username),
        "chat_instance": f"ci{chat_id}",
        "data": data,
        "message": message,
    }
    return {"update_id": update_id if update_id is not None else next(_update_ids), "callback_query": query}


def make_photo_message(
    chat_id: int | str,
    user_id: int,
    *,
    data: bytes | None = None,
    server: FakeTelegramServer | None = None,
    file_id: str | None = None,
    caption: str | None = None,
    width: int = 640,
    height: int = 480,
    **kw: Any,
) -> JSONDict:
    """A photo message. With ``data`` and ``server`` the bytes are registered for getFile/download."""
    size: int | None = len(data) if data is not None else None
    if data is not None and server is not None:
        stored = server.register_file(data, file_id=file_id, mime_type="image/jpeg", kind="photos")
        file_id = stored.file_id
        unique = stored.file_unique_id
    else:
        file_id = file_id or f"photo{next(_message_ids)}"
        unique = f"u{file_id}"
    photo_size: JSONDict = {"file_id": file_id, "file_unique_id": unique, "width": width, "height": height}
    if size is not None:
        photo_size["file_size"] = size
    return make_message(chat_id, user_id, None, photo=[photo_size], caption=caption, **kw)


def make_document_message(
    chat_id: int | str,
    user_id: int,
    *,
    data: bytes | None = None,
    server: FakeTelegramServer | None = None,
    file_id: str | None = None,
    file_name: str = "dokumen.pdf",
    mime_type: str = "application/pdf",
    caption: str | None = None,
    **kw: Any,
) -> JSONDict:
    """A document message. With ``data`` and ``server`` the bytes are registered for getFile/download."""
    if data is not None and server is not None:
        stored = server.register_file(data, file_id=file_id, mime_type=mime_type, file_name=file_name,
                                      kind="documents")
        file_id, unique = stored.file_id, stored.file_unique_id
    else:
        file_id = file_id or f"doc{next(_message_ids)}"
        unique = f"u{file_id}"
    doc: JSONDict = {"file_id": file_id, "file_unique_id": unique, "file_name": file_name, "mime_type": mime_type}
    if data is not None:
        doc["file_size"] = len(data)
    return make_message(chat_id, user_id, None, document=doc, caption=caption, **kw)


def make_my_chat_member(
    chat_id: int | str,
    user_id: int,
    new_status: str,
    *,
    old_status: str = "member",
    chat_type: str | None = None,
    bot_id: int = DEFAULT_BOT_ID,
    bot_username: str = DEFAULT_BOT_USERNAME,
    update_id: int | None = None,
) -> JSONDict:
    """``my_chat_member`` Update (e.g. new_status="kicked" in a private chat = user blocked the bot)."""
    bot = {"id": bot_id, "is_bot": True, "first_name": "JagaNetral", "username": bot_username}
    now = int(time.time())
    return {
        "update_id": update_id if update_id is not None else next(_update_ids),
        "my_chat_member": {
            "chat": make_chat(chat_id, chat_type=chat_type),
            "from": make_user(user_id),
            "date": now,
            "old_chat_member": _member_json(bot, old_status),
            "new_chat_member": _member_json(bot, new_status),
        },
    }


def _member_json(user: JSONDict, status: str) -> JSONDict:
    if status == "administrator":
        rights = ["can_manage_chat", "can_delete_messages", "can_manage_video_chats", "can_restrict_members",
                  "can_change_info", "can_invite_users", "can_post_stories", "can_edit_stories",
                  "can_delete_stories", "can_pin_messages"]
        member = {"status": status, "user": user, "can_be_edited": False, "is_anonymous": False,
                  "can_promote_members": False}
        member.update(dict.fromkeys(rights, True))
        return member
    if status == "kicked":
        return {"status": status, "user": user, "until_date": 0}
    return {"status": status, "user": user}  # member, left


# --------------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------------

class FakeTelegramServer:
    """See the module docstring for the full interface."""

    def __init__(self, token: str | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.token = token
        self.host = host
        self.port = port
        prefix = (token or "").split(":", 1)[0]
        self.bot_user_id = int(prefix) if prefix.isdigit() else DEFAULT_BOT_ID
        self.bot_username = DEFAULT_BOT_USERNAME
        self.bot_first_name = "JagaNetral"
        self.calls: list[RecordedCall] = []
        self.stats = Stats()
        self.webhook_url = ""

        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._seq = itertools.count(1)
        self._updates: deque[JSONDict] = deque()
        self._last_update_id = 0
        self._files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._file_seq = itertools.count(1)
        self._message_seq = itertools.count(1000)
        self._chats: dict[ChatKey, JSONDict] = {}
        self._faults: list[_Fault] = []
        self._lost: list[_LostAnswer] = []
        self._chat_errors: dict[ChatKey, ApiError] = {}
        self._latency = 0.0
        self._latency_methods: frozenset[str] | None = None
        self._latency_max: float | None = None
        self._latency_before = 1.0  # the share of each delay before the request is processed (set_latency)
        self._limits: Limits | None = None
        self._windows = _Windows()
        self._pollers: set[asyncio.Future[None]] = set()
        self._poll_generation = 0
        self._call_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._closing = False
        self._thread: threading.Thread | None = None
        self._thread_stop: asyncio.Event | None = None

    # --- addresses ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    @property
    def running(self) -> bool:
        return self._runner is not None

    @property
    def bot_user(self) -> JSONDict:
        return {"id": self.bot_user_id, "is_bot": True, "first_name": self.bot_first_name,
                "username": self.bot_username}

    # --- lifecycle (same loop) ------------------------------------------------------------------
    async def start(self) -> None:
        """Listen on ``host:port`` (port 0 -> random free port, kept for later restarts)."""
        if self._runner is not None:
            return
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0,
                               handler_cancellation=True)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            site = web.SockSite(runner, sock)
            await site.start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self.port = sock.getsockname()[1]
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._closing = False
        self._runner = runner

    async def stop(self) -> None:
        """Close the listener and all connections; ``start()`` again re-binds the same port."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._closing = True
        self._wake_pollers()
        try:
            await runner.cleanup()
        finally:
            self._closing = False

    async def __aenter__(self) -> FakeTelegramServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- lifecycle (own thread) -----------------------------------------------------------------
    def start_in_thread(self, timeout: float = 10.0) -> FakeTelegramServer:
        """Run the server in a daemon thread with its own event loop; returns self once listening."""
        if self._thread is not None:
            return self
        ready = threading.Event()
        errors: list[BaseException] = []

        async def main() -> None:
            self._thread_stop = asyncio.Event()
            try:
                await self.start()
            except BaseException as exc:  # reported to the starting thread
                errors.append(exc)
                ready.set()
                return
            ready.set()
            try:
                await self._thread_stop.wait()
            finally:
                await self.stop()

        thread = threading.Thread(target=asyncio.run, args=(main(),), name="fake-telegram", daemon=True)
        thread.start()
        if not ready.wait(timeout):
            raise TimeoutError("fake Telegram server thread did not start")
        if errors:
            thread.join(timeout)
            raise errors[0]
        self._thread = thread
        return self

    def stop_thread(self, timeout: float = 10.0) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        loop, stop_event = self._loop, self._thread_stop
        if loop is not None and stop_event is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop_event.set)
        thread.join(timeout)

    def __enter__(self) -> FakeTelegramServer:
        return self.start_in_thread()

    def __exit__(self, *exc: object) -> None:
        self.stop_thread()

    # --- cross-thread helpers -------------------------------------------------------------------
    def _in_server_thread(self) -> bool:
        return self._loop_thread is None or threading.get_ident() == self._loop_thread

    def _wake_pollers(self) -> None:
        if self._in_server_thread():
            self._wake_pollers_now()
        elif self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._wake_pollers_now)

    def _wake_pollers_now(self) -> None:
        for fut in list(self._pollers):
            if not fut.done():
                fut.set_result(None)

    def _notify_call_waiters(self) -> None:
        self._cond.notify_all()
        current: asyncio.AbstractEventLoop | None
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        for loop, fut in list(self._call_waiters):
            if loop is current:
                if not fut.done():
                    fut.set_result(None)
            elif not loop.is_closed():
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(_resolve, fut)

    # --- injection ------------------------------------------------------------------------------
    def inject_update(self, update: JSONDict) -> int:
        """Queue an Update for getUpdates. A missing or non-increasing update_id is replaced (in place)."""
        with self._lock:
            uid = update.get("update_id")
            if not isinstance(uid, int) or uid <= self._last_update_id:
                uid = self._last_update_id + 1
                update["update_id"] = uid
            self._last_update_id = uid
            self._remember_chats(update)
            self._updates.append(update)
        self._wake_pollers()
        return uid

    def _remember_chats(self, update: JSONDict) -> None:
        for key in ("message", "edited_message", "channel_post", "my_chat_member", "chat_member"):
            chat = (update.get(key) or {}).get("chat")
            if chat:
                self._chats.setdefault(chat["id"], chat)
        msg = (update.get("callback_query") or {}).get("message") or {}
        if msg.get("chat"):
            self._chats.setdefault(msg["chat"]["id"], msg["chat"])

    @property
    def pending_updates(self) -> list[JSONDict]:
        with self._lock:
            return list(self._updates)

    @property
    def waiting_pollers(self) -> int:
        return sum(1 for f in list(self._pollers) if not f.done())

    def register_file(self, data: bytes, *, file_path: str | None = None, file_id: str | None = None,
                      mime_type: str | None = None, file_name: str | None = None,
                      kind: str = "documents") -> StoredFile:
        with self._lock:
            n = next(self._file_seq)
            file_id = file_id or f"FILE{n:06d}{hashlib.sha1(data, usedforsecurity=False).hexdigest()[:10]}"
            ext = ".jpg" if kind == "photos" else (Path(file_name).suffix if file_name else "") or ".bin"
            stored = StoredFile(file_id=file_id, file_unique_id=f"U{n:06d}", data=bytes(data),
                                file_path=file_path or f"{kind}/file_{n}{ext}", mime_type=mime_type,
                                file_name=file_name)
            self._files[file_id] = stored
            self._files_by_path[stored.file_path] = stored
            return stored

    def make_photo_message(self, chat_id: int | str, user_id: int, data: bytes, **kw: Any) -> JSONDict:
        return make_photo_message(chat_id, user_id, data=data, server=self, **kw)

    def make_document_message(self, chat_id: int | str, user_id: int, data: bytes, **kw: Any) -> JSONDict:
        return make_document_message(chat_id, user_id, data=data, server=self, **kw)

    # --- faults ---------------------------------------------------------------------------------
    @staticmethod
    def _method_set(methods: Iterable[str] | None) -> frozenset[str] | None:
        return None if methods is None else frozenset(m.lower() for m in methods)

    def fail_next(self, n: int = 1, status: int = 500, *, methods: Iterable[str] | None = None,
                  chat_id: int | str | None = None, description: str | None = None) -> None:
        desc = description or {500: "Internal Server Error", 502: "Bad Gateway",
                               503: "Service Unavailable"}.get(status, "Error")
        with self._lock:
            self._faults.append(_Fault(n, status, desc, None, self._method_set(methods), _norm_chat(chat_id)))

    def rate_limit_next(self, n: int = 1, retry_after: int = 1, *, methods: Iterable[str] | None = None,
                        chat_id: int | str | None = None) -> None:
        with self._lock:
            self._faults.append(_Fault(n, 429, f"Too Many Requests: retry after {retry_after}", int(retry_after),
                                       self._method_set(methods), _norm_chat(chat_id)))

    def lose_answer_next(self, n: int = 1, *, methods: Iterable[str] | None = None, chat_id: int | str | None = None,
                         mode: str = "drop", hold: float = 30.0) -> None:
        """The next ``n`` matching requests are processed (and recorded ok) but their answer is lost."""
        if mode not in ("drop", "hold"):
            raise ValueError("mode must be 'drop' or 'hold'")
        with self._lock:
            self._lost.append(_LostAnswer(n, mode, float(hold), self._method_set(methods), _norm_chat(chat_id)))

    def set_chat_error(self, chat_id: int | str, status: int, description: str,
                       parameters: JSONDict | None = None) -> None:
        """Every send/edit to ``chat_id`` fails with this error until cleared."""
        key = _norm_chat(chat_id)
        assert key is not None
        with self._lock:
            self._chat_errors[key] = ApiError(status, description, parameters)

    def block_user(self, chat_id: int | str) -> None:
        self.set_chat_error(chat_id, 403, "Forbidden: bot was blocked by the user")

    def migrate_chat(self, chat_id: int | str, new_chat_id: int) -> None:
        self.set_chat_error(chat_id, 400, "Bad Request: group chat was upgraded to a supergroup chat",
                            {"migrate_to_chat_id": new_chat_id})

    def set_latency(self, seconds: float, *, methods: Iterable[str] | None = None,
                    max_seconds: float | None = None, before_fraction: float = 1.0) -> None:
        if not 0.0 <= before_fraction <= 1.0:
            raise ValueError(f"before_fraction must be between 0 and 1, got {before_fraction!r}")
        with self._lock:
            self._latency = float(seconds)
            self._latency_methods = self._method_set(methods)
            self._latency_max = float(max_seconds) if max_seconds is not None else None
            self._latency_before = float(before_fraction)

    def enforce_limits(self, global_per_sec: int = 30, per_chat_per_sec: int = 1, per_group_per_min: int = 20,
                       burst: int = 0) -> None:
        with self._lock:
            self._limits = Limits(global_per_sec, per_chat_per_sec, per_group_per_min, burst)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._lost.clear()
            self._chat_errors.clear()
            self._latency = 0.0
            self._latency_methods = None
            self._latency_max = None
            self._latency_before = 1.0
            self._limits = None

    def reset(self) -> None:
        """Forget calls, pending updates, faults, limits and stats (files and chats stay)."""
        with self._lock:
            self.clear_faults()
            self.calls.clear()
            self._updates.clear()
            self.stats = Stats()
            self._windows = _Windows()

    # --- inspection -----------------------------------------------------------------------------
    def mark(self) -> int:
        """Current number of recorded calls: pass as ``wait_for(..., since=server.mark())`` to ignore older calls."""
        with self._lock:
            return len(self.calls)

    def calls_of(self, method: str, *, include_failed: bool = True) -> list[RecordedCall]:
        low = method.lower()
        with self._lock:
            return [c for c in self.calls if c.method.lower() == low and (include_failed or c.ok)]

    def sent_messages(self, chat_id: int | str | None = None, *, include_failed: bool = False) -> list[RecordedCall]:
        key = _norm_chat(chat_id)
        with self._lock:
            return [
                c for c in self.calls
                if _is_send(c.method.lower()) and (include_failed or c.ok)
                and (key is None or c.chat_id == key)
            ]

    def texts(self, chat_id: int | str | None = None) -> list[str]:
        return [c.text for c in self.sent_messages(chat_id) if c.text is not None]

    def duplicates(self) -> dict[tuple[ChatKey, str], int]:
        """(chat_id, text or caption) delivered more than once -> number of deliveries."""
        counter = Counter(
            (call.chat_id, call.text) for call in self.sent_messages()
            if call.chat_id is not None and call.text is not None
        )
        return {key: n for key, n in counter.items() if n > 1}

    def duplicate_count(self) -> int:
        return sum(n - 1 for n in self.duplicates().values())

    def _timeout_message(self, timeout: float) -> str:
        tail = [f"{c.method}({c.chat_id}) ok={c.ok} text={c.text!r}" for c in self.calls[-8:]]
        return f"no matching call within {timeout}s; last calls: {tail}"

    async def wait_for(self, predicate: Callable[[RecordedCall], bool], timeout: float = 5.0, *, count: int = 1,
                       include_failed: bool = False, since: int = 0) -> RecordedCall:
        """Wait until ``count`` recorded calls from index ``since`` match; returns the count-th match."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        index, matches = since, 0
        while True:
            fut: asyncio.Future[None] = loop.create_future()
            entry = (loop, fut)
            with self._lock:
                self._call_waiters.append(entry)
                batch = self.calls[index:]
            index += len(batch)
            try:
                for call in batch:
                    if (call.ok or include_failed) and predicate(call):
                        matches += 1
                        if matches >= count:
                            return call
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise TimeoutError(self._timeout_message(timeout))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(fut, remaining)
            finally:
                with self._lock, contextlib.suppress(ValueError):
                    self._call_waiters.remove(entry)

    def wait_for_sync(self, predicate: Callable[[RecordedCall], bool], timeout: float = 5.0, *, count: int = 1,
                      include_failed: bool = False, since: int = 0) -> RecordedCall:
        """Blocking twin of ``wait_for`` (for thread mode; never call it on the server's own loop)."""
        deadline = time.monotonic() + timeout
        index, matches = since, 0
        with self._cond:
            while True:
                batch = self.calls[index:]
                index += len(batch)
                for call in batch:
                    if (call.ok or include_failed) and predicate(call):
                        matches += 1
                        if matches >= count:
                            return call
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(self._timeout_message(timeout))
                self._cond.wait(remaining)

    # --- HTTP -----------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/_control/"):
            return await self._control(request, path[len("/_control/"):])
        if path.startswith("/file/bot"):
            return self._download(path[len("/file/bot"):])
        if path.startswith("/bot"):
            token, _, method = path[len("/bot"):].partition("/")
            if self.token is not None and token != self.token:
                return _json_response(ApiError(401, "Unauthorized").payload(), 401)
            if not method or "/" in method:
                return _json_response(ApiError(404, "Not Found").payload(), 404)
            return await self._api(request, method)
        return _json_response(ApiError(404, "Not Found").payload(), 404)

    def _download(self, rest: str) -> web.StreamResponse:
        token, _, file_path = rest.partition("/")
        if self.token is not None and token != self.token:
            return web.Response(status=401, text="Unauthorized")
        with self._lock:
            stored = self._files_by_path.get(file_path)
        if stored is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=stored.data, content_type=stored.mime_type or "application/octet-stream")

    async def _read_params(self, request: web.Request) -> tuple[JSONDict, dict[str, UploadedFile]]:
        raw: dict[str, Any] = dict(request.query)
        files: dict[str, UploadedFile] = {}
        if request.method == "POST" and request.can_read_body:
            ctype = request.content_type
            if ctype == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    raw.update(body)
            elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        files[key] = UploadedFile(key, value.filename, value.content_type, value.file.read())
                    else:
                        raw[key] = value
        params: JSONDict = {}
        for key, value in raw.items():
            if isinstance(value, str) and key not in _STRING_FIELDS and value[:1] in '{["-0123456789tfn':
                with contextlib.suppress(ValueError):
                    value = json.loads(value)
            params[key] = value
        return params, files

    async def _api(self, request: web.Request, method_raw: str) -> web.StreamResponse:
        low = method_raw.lower()
        method = CANONICAL.get(low, method_raw)
        try:
            params, files = await self._read_params(request)
        except ValueError as exc:
            return _json_response(ApiError(400, f"Bad Request: {exc}").payload(), 400)
        chat_id = _norm_chat(params.get("chat_id"))
        with self._lock:
            latency = self._latency if self._latency > 0 and _method_matches(self._latency_methods, low) else 0.0
            if latency and self._latency_max is not None and self._latency_max > latency:
                latency = random.uniform(latency, self._latency_max)
            before = latency * self._latency_before
        if before:
            await asyncio.sleep(before)

        status, body, result, error = 200, None, None, None
        with self._lock:
            self.stats.requests += 1
            error = self._pre_check(low, chat_id)
            if error is None and low != "getupdates":
                try:
                    result = self._dispatch(low, params, files, chat_id)
                except ApiError as exc:
                    error = exc
                if error is None and _is_send(low):
                    now = time.monotonic()
                    self._windows.record(chat_id, now, self.stats)
                    self.stats.sent += 1
                    self.stats.last_send_at = now
                    if self.stats.first_send_at is None:
                        self.stats.first_send_at = now
        if error is None and low == "getupdates":
            try:
                result = await self._get_updates(params)
            except ApiError as exc:
                error = exc
        if error is not None:
            status, body = error.status, error.payload()
        else:
            body = {"ok": True, "result": result}
        with self._lock:
            call = RecordedCall(
                seq=next(self._seq), method=method, params=params, files=files, timestamp=time.monotonic(),
                chat_id=chat_id, status=status, ok=error is None, result=result,
                description=error.description if error else None,
                retry_after=(error.parameters or {}).get("retry_after") if error else None,
            )
            self.calls.append(call)
            if status == 429:
                self.stats.rate_limited_429 += 1
            elif status == 403:
                self.stats.forbidden_403 += 1
            self._notify_call_waiters()
            lost = self._take_lost(low, chat_id) if error is None else None
        if latency > before:  # the rest of the delay: on the way back
            await asyncio.sleep(latency - before)
        if lost is not None:
            if lost.mode == "hold":
                await asyncio.sleep(lost.hold)  # the client gives up first (its read timeout)
            elif request.transport is not None:
                request.transport.close()  # connection dropped after the work was done: no answer at all
                raise asyncio.CancelledError
        return _json_response(body, status)

    def _take_lost(self, low: str, chat_id: ChatKey | None) -> _LostAnswer | None:
        for lost in self._lost:
            if lost.remaining > 0 and lost.matches(low, chat_id):
                lost.remaining -= 1
                self._lost = [x for x in self._lost if x.remaining > 0]
                return lost
        return None

    def _pre_check(self, low: str, chat_id: ChatKey | None) -> ApiError | None:
        """Injected faults, per-chat errors and flood limits (lock held)."""
        for fault in self._faults:
            if fault.remaining > 0 and fault.matches(low, chat_id):
                fault.remaining -= 1
                if fault.retry_after is not None:
                    return ApiError(429, fault.description, {"retry_after": fault.retry_after})
                self.stats.injected_failures += 1
                return ApiError(fault.status, fault.description)
        self._faults = [f for f in self._faults if f.remaining > 0]
        if low not in CANONICAL:
            return ApiError(404, "Not Found")
        if chat_id is not None and _is_send(low):
            err = self._chat_errors.get(chat_id)
            if err is not None:
                return ApiError(err.status, err.description, err.parameters)
        if self._limits is not None and _is_send(low):
            retry = self._windows.check(chat_id, time.monotonic(), self._limits)
            if retry is not None:
                self.stats.enforced_429 += 1
                return ApiError(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})
        return None

    async def _get_updates(self, params: JSONDict) -> list[JSONDict]:
        loop = asyncio.get_running_loop()
        offset = int(params.get("offset") or 0)
        limit = max(1, min(100, int(params.get("limit") or 100)))
        timeout = max(0.0, float(params.get("timeout") or 0))
        allowed = params.get("allowed_updates") or None
        with self._lock:
            if self.webhook_url:
                raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                    "use deleteWebhook to delete the webhook first")
            self._confirm(offset)
            self._poll_generation += 1
            generation = self._poll_generation
        self._wake_pollers_now()  # terminates an older concurrent poll with 409 (like Telegram)
        deadline = loop.time() + timeout
        while True:
            with self._lock:
                if generation != self._poll_generation:
                    raise ApiError(409, "Conflict: terminated by other getUpdates request; "
                                        "make sure that only one bot instance is running")
                batch = [u for u in self._updates if u["update_id"] >= offset
                         and (not allowed or any(k in u for k in allowed))][:limit]
            remaining = deadline - loop.time()
            if batch or remaining <= 0 or self._closing:
                return [json.loads(json.dumps(u)) for u in batch]
            fut: asyncio.Future[None] = loop.create_future()
            self._pollers.add(fut)
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(fut, remaining)
            finally:
                self._pollers.discard(fut)

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            while self._updates and self._updates[0]["update_id"] < offset:
                self._updates.popleft()
        elif offset < 0:
            while len(self._updates) > -offset:
                self._updates.popleft()

    # --- method implementations (lock held) -----------------------------------------------------
    def _dispatch(self, low: str, params: JSONDict, files: dict[str, UploadedFile], chat_id: ChatKey | None) -> Any:
        if low == "getme":
            return {**self.bot_user, "can_join_groups": True, "can_read_all_group_messages": False,
                    "supports_inline_queries": False, "can_connect_to_business": False,
                    "has_main_web_app": False}
        if low == "answercallbackquery":
            return True
        if low == "setwebhook":
            self.webhook_url = str(params.get("url") or "")
            if params.get("drop_pending_updates"):
                self._updates.clear()
            return True
        if low == "deletewebhook":
            self.webhook_url = ""
            if params.get("drop_pending_updates"):
                self._updates.clear()
            return True
        if low == "getfile":
            stored = self._files.get(str(params.get("file_id")))
            if stored is None:
                raise ApiError(400, "Bad Request: invalid file_id")
            return stored.to_api()
        if _is_send(low):
            if chat_id is None:
                raise ApiError(400, "Bad Request: chat_id is empty")
            return self._send(low, params, files, chat_id)
        raise ApiError(404, "Not Found")

    def _chat(self, chat_id: ChatKey) -> JSONDict:
        chat = self._chats.get(chat_id)
        return dict(chat) if chat else make_chat(chat_id)

    def _new_message(self, chat_id: ChatKey, params: JSONDict) -> JSONDict:
        msg: JSONDict = {"message_id": next(self._message_seq), "date": int(time.time()),
                         "chat": self._chat(chat_id), "from": self.bot_user}
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            msg["reply_markup"] = markup
        return msg

    def _check_length(self, params: JSONDict, key: str, limit: int, what: str) -> None:
        value = params.get(key)
        if value is not None and str(params.get("parse_mode") or "").upper() == "HTML":
            problem = _html_entity_error(str(value))
            if problem is not None:
                raise ApiError(400, f"Bad Request: can't parse entities: {problem}")
        if value is not None and _visible_length(str(value), params.get("parse_mode")) > limit:
            raise ApiError(400, f"Bad Request: {what} is too long")

    def _media(self, kind: str, value: Any, files: dict[str, UploadedFile], params: JSONDict) -> JSONDict:
        """Telegram file object for an uploaded part, an attach:// reference or a file_id/URL string."""
        upload: UploadedFile | None = None
        if isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value[len("attach://"):])
        elif value is None or kind in files:
            upload = files.get(kind)
        stored: StoredFile | None
        if upload is not None:
            folder = "photos" if kind == "photo" else f"{kind}s"
            stored = self.register_file(upload.data, mime_type=upload.content_type, file_name=upload.filename,
                                        kind=folder)
        else:
            stored = self._files.get(str(value))
        if stored is not None:
            base: JSONDict = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                              "file_size": stored.size}
            name, mime = stored.file_name, stored.mime_type
        else:
            base = {"file_id": str(value), "file_unique_id": f"u{abs(hash(str(value))) % 10**10}"}
            name, mime = None, None
        if kind in ("photo", "video"):
            base.update(width=int(params.get("width") or 640), height=int(params.get("height") or 480))
        if kind == "video":
            base["duration"] = int(params.get("duration") or 1)
        if kind != "photo" and name:
            base["file_name"] = name
        if kind != "photo" and mime:
            base["mime_type"] = mime
        return base

    def _send(self, low: str, params: JSONDict, files: dict[str, UploadedFile], chat_id: ChatKey) -> JSONDict:
        """sendMessage, sendPhoto, sendDocument, sendVideo."""
        if low == "sendmessage":
            text = params.get("text")
            if text is None or str(text).strip() == "":
                raise ApiError(400, "Bad Request: message text is empty")
            self._check_length(params, "text", MAX_TEXT_LENGTH, "message")
            msg = self._new_message(chat_id, params)
            msg["text"] = str(text)
            return msg
        kind = low[len("send"):]
        assert kind in _MEDIA_KINDS
        if params.get(kind) is None and kind not in files:
            raise ApiError(400, f"Bad Request: there is no {kind} in the request")
        self._check_length(params, "caption", MAX_CAPTION_LENGTH, "message caption")
        msg = self._new_message(chat_id, params)
        obj = self._media(kind, params.get(kind), files, params)
        msg[kind] = [obj] if kind == "photo" else obj
        if params.get("caption") is not None:
            msg["caption"] = str(params["caption"])
        return msg

    # --- control endpoints (for a test in another process) --------------------------------------
    _CONTROL_ACTIONS: ClassVar[set[str]] = {
        "fail_next", "rate_limit_next", "block_user", "set_chat_error", "migrate_chat", "set_latency",
        "enforce_limits", "clear_faults", "reset",
    }

    async def _control(self, request: web.Request, action: str) -> web.StreamResponse:
        """GET calls?since=N | sent?chat_id=X | stats | duplicates;
        POST inject (update or list) | faults {"action": <method name>, **kwargs}."""
        body: Any = None
        try:
            if request.method == "POST" and request.can_read_body:
                body = await request.json()
            if action == "calls":
                since = int(request.query.get("since", 0))
                with self._lock:
                    calls = [c.to_json() for c in self.calls[since:]]
                return _json_response({"ok": True, "calls": calls, "next": since + len(calls)})
            if action == "sent":
                chat = request.query.get("chat_id")
                return _json_response({"ok": True, "calls": [c.to_json() for c in self.sent_messages(chat)]})
            if action == "stats":
                with self._lock:
                    return _json_response({"ok": True, "stats": self.stats.to_json()})
            if action == "duplicates":
                dups = [[k[0], k[1], n] for k, n in self.duplicates().items()]
                return _json_response({"ok": True, "duplicates": dups})
            if action == "inject" and request.method == "POST":
                items = body if isinstance(body, list) else [body]
                ids = [self.inject_update(u) for u in items]
                return _json_response({"ok": True, "update_ids": ids})
            if action == "faults" and request.method == "POST":
                name = body.pop("action", None)
                if name not in self._CONTROL_ACTIONS:
                    return _json_response({"ok": False, "description": f"unknown action {name!r}"}, 400)
                getattr(self, name)(**body)
                return _json_response({"ok": True})
        except (KeyError, TypeError, ValueError) as exc:
            return _json_response({"ok": False, "description": f"{type(exc).__name__}: {exc}"}, 400)
        return _json_response({"ok": False, "description": "Not Found"}, 404)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=json.dumps(body, ensure_ascii=False).encode(), status=status,
                        content_type="application/json")


# --------------------------------------------------------------------------------------------------
# Separate-process mode
# --------------------------------------------------------------------------------------------------

class RemoteFakeTelegram:
    """Client for the ``/_control`` endpoints of a server running in another process (sync httpx)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        import httpx

        self.url = url.rstrip("/")
        self.base_url = f"{self.url}/bot"
        self.base_file_url = f"{self.url}/file/bot"
        self._client = httpx.Client(base_url=f"{self.url}/_control", timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def _get(self, path: str, **query: Any) -> JSONDict:
        resp = self._client.get(path, params={k: v for k, v in query.items() if v is not None})
        resp.raise_for_status()
        return resp.json()

    def _post(self, path: str, body: Any) -> JSONDict:
        resp = self._client.post(path, json=body)
        resp.raise_for_status()
        return resp.json()

    def calls(self, since: int = 0) -> list[RecordedCall]:
        return [RecordedCall.from_json(c) for c in self._get("calls", since=since)["calls"]]

    def sent_messages(self, chat_id: int | str | None = None) -> list[RecordedCall]:
        return [RecordedCall.from_json(c) for c in self._get("sent", chat_id=chat_id)["calls"]]

    def stats(self) -> JSONDict:
        return self._get("stats")["stats"]

    def duplicates(self) -> list[list[Any]]:
        return self._get("duplicates")["duplicates"]

    def inject_update(self, update: JSONDict) -> int:
        return int(self._post("inject", update)["update_ids"][0])

    def inject_updates(self, updates: list[JSONDict]) -> list[int]:
        """Several updates in one request (they are queued at once: a burst)."""
        return [int(u) for u in self._post("inject", updates)["update_ids"]]

    def fault(self, action: str, **kwargs: Any) -> None:
        """Call a fault/config method remotely, e.g. ``fault("rate_limit_next", n=2, retry_after=3)``."""
        self._post("faults", {"action": action, **kwargs})


class FakeTelegramProcess:
    """``python -m tests.support.fakes.telegram_server`` as a child process (survives a SIGKILLed bot).

    ``start()`` -> self (``url``, ``base_url``, ``base_file_url``, ``port``, ``control``); ``stop()``;
    calling ``start()`` again after ``stop()`` reuses the same port."""

    def __init__(
        self, port: int = 0, token: str | None = None, host: str = "127.0.0.1", *, steady_clock: bool = False
    ) -> None:
        self.host, self.port, self.token = host, port, token
        self.steady_clock = steady_clock
        self.proc: subprocess.Popen[str] | None = None
        self.control: RemoteFakeTelegram | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    def start(self, timeout: float = 20.0) -> FakeTelegramProcess:
        root = Path(__file__).resolve().parents[3]
        cmd = [
            sys.executable, "-m", "tests.support.fakes.telegram_server", "--host", self.host, "--port", str(self.port)
        ]
        if self.token:
            cmd += ["--token", self.token]
        if self.steady_clock:
            cmd += ["--steady-clock"]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, text=True, env=env)
        line_box: list[str] = []
        reader = threading.Thread(target=lambda: line_box.append(self.proc.stdout.readline()),  # type: ignore[union-attr]
                                  daemon=True)
        reader.start()
        reader.join(timeout)
        line = line_box[0] if line_box else ""
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError(f"fake Telegram process did not start (got {line!r})")
        self.port = int(line.split()[1].rsplit(":", 1)[1])
        self.control = RemoteFakeTelegram(self.url)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        if self.control is not None:
            self.control.close()
            self.control = None
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        if proc.stdout is not None:
            proc.stdout.close()

    def __enter__(self) -> FakeTelegramProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def _serve(host: str, port: int, token: str | None) -> None:
    server = FakeTelegramServer(token=token, host=host, port=port)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"READY {server.url}", flush=True)
    try:
        await stop.wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake Telegram Bot API server (tests only, 127.0.0.1)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default=None, help="enforce this token (default: accept any)")
    parser.add_argument(
        "--steady-clock", action="store_true",
        help="no cyclic garbage collection (benchmarks): a collection pauses this process for up to ~0.1 s and "
        "then stamps the queued requests as if they had arrived together, which Telegram's servers do not do",
    )
    args = parser.parse_args(argv)
    if args.steady_clock:
        gc.disable()
    asyncio.run(_serve(args.host, args.port, args.token))


if __name__ == "__main__":
    main()
