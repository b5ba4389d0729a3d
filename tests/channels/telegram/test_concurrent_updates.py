"""Updates of different chats are handled at the same time; one chat's updates still one at a time, in order.

Through the real PTB ``Application`` (long polling against the fake Bot API server) and the real ``Core``. A
test button ``uji:N`` is added to the real router: its ``Router.prepare`` hook (the network work before the
transaction, like an evidence download) waits on an event the test holds for ``uji:1`` — the handling of that
update is blocked inside the chat's lock, outside any transaction, until the test lets it go. No timing: every
wait is for an event (a recorded call at the fake server), never a sleep.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.core.context import Context, FlowState
from bot.core.model import Incoming
from bot.core.services import Services
from tests.support.fakes.telegram_server import make_callback
from tests.support.telegram_harness import TelegramHarness

SLOW_CHAT, SAME_CHAT, OTHER_CHAT = 5101, 5102, 5103


class Gate:
    """The ``uji`` button: ``uji:1`` waits in its prepare hook until released; the handler records the order."""

    def __init__(self, harness: TelegramHarness) -> None:
        assert harness.rt is not None
        self.release = asyncio.Event()
        self.waiting = asyncio.Event()
        self.handled: list[tuple[str, str]] = []  # (chat id, button data), in the order handled
        router = harness.rt.core.router
        for data in ("uji:1", "uji:2"):
            router.prepare(data, self._prepare)
        router.callback("uji", self._handle)

    async def _prepare(self, inc: Incoming, _state: FlowState, _svc: Services) -> Any:
        if inc.callback == "uji:1":
            self.waiting.set()
            await self.release.wait()
        return inc.callback

    async def _handle(self, ctx: Context) -> None:
        self.handled.append((ctx.incoming.chat_id, str(ctx.prepared)))
        ctx.reply(f"selesai {ctx.prepared}")


def _reply_to(chat_id: int, text: str) -> Any:
    return lambda call: call.method == "sendMessage" and str(call.chat_id) == str(chat_id) and call.params.get(
        "text") == text


@pytest.fixture
async def gate(telegram: TelegramHarness) -> AsyncIterator[Gate]:
    g = Gate(telegram)
    try:
        yield g
    finally:
        g.release.set()  # a failed test must not leave an update blocked (stopping PTB waits for it)


async def test_a_blocked_chat_does_not_hold_up_another_chat(telegram: TelegramHarness, gate: Gate) -> None:
    server = telegram.server
    mark = telegram.mark()
    server.inject_update(make_callback(SLOW_CHAT, SLOW_CHAT, "uji:1"))
    await asyncio.wait_for(gate.waiting.wait(), 10)
    server.inject_update(make_callback(OTHER_CHAT, OTHER_CHAT, "uji:2"))
    await server.wait_for(_reply_to(OTHER_CHAT, "selesai uji:2"), timeout=10, since=mark)
    assert gate.handled == [(str(OTHER_CHAT), "uji:2")]  # the slow chat's update is still waiting
    # Its button press was answered all the same, while its handling waited.
    answered = [c for c in server.calls[mark:] if c.method == "answerCallbackQuery" and c.ok]
    assert len(answered) == 2
    gate.release.set()
    await server.wait_for(_reply_to(SLOW_CHAT, "selesai uji:1"), timeout=10, since=mark)
    assert gate.handled == [(str(OTHER_CHAT), "uji:2"), (str(SLOW_CHAT), "uji:1")]


async def test_one_chats_updates_are_handled_in_order(telegram: TelegramHarness, gate: Gate) -> None:
    server = telegram.server
    mark = telegram.mark()
    server.inject_update(make_callback(SAME_CHAT, SAME_CHAT, "uji:1"))
    await asyncio.wait_for(gate.waiting.wait(), 10)
    server.inject_update(make_callback(SAME_CHAT, SAME_CHAT, "uji:2"))  # needs no waiting of its own
    server.inject_update(make_callback(OTHER_CHAT, OTHER_CHAT, "uji:2"))  # arrives after it
    await server.wait_for(_reply_to(OTHER_CHAT, "selesai uji:2"), timeout=10, since=mark)
    # The later update of the other chat is done; the second update of the blocked chat has not overtaken
    # the first one.
    assert gate.handled == [(str(OTHER_CHAT), "uji:2")]
    gate.release.set()
    await server.wait_for(_reply_to(SAME_CHAT, "selesai uji:2"), timeout=10, since=mark)
    assert gate.handled == [(str(OTHER_CHAT), "uji:2"), (str(SAME_CHAT), "uji:1"), (str(SAME_CHAT), "uji:2")]
    texts = [c.params.get("text") for c in server.calls[mark:]
             if c.method == "sendMessage" and str(c.chat_id) == str(SAME_CHAT)]
    assert texts == ["selesai uji:1", "selesai uji:2"]


async def test_handling_a_press_does_not_wait_for_its_answer(telegram: TelegramHarness, gate: Gate) -> None:
    """answerCallbackQuery answering after 2 s: the press's reply is sent before the answer is recorded."""
    server = telegram.server
    server.set_latency(2.0, methods=["answerCallbackQuery"])
    mark = telegram.mark()
    server.inject_update(make_callback(OTHER_CHAT, OTHER_CHAT, "uji:2"))
    reply = await server.wait_for(_reply_to(OTHER_CHAT, "selesai uji:2"), timeout=10, since=mark)
    answer = await server.wait_for(lambda c: c.method == "answerCallbackQuery", timeout=10, since=mark)
    position = {id(c): i for i, c in enumerate(server.calls)}
    assert position[id(reply)] < position[id(answer)]
    assert gate.handled == [(str(OTHER_CHAT), "uji:2")]
