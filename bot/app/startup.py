"""Start-up checks that turn the usual operator mistakes into one clear line instead of a traceback.

``python -m bot`` catches :class:`StartupError`, prints its message and exits with status 1. Covered:
the database cannot be reached or migrated, Telegram is unreachable or rejects the token, the web port
is taken. (Configuration errors are :class:`bot.config.ConfigError`, exit status 2.)
"""

from __future__ import annotations

import errno
import socket
from typing import Any

from sqlalchemy.engine import make_url

from bot.config import Settings


class StartupError(Exception):
    """The process cannot start; the message (one line, no secrets) says why and what to check."""


def safe_db_url(url: str) -> str:
    """The database URL without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(invalid URL)"


def _reason(exc: BaseException) -> str:
    cause = exc
    while cause.__cause__ is not None or cause.__context__ is not None:  # the driver's error is the useful one
        nxt = cause.__cause__ or cause.__context__
        assert nxt is not None
        cause = nxt
    text = " ".join(str(cause).split()) or type(cause).__name__
    return f"{type(cause).__name__}: {text[:160]}"


def database_error(settings: Settings, exc: BaseException) -> StartupError:
    return StartupError(
        f"Database unreachable ({safe_db_url(settings.database.url)}): {_reason(exc)}. "
        "Check [database] url and that the server is running (`python -m bot doctor`)."
    )


async def migrate_or_fail(rt: Any) -> None:
    """``rt.migrate()``; any failure becomes a StartupError naming the database (password hidden)."""
    try:
        await rt.migrate()
    except Exception as exc:
        raise database_error(rt.settings, exc) from None


def telegram_error(settings: Settings, exc: BaseException) -> StartupError:
    from telegram.error import BadRequest, InvalidToken

    if isinstance(exc, InvalidToken):  # its message contains the token: never print it
        return StartupError(
            "Telegram rejected the bot token (telegram.token / JAGANETRAL_TELEGRAM__TOKEN): "
            "check it with @BotFather."
        )
    if isinstance(exc, BadRequest):  # Telegram answered: it is not the network (its text holds no token)
        where = ("telegram.webhook_url and telegram.webhook_secret" if settings.telegram.mode == "webhook"
                 else "the [telegram] settings")
        return StartupError(f"Telegram refused the start: {str(exc)[:200]}. Check {where}.")
    return StartupError(
        f"Cannot reach Telegram at {settings.telegram.base_url} ({type(exc).__name__}): check the network "
        "or telegram.base_url; the bot retries polling by itself once it has started."
    )


def bind_web_socket(settings: Settings) -> socket.socket:
    """Bind the web server's listening socket now, so a port in use is one clear line, not a uvicorn exit."""
    host, port = settings.web.host, settings.web.port
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        raise StartupError(f"Web server: cannot resolve web.host {host!r} ({exc.strerror or exc}).") from None
    family, kind, proto, _name, addr = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        what = "is already in use" if exc.errno == errno.EADDRINUSE else f"cannot be opened ({exc.strerror or exc})"
        raise StartupError(
            f"Web server: port {port} on {host} {what}. Stop the other program or set web.port "
            "(JAGANETRAL_WEB__PORT)."
        ) from None
    sock.setblocking(False)
    return sock
