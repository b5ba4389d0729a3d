"""Channel-agnostic message model: what comes in (Incoming) and what goes out (Reply).

By construction an Incoming carries only channel-native ids — never usernames, display names or
profile names — so no handler can leak what it never receives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

MAX_TEXT_CHARS = 4000  # incoming text longer than this is cut (and the handler told so)

# The console channel's two fixed chats: the user's private chat and the simulated Bawaslu group.
CONSOLE_PRIVATE_CHAT = "console-user"
CONSOLE_GROUP_CHAT = "console-group"

ChatType = Literal["private", "group"]
MediaKind = Literal["photo", "document", "video", "audio", "voice"]


@dataclass(frozen=True)
class MediaIn:
    """Media attached to an incoming message; ``ref`` is channel-specific (Telegram file_id, media URL)."""

    kind: MediaKind
    ref: str
    content_type: str = "application/octet-stream"
    size: int | None = None


@dataclass(frozen=True)
class Incoming:
    channel: str  # telegram | whatsapp | console
    chat_id: str
    user_id: str
    chat_type: ChatType = "private"
    text: str = ""
    callback: str | None = None  # button payload, when a button was pressed
    media: tuple[MediaIn, ...] = ()
    update_key: str | None = None  # unique per inbound update, for de-duplication
    truncated: bool = False
    reply_to: str | None = None  # platform id of the message this one replies to (Telegram; WhatsApp SID), if any

    @property
    def command(self) -> str | None:
        """'/lapor@JagaNetralBot arg' -> 'lapor'; None when the text is not a command."""
        if self.callback is not None or not self.text.startswith("/"):
            return None
        rest = self.text[1:]
        if not rest or rest[0].isspace():  # "/", "/ halo", "/\n": not a command (used to raise IndexError)
            return None
        name = rest.split(maxsplit=1)[0].split("@", 1)[0].lower()
        return name or None

    @property
    def args(self) -> str:
        if self.command is None:
            return ""
        parts = self.text.split(maxsplit=1)
        return parts[1].strip() if len(parts) > 1 else ""


@dataclass(frozen=True)
class Button:
    label: str
    data: str  # <= 64 bytes (Telegram callback_data limit)

    def __post_init__(self) -> None:
        if not 1 <= len(self.data.encode()) <= 64:
            raise ValueError(f"button data must be 1..64 bytes: {self.data!r}")


@dataclass(frozen=True)
class MediaOut:
    """Media to send: either a stored blob (``media_id`` into tip_media) or a channel reference."""

    kind: MediaKind
    media_id: int | None = None
    ref: str | None = None
    caption: str = ""


@dataclass
class Reply:
    text: str = ""
    buttons: list[list[Button]] = field(default_factory=list)
    media: list[MediaOut] = field(default_factory=list)
    html: bool = False  # text is bot-composed HTML with every user-supplied part escaped
    protect: bool = False  # ask the platform to prevent forwarding/saving (tips in groups)
    # The message asks for typed text and its buttons are shortcuts. On channels without real buttons
    # (console, WhatsApp) a typed digit is then text, never a button; a button is typed as its label word.
    text_input: bool = False

    def to_payload(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "buttons": [[[b.label, b.data] for b in row] for row in self.buttons],
            "media": [
                {"kind": m.kind, "media_id": m.media_id, "ref": m.ref, "caption": m.caption}
                for m in self.media
            ],
            "html": self.html,
            "protect": self.protect,
            **({"text_input": True} if self.text_input else {}),
        }

    @classmethod
    def from_payload(cls, p: dict[str, Any]) -> Reply:
        return cls(
            text=p.get("text", ""),
            buttons=[[Button(label, data) for label, data in row] for row in p.get("buttons", [])],
            media=[MediaOut(**m) for m in p.get("media", [])],
            html=bool(p.get("html", False)),
            protect=bool(p.get("protect", False)),
            text_input=bool(p.get("text_input", False)),
        )


def label_word(label: str, *, lower: bool = True) -> str:
    """A button label as the word to type for it on channels without buttons: "⬅️ Kembali" -> "kembali"
    (``lower=False``: "Kembali", for display; typing is case-insensitive)."""
    word = " ".join("".join(c if c.isalnum() else " " for c in label).split())
    return word.lower() if lower else word


def rows(buttons: list[Button], per_row: int = 1) -> list[list[Button]]:
    """Lay out buttons ``per_row`` to a row."""
    return [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]
