"""Pseudonyms and encrypted addresses: how the bot remembers people without storing who they are.

* ``key(...)`` — HMAC-SHA256(secret, parts) in hex: stable lookup key (rate limits, "my tips",
  subscriptions), not reversible without the secret.
* ``seal``/``open`` — Fernet encryption of a reply address ("channel:chat_id"), so the bot can write back
  (follow-up questions, status changes) while the database alone reveals nothing.
* ``short(key)`` — 8 hex characters for log lines; never log raw ids.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken


class Identity:
    def __init__(self, secret: str) -> None:
        raw = secret.encode()
        self._hmac_key = hashlib.sha256(b"jaganetral-hmac:" + raw).digest()
        fkey = base64.urlsafe_b64encode(hashlib.sha256(b"jaganetral-fernet:" + raw).digest())
        self._fernet = Fernet(fkey)

    def key(self, *parts: object) -> str:
        msg = "\x1f".join(str(p) for p in parts).encode()
        return hmac.new(self._hmac_key, msg, hashlib.sha256).hexdigest()

    def seal(self, channel: str, chat_id: str) -> str:
        return self._fernet.encrypt(f"{channel}:{chat_id}".encode()).decode()

    def open(self, token: str) -> tuple[str, str]:
        try:
            plain = self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("cannot decrypt address (wrong secret?)") from exc
        channel, _, chat_id = plain.partition(":")
        return channel, chat_id


def short(key: str) -> str:
    return key[:8]
