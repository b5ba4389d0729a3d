"""Telegram updates that python-telegram-bot cannot build, for the bad-input tests."""

from __future__ import annotations

from typing import Any

from tests.support.fakes.telegram_server import make_message

SECRET_NAME = "Rahasiawati"
SECRET_PHONE = "+6281100112233"


def unreadable_update(chat_id: int) -> dict[str, Any]:
    """A message PTB cannot build (no ``date``) that carries a name and a phone number."""
    update = make_message(chat_id, chat_id, "x")
    msg = update["message"]
    msg.pop("text", None)
    msg.pop("entities", None)
    msg.pop("date")
    msg["from"]["first_name"] = SECRET_NAME
    msg["contact"] = {"phone_number": SECRET_PHONE, "first_name": SECRET_NAME}
    return update
