"""Button payloads in one place: ``prefix:action[:arg…]``, packed and parsed by a small codec.

Telegram limits callback data to 64 bytes, and a payload is untrusted input (anyone can forge one), so a
feature never splits strings itself: it declares ``CB = CallbackData("sub")``, builds payloads with
``CB("r", code)`` and reads them with ``CB.parse(data)``, which returns ``None`` for anything malformed.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_BYTES = 64  # Telegram's limit for callback_data
SEP = ":"


@dataclass(frozen=True)
class Callback:
    """A parsed payload: the action and its arguments (strings, as they came)."""

    action: str
    args: tuple[str, ...] = ()

    def arg(self, index: int) -> str | None:
        return self.args[index] if 0 <= index < len(self.args) else None

    def int_arg(self, index: int) -> int | None:
        """The argument as a non-negative integer, or None when missing or not a plain decimal number."""
        value = self.arg(index)
        return int(value) if value is not None and value.isascii() and value.isdecimal() else None

    def is_(self, action: str, nargs: int = 0) -> bool:
        """This action with exactly ``nargs`` arguments."""
        return self.action == action and len(self.args) == nargs


@dataclass(frozen=True)
class CallbackData:
    """The codec of one feature's buttons (``prefix`` is what the router dispatches on)."""

    prefix: str

    def __post_init__(self) -> None:
        if not self.prefix or SEP in self.prefix:
            raise ValueError(f"bad callback prefix {self.prefix!r}")

    def __call__(self, action: str, *args: str | int) -> str:
        parts = [self.prefix, action, *(str(a) for a in args)]
        if any(not p or SEP in p for p in parts[1:]):
            raise ValueError(f"callback parts must be non-empty and free of {SEP!r}: {parts!r}")
        data = SEP.join(parts)
        if len(data.encode()) > MAX_BYTES:
            raise ValueError(f"callback data over {MAX_BYTES} bytes: {data!r}")
        return data

    def parse(self, data: str | None) -> Callback | None:
        """``None`` unless ``data`` is ``prefix:action[:args]`` of this codec, within the size limit."""
        if data is None or len(data.encode()) > MAX_BYTES:
            return None
        prefix, _, rest = data.partition(SEP)
        if prefix != self.prefix or not rest:
            return None
        action, *args = rest.split(SEP)
        if not action or any(not a for a in args):
            return None
        return Callback(action, tuple(args))
