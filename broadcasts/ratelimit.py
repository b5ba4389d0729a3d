"""The one rate limiter: sliding windows per channel (global), per private chat and per group.

``reserve`` either books a send slot *now* (returns 0.0) or tells how long until one may be free
(returns the delay, books nothing). Windows are exact sliding windows, the way Telegram counts, with a
small safety margin so that network jitter does not turn our limit into the platform's 429.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    count: int
    per_seconds: float


class SlidingWindow:
    """At most ``count`` events in any ``window`` seconds, paced by a small token bucket.

    The window is the hard limit; the bucket (capacity ``burst`` of the count) spreads sends over the window
    so that the queueing between booking a slot and the request reaching the platform cannot bunch a full
    window's worth into one instant on the platform's clock.
    """

    def __init__(self, limit: Limit, margin: float = 0.02, burst: float | None = None) -> None:
        self.count = max(1, int(limit.count))
        self.window = limit.per_seconds * (1.0 + margin)
        self.stamps: deque[float] = deque()
        self.rate = self.count / self.window
        self.capacity = max(2.0, self.count * burst) if burst is not None else float(self.count)
        self.tokens = self.capacity
        self.updated: float | None = None

    def _refill(self, now: float) -> None:
        if self.updated is not None:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def delay(self, now: float) -> float:
        while self.stamps and now - self.stamps[0] >= self.window:
            self.stamps.popleft()
        self._refill(now)
        wait = 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate
        if len(self.stamps) >= self.count:
            wait = max(wait, self.stamps[0] + self.window - now)
        return wait

    def book(self, now: float) -> None:
        self._refill(now)
        self.tokens -= 1.0
        self.stamps.append(now)


class ChannelLimiter:
    """Limits for one channel: ``global_`` for all sends, ``private`` per chat, ``group`` per group."""

    def __init__(
        self,
        global_: Limit | None,
        private: Limit | None,
        group: Limit | None,
        *,
        clock: object = time.monotonic,
        max_chats: int = 50_000,
    ) -> None:
        # High rates bunch more requests into the same scheduling jitter: keep a wider margin there.
        margin = 0.04 if global_ and global_.count >= 100 else 0.02
        self._global = SlidingWindow(global_, margin=margin, burst=0.02) if global_ else None
        self._private = private
        self._group = group
        self._chats: OrderedDict[str, SlidingWindow] = OrderedDict()
        self._clock = clock
        self._max_chats = max_chats
        self._paused_until = 0.0

    def pause(self, seconds: float) -> None:
        """A 429 with retry_after: nothing goes out on this channel until then."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)  # type: ignore[operator]

    def _chat(self, key: str, is_group: bool) -> SlidingWindow | None:
        limit = self._group if is_group else self._private
        if limit is None:
            return None
        win = self._chats.get(key)
        if win is None:
            win = SlidingWindow(limit)
            self._chats[key] = win
            if len(self._chats) > self._max_chats:
                self._chats.popitem(last=False)
        else:
            self._chats.move_to_end(key)
        return win

    def reserve(self, chat_key: str, is_group: bool) -> float:
        now: float = self._clock()  # type: ignore[operator]
        if now < self._paused_until:
            return self._paused_until - now
        chat = self._chat(chat_key, is_group)
        wait = max(self._global.delay(now) if self._global else 0.0, chat.delay(now) if chat else 0.0)
        if wait > 0:
            return wait
        if self._global:
            self._global.book(now)
        if chat:
            chat.book(now)
        return 0.0

    def chat_delay(self, chat_key: str, is_group: bool) -> float:
        """How long this chat alone must wait (ignores the global window)."""
        chat = self._chat(chat_key, is_group)
        return chat.delay(self._clock()) if chat else 0.0  # type: ignore[operator]

    def global_delay(self) -> float:
        now: float = self._clock()  # type: ignore[operator]
        pause = max(0.0, self._paused_until - now)
        return max(pause, self._global.delay(now) if self._global else 0.0)
