"""Telegram channel with python-telegram-bot 22: updates in (long polling or webhook), outbox rows out.

Inbound: every update becomes an :class:`Incoming` (ids only — usernames and names are dropped here)
and goes through ``Core.handle``. Updates of different chats are handled concurrently (PTB's
``concurrent_updates``, ``telegram.concurrent_updates`` of them at once); the core's per-chat lock keeps one
chat's updates in arrival order, because nothing awaits between PTB starting an update's task (in order) and
the lock being queued for. Callback queries are answered in a task of their own (the spinner stops while the
update is handled), so a slow ``answerCallbackQuery`` neither delays the handling nor lets a later update of
the chat overtake this one. Outbound: ``TelegramSender``
turns a :class:`Reply` into sendMessage / sendPhoto / sendDocument / sendVideo calls and maps
Telegram errors to outbox results (429 → retry_after, 403 or a private chat's 400 "chat not found" → blocked,
network/5xx → retry).
"""

from __future__ import annotations

import json
import logging
import mimetypes
import os
from dataclasses import replace

# Opt in to PTB's future behaviour (RetryAfter.retry_after as timedelta); _seconds() accepts both.
os.environ.setdefault("PTB_TIMEDELTA", "1")
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Update,
)
from telegram._utils.types import ODVInput
from telegram.constants import MessageLimit, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler
from telegram.request import BaseRequest, HTTPXRequest, RequestData

from bot.channels.splitting import shown_text, split_parts
from bot.channels.telegram_http import AiohttpRequest, ConnectionLost
from bot.config import Settings, max_inflight
from bot.core.model import MAX_TEXT_CHARS, Incoming, MediaIn, MediaOut, Reply
from bot.outbox.ports import Claimed, SendResult

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
MediaLoader = Callable[[int], Awaitable[tuple[bytes, str, str]]]  # media_id -> (bytes, content type, filename)


def _seconds(value: int | float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _markup(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in reply.buttons]
    )


def _markup_json(reply: Reply) -> dict[str, Any]:
    """``_markup(reply).to_dict()``, built directly: a text message's buttons go as JSON, and building PTB's
    objects only to turn them back into dicts cost a tenth of a send's CPU."""
    return {"inline_keyboard": [[{"text": b.label, "callback_data": b.data} for b in row] for row in reply.buttons]}


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def text_parts(text: str, is_html: bool, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[tuple[str, bool]]:
    """The messages a reply's text goes as: (text, is HTML). One when what is shown fits ``limit`` (however long
    the escapes make the raw HTML); else the shown text split at paragraph, line or word boundaries, as plain
    text (the markup is dropped, every word kept). Measured in UTF-16 code units, which is never less than the
    characters Telegram counts."""
    shown = shown_text(text, is_html)
    if _utf16_len(shown) <= limit:
        return [(text or "…", is_html)]
    wide = any(ord(c) > 0xFFFF for c in shown)  # an emoji is two code units: halve the cut so each part fits
    return [(part, False) for part in split_parts(shown, limit // 2 if wide else limit)]


class TelegramSender:
    channel = "telegram"

    def __init__(self, bot: Bot, media_loader: MediaLoader | None = None) -> None:
        self.bot = bot
        self.media_loader = media_loader

    async def send(self, msg: Claimed, reply: Reply) -> SendResult:
        parts: list[int] = []  # message ids of the parts already delivered (media first, then the text)
        result = await self._send_mapped(msg, reply, parts)
        if result.status != "sent" and parts:
            return replace(result, partial=True)  # at-most-once purposes: never re-send the delivered parts
        return result

    async def _send_mapped(self, msg: Claimed, reply: Reply, parts: list[int]) -> SendResult:
        try:
            message_id = await self._send(int(msg.chat_id), reply, parts)
        except RetryAfter as exc:
            return SendResult("retry", retry_after=_seconds(exc.retry_after) + 0.1, error="429")
        except Forbidden as exc:
            if msg.is_group:  # bot removed from a Bawaslu group: keep the message, an operator must act
                log.error("bot cannot post to a group", extra={"outbox_id": msg.id, "error": str(exc)[:100]})
                return SendResult("retry", error=f"forbidden: {str(exc)[:80]}")
            return SendResult("blocked", error="403")
        except ChatMigrated as exc:  # the group became a supergroup: the outbox re-targets and sends again
            log.error("group migrated to a supergroup; update bawaslu_groups", extra={"new_chat_id": exc.new_chat_id})
            return SendResult("retry", error="chat migrated", moved_to=str(exc.new_chat_id))
        except BadRequest as exc:  # before NetworkError: BadRequest is a subclass of it
            if not msg.is_group and "chat not found" in str(exc).lower():
                # the user's chat is gone (account deleted): like a 403, the subscriber is deactivated
                return SendResult("blocked", error="400 chat not found")
            return SendResult("failed", error=f"bad request: {str(exc)[:150]}")
        except InvalidToken:
            log.error("Telegram rejected the bot token")
            return SendResult("retry", error="invalid token")
        except (TimedOut, ConnectionLost) as exc:  # no answer: it may have been delivered (see SendResult)
            return SendResult("retry", error=f"no answer: {type(exc).__name__}", answered=False)
        except NetworkError as exc:
            return SendResult("retry", error=f"network: {type(exc).__name__}")
        except TelegramError as exc:
            return SendResult("retry", error=f"telegram: {type(exc).__name__}")
        return SendResult("sent", external_id=str(message_id))

    async def _send(self, chat_id: int, reply: Reply, parts: list[int]) -> int:
        last: int = 0
        for i, media in enumerate(reply.media):
            with_markup = i == len(reply.media) - 1 and not reply.text
            last = await self._send_media(chat_id, media, reply, _markup(reply) if with_markup else None)
            parts.append(last)
        if reply.text or not reply.media:
            texts = text_parts(reply.text, reply.html)
            for j, (text, is_html) in enumerate(texts):
                params: dict[str, Any] = {"chat_id": chat_id, "text": text}
                if is_html:
                    params["parse_mode"] = ParseMode.HTML
                if reply.buttons and j == len(texts) - 1:  # the buttons go with the end of the text
                    params["reply_markup"] = _markup_json(reply)
                if reply.protect:
                    params["protect_content"] = True
                # The raw result, not a telegram.Message: building one costs a third of a send's CPU, and only
                # the message id is kept. Bot API method names are case-insensitive; the lower-case spelling
                # keeps PTB from suggesting Bot.send_message, which is exactly the call this avoids.
                result = await self.bot.do_api_request("sendmessage", api_kwargs=params)
                last = int(result["message_id"]) if isinstance(result, dict) else 0
                parts.append(last)
        return last

    async def _send_media(
        self, chat_id: int, media: MediaOut, reply: Reply, markup: InlineKeyboardMarkup | None
    ) -> int:
        caption = media.caption[: MessageLimit.CAPTION_LENGTH] or None
        parse_mode = ParseMode.HTML if reply.html else None
        kwargs: dict[str, Any] = {
            "caption": caption,
            "parse_mode": parse_mode,
            "reply_markup": markup,
            "protect_content": reply.protect or None,
        }
        source: Any
        if media.media_id is not None:
            if self.media_loader is None:
                raise RuntimeError("no media loader configured")
            data, _ctype, filename = await self.media_loader(media.media_id)
            source = InputFile(data, filename=filename)
        else:
            source = media.ref
        if media.kind == "photo":
            sent = await self.bot.send_photo(chat_id, source, **kwargs)
        elif media.kind == "video":
            sent = await self.bot.send_video(chat_id, source, **kwargs)
        else:
            sent = await self.bot.send_document(chat_id, source, **kwargs)
        return sent.message_id


# --- inbound ------------------------------------------------------------------------------------

def for_another_bot(text: str, username: str | None) -> bool:
    """Whether ``text`` is a command addressed to a bot other than ``username`` ("/bantuan@OtherBot")."""
    if not text.startswith("/") or username is None:
        return False
    head = text.split(maxsplit=1)[0] if text.strip() else ""
    _name, at, suffix = head.partition("@")
    return bool(at) and suffix.lower() != username.lower()


def to_incoming(update: Update, bot_username: str | None = None) -> Incoming | None:
    """Translate a Telegram update; None for updates the bot does not act on (given ``bot_username``, also
    a group's commands addressed to other bots)."""
    if update.callback_query is not None:
        q = update.callback_query
        msg = q.message
        if msg is None or q.data is None:
            return None
        return Incoming(
            channel="telegram",
            chat_id=str(msg.chat.id),
            user_id=str(q.from_user.id),
            chat_type="private" if msg.chat.type == "private" else "group",
            callback=q.data[:64],
            update_key=str(update.update_id),
        )
    message = update.message
    if message is None or message.from_user is None:
        return None  # edited messages, channel posts, service updates: nothing to answer
    if message.chat.type not in ("private", "group", "supergroup"):
        return None
    text = message.text or message.caption or ""
    if message.chat.type != "private" and for_another_bot(text, bot_username):
        return None
    truncated = len(text) > MAX_TEXT_CHARS
    media: list[MediaIn] = []
    if message.photo:
        p = message.photo[-1]
        media.append(MediaIn("photo", p.file_id, "image/jpeg", p.file_size))
    if message.document is not None:
        d = message.document
        media.append(MediaIn("document", d.file_id, d.mime_type or "application/octet-stream", d.file_size))
    if message.video is not None:
        v = message.video
        media.append(MediaIn("video", v.file_id, v.mime_type or "video/mp4", v.file_size))
    return Incoming(
        channel="telegram",
        chat_id=str(message.chat.id),
        user_id=str(message.from_user.id),
        chat_type="private" if message.chat.type == "private" else "group",
        text=text[:MAX_TEXT_CHARS],
        media=tuple(media),
        update_key=str(update.update_id),
        truncated=truncated,
        reply_to=str(message.reply_to_message.message_id) if message.reply_to_message is not None else None,
    )


def _readable(data: Any) -> bool:
    """Whether python-telegram-bot can build an :class:`Update` from ``data`` (which the attempt may change)."""
    try:
        Update.de_json(data, None)
    except Exception:
        return False
    return True


def screen_updates(body: bytes) -> bytes:
    """A getUpdates answer in which every update PTB cannot build is replaced by its bare ``update_id``.

    PTB builds a whole batch at once: one update it cannot read (a missing field, a type newer than the
    library) failed the batch, the offset never moved past it and polling fetched the same batch forever,
    leaving every chat unanswered; and PTB's CRITICAL log line of the failure carried the raw updates (names,
    phone numbers). The bare update is confirmed with the others and ignored; the log names its id only.
    The trial builds work on a parsed copy; the answer is given back unchanged when every update is readable."""
    try:
        trial = json.loads(body)
    except ValueError:
        return body  # not JSON: PTB reports it as it would
    if not isinstance(trial, dict) or not isinstance(trial.get("result"), list):
        return body
    bad = [i for i, data in enumerate(trial["result"]) if not (isinstance(data, dict) and _readable(data))]
    if not bad:
        return body
    answer = json.loads(body)  # the trial copy holds PTB objects now
    result: list[Any] = answer["result"]
    changed = False
    for i in bad:
        update_id = result[i].get("update_id") if isinstance(result[i], dict) else None
        if not isinstance(update_id, int):
            continue  # without an id it cannot be confirmed: left to PTB
        log.warning("telegram update could not be read; skipped", extra={"update_id": update_id})
        result[i] = {"update_id": update_id}
        changed = True
    return json.dumps(answer).encode() if changed else body


class ScreenedUpdatesRequest(HTTPXRequest):
    """The transport of getUpdates (PTB's default one) with unreadable updates screened out (``screen_updates``)."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        status, body = await super().do_request(
            url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
        )
        if status == 200 and url.lower().endswith("/getupdates"):
            body = screen_updates(body)
        return status, body


def _polling_error(exc: TelegramError) -> None:
    """A failed getUpdates while running: one warning line, no traceback. PTB's polling loop retries by
    itself with a growing pause (1 s, then x1.5 up to 30 s; at once after a timeout). A 409 is no network
    trouble: another process takes this bot's updates, and only one may."""
    if isinstance(exc, Conflict):
        log.error("telegram polling conflict: another process is receiving this bot's updates (a second "
                  "`python -m bot run` with the same telegram.token, or a webhook set for it); stop it: only one "
                  "process may poll, use mode = \"webhook\" for several", extra={"error": "Conflict"})
        return
    log.warning("telegram polling failed; retrying", extra={"error": type(exc).__name__})


class TelegramChannel:
    """Owns the PTB Application; hands updates to the core and provides the sender and media fetcher."""

    def __init__(self, settings: Settings, handle: Callable[[Incoming], Awaitable[None]]) -> None:
        tg = settings.telegram
        assert tg.token is not None
        builder = (
            ApplicationBuilder()
            .token(tg.token.get_secret_value())
            .request(AiohttpRequest(connection_pool_size=max(256, max_inflight(settings))))
            .get_updates_request(ScreenedUpdatesRequest(connection_pool_size=1))
            .base_url(tg.base_url)
            .base_file_url(tg.base_file_url)
            .job_queue(None)
        )
        if tg.concurrent_updates > 1:
            builder = builder.concurrent_updates(tg.concurrent_updates)
        if tg.mode == "webhook":
            builder = builder.updater(None)
        self.app: Application[Any, Any, Any, Any, Any, Any] = builder.build()
        self.settings = settings
        self._handle = handle
        # my_chat_member: the bot was removed from a group (chat id, update id) -> the runtime alerts admins
        self.on_bot_removed: Callable[[int, str], Awaitable[object]] | None = None
        self.app.add_handler(TypeHandler(Update, self._on_update))
        self.app.add_error_handler(self._on_error)

    @property
    def bot(self) -> Bot:
        return self.app.bot

    async def _on_update(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        # No await before ``self._handle`` queues for the chat's lock: that keeps one chat's updates in order.
        if update.callback_query is not None:
            if self.app.running:  # PTB keeps track of the task (Application.stop waits for it)
                self.app.create_task(self._answer(update.callback_query), update=update)
            else:  # an Application used without start() (process_update only): nothing would await a task
                await self._answer(update.callback_query)
        member = update.my_chat_member
        if member is not None and member.chat.type != "private" and member.new_chat_member.status in ("left", "kicked"):
            if self.on_bot_removed is not None:
                await self.on_bot_removed(member.chat.id, str(update.update_id))
            return
        inc = to_incoming(update, self._username())
        if inc is None:
            return
        await self._handle(inc)

    def _username(self) -> str | None:
        """The bot's own username (known once the Application is initialized: getMe)."""
        try:
            return self.bot.username
        except RuntimeError:
            return None

    @staticmethod
    async def _answer(query: CallbackQuery) -> None:
        try:
            await query.answer()
        except TelegramError as exc:
            log.info("callback query not answered", extra={"error": type(exc).__name__})

    async def _on_error(self, _update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        # Never log the update itself: it carries names and usernames.
        err = context.error
        log.error("telegram update failed", extra={"error": type(err).__name__}, exc_info=err)

    async def fetch_media(self, file_id: str) -> tuple[bytes, str]:
        f = await self.bot.get_file(file_id)
        data = bytes(await f.download_as_bytearray())
        ctype = mimetypes.guess_type(f.file_path or "")[0] or "application/octet-stream"
        return data, ctype

    async def start(self) -> None:
        tg = self.settings.telegram
        await self.app.initialize()
        await self.app.start()
        if self.app.updater is not None:
            await self.app.updater.start_polling(
                timeout=int(tg.poll_timeout), allowed_updates=ALLOWED_UPDATES, error_callback=_polling_error
            )
        else:
            assert tg.webhook_url is not None and tg.webhook_secret is not None
            await self.bot.set_webhook(
                tg.webhook_url, secret_token=tg.webhook_secret.get_secret_value(), allowed_updates=ALLOWED_UPDATES
            )

    async def stop_input(self) -> None:
        """Stop polling; return once the updates already fetched are handled (``Application.stop`` waits for
        them). The bot's HTTP client stays open for the delivery loop until ``close``."""
        if self.app.updater is not None and self.app.updater.running:
            await self.app.updater.stop()
        if self.app.running:
            await self.app.stop()

    async def close(self) -> None:
        """Close the bot's HTTP client (after the delivery loop has stopped)."""
        await self.app.shutdown()

    async def stop(self) -> None:
        await self.stop_input()
        await self.close()

    async def process_webhook_update(self, data: dict[str, Any]) -> None:
        """Handle one webhook update before returning: the HTTP 200 that follows means it is in the database
        (like the WhatsApp webhook). A crash before that answer makes Telegram deliver it again, and the
        core's de-duplication (``processed_updates``) drops a redelivery of an update already handled."""
        update_id = data.get("update_id")
        try:
            update = Update.de_json(data, self.bot)
        except Exception:  # answered 200 all the same: a retried update would hold up the others
            log.warning("telegram update could not be read; skipped", extra={"update_id": update_id})
            return
        await self.app.process_update(update)
