"""Receipt codes for tips: short, unambiguous, unguessable ("JN-7KQ3-MX9P").

The alphabet leaves out characters people confuse when reading or typing (0/O, 1/I/L). Eight characters
from 31 symbols give about 40 bits: not guessable by someone trying codes with /status, and /status only
answers the reporter who owns the code anyway.
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
PREFIX = "JN"
LENGTH = 8
_CODE_RE = re.compile(rf"^{PREFIX}-[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}$")


def new_code() -> str:
    """A fresh random code ``JN-XXXX-XXXX`` (uniqueness is enforced by the database)."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return f"{PREFIX}-{body[:4]}-{body[4:]}"


def normalize(text: str) -> str | None:
    """A code as typed by a person ("jn 7kq3mx9p", "JN-7KQ3-MX9P") in canonical form, or None."""
    raw = re.sub(r"[\s\-_.]", "", text.strip().upper())
    if raw.startswith(PREFIX):
        raw = raw[len(PREFIX) :]
    if len(raw) != LENGTH:
        return None
    code = f"{PREFIX}-{raw[:4]}-{raw[4:]}"
    return code if _CODE_RE.match(code) else None
