"""Updates of one conversation are handled one at a time, in one process and across processes (review C1).

"Across processes" is two runtimes (two ``Core`` instances with their own in-process locks) on one database:
only the database lock (PostgreSQL advisory lock, SQLite's BEGIN IMMEDIATE) can serialise them.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app.runtime import Runtime
from bot.channels.console import ConsoleSender
from bot.core.locks import KeyedLocks, advisory_key, lock_across_processes
from bot.core.model import Incoming, MediaIn
from bot.storage.models import Conversation, ProcessedUpdate, Tip
from bot.texts import t
from tests.handlers.tips.conftest import GROUPS, TipConsole
from tests.support.helpers import until_an_advisory_lock_is_awaited


@pytest.fixture
async def two(make_settings: Any) -> AsyncIterator[tuple[TipConsole, Runtime]]:
    """A tips console harness plus a second runtime on the same database (a second ``run`` node)."""
    settings = make_settings(bawaslu_groups=GROUPS, console_admin=False)
    first = TipConsole(settings)
    second = Runtime.create(settings, {"console": ConsoleSender(io.StringIO())})
    try:
        yield first, second
    finally:
        await second.stop()
        await first.close()


async def _at_evidence_step(h: TipConsole) -> None:
    for text in ["/lapor", "Kukar"]:
        await h.send(text)
    await h.send(callback="lapor:c:medsos")
    for text in ["Pak Budi", "Kantor", "Kejadian"]:
        await h.send(text)


def _photo(i: int) -> Incoming:
    return Incoming(channel="console", chat_id="pelapor", user_id="pelapor",
                    media=(MediaIn("photo", f"ref{i}", "image/jpeg", 10),), update_key=f"photo{i}")


def _link(i: int) -> Incoming:
    return Incoming(channel="console", chat_id="pelapor", user_id="pelapor",
                    text=f"https://www.facebook.com/share/p/{i}", update_key=f"link{i}")


async def _draft(rt: Runtime) -> dict[str, Any]:
    async with rt.services.sessions() as s:
        conv = await s.scalar(select(Conversation).where(Conversation.flow == "lapor"))
    assert conv is not None
    return conv.data


async def test_media_and_links_sent_together_are_all_kept_in_one_process(two: tuple[TipConsole, Runtime]) -> None:
    h, _ = two
    await _at_evidence_step(h)
    await asyncio.gather(*(h.rt.core.handle(i) for i in [_photo(0), _photo(1), _link(0), _photo(2), _link(1)]))
    data = await _draft(h.rt)
    assert sorted(m["ref"] for m in data["media"]) == ["ref0", "ref1", "ref2"]
    assert len(data["links"]) == 2


async def test_media_sent_together_are_all_kept_across_two_nodes(two: tuple[TipConsole, Runtime]) -> None:
    h, node2 = two
    await _at_evidence_step(h)
    cores = [h.rt.core, node2.core]
    incs = [_photo(0), _photo(1), _photo(2), _photo(3), _link(0), _link(1)]
    await asyncio.gather(*(cores[n % 2].handle(inc) for n, inc in enumerate(incs)))
    data = await _draft(h.rt)
    assert sorted(m["ref"] for m in data["media"]) == ["ref0", "ref1", "ref2", "ref3"]
    assert len(data["links"]) == 2


async def test_first_two_messages_of_a_new_chat_do_not_collide(two: tuple[TipConsole, Runtime]) -> None:
    h, node2 = two
    incs = [Incoming(channel="console", chat_id="baru", user_id="baru", text=text, update_key=f"n{n}")
            for n, text in enumerate(["/lapor", "/lapor"])]  # both start a flow: both write the conversation row
    await asyncio.gather(h.rt.core.handle(incs[0]), node2.core.handle(incs[1]))
    await h.rt.worker.drain()
    await node2.worker.drain()
    async with h.rt.services.sessions() as s:
        key = h.rt.core.conv_key(incs[0])
        convs = int(await s.scalar(select(func.count()).where(Conversation.conv_key == key)) or 0)
    assert convs == 1
    texts = [r.text for _c, r in h.sender.delivered] + [
        r.text for _c, r in node2.worker.senders["console"].delivered  # type: ignore[attr-defined]
    ]
    assert len(texts) == 2 and t("error.generic") not in texts


async def test_double_tapped_send_creates_one_tip(two: tuple[TipConsole, Runtime]) -> None:
    h, node2 = two
    await _at_evidence_step(h)
    await h.send(callback="lapor:done")
    taps = [Incoming(channel="console", chat_id="pelapor", user_id="pelapor", callback="lapor:ok",
                     update_key=f"tap{n}") for n in range(3)]
    await asyncio.gather(h.rt.core.handle(taps[0]), node2.core.handle(taps[1]), h.rt.core.handle(taps[2]))
    async with h.rt.services.sessions() as s:
        assert int(await s.scalar(select(func.count()).select_from(Tip)) or 0) == 1


async def test_keyed_locks_serialise_one_key_and_forget_idle_keys() -> None:
    locks = KeyedLocks()
    order: list[str] = []

    async def job(key: str, name: str, gate: asyncio.Event | None = None) -> None:
        async with locks.hold(key):
            order.append(f"{name}+")
            if gate is not None:
                await gate.wait()
            order.append(f"{name}-")

    gate = asyncio.Event()
    a = asyncio.create_task(job("k", "a", gate))
    await asyncio.sleep(0)
    b = asyncio.create_task(job("k", "b"))
    c = asyncio.create_task(job("other", "c"))
    await asyncio.sleep(0.01)
    assert order == ["a+", "c+", "c-"]  # b waits for a; another key does not
    gate.set()
    await asyncio.gather(a, b, c)
    assert order == ["a+", "c+", "c-", "a-", "b+", "b-"]
    assert len(locks) == 0
    assert advisory_key("x") == advisory_key("x") and advisory_key("x") != advisory_key("y")


async def test_an_update_waits_for_the_chat_lock_another_process_holds(two: tuple[TipConsole, Runtime]) -> None:
    """PostgreSQL: the advisory lock taken in the de-duplication INSERT is the one ``lock_across_processes``
    takes. Another node's transaction holds it: the update waits (seen in pg_locks), then runs once released."""
    h, node2 = two
    if h.rt.settings.is_sqlite:
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE; there is no advisory lock")
    inc = Incoming(channel="console", chat_id="pelapor", user_id="pelapor", text="/start", update_key="u1")
    async with node2.services.sessions() as other, other.begin():
        await lock_across_processes(other, h.rt.core.lock_key(inc))
        task = asyncio.create_task(h.rt.core.handle(inc))
        await until_an_advisory_lock_is_awaited(node2, task)
        assert not task.done()
    await task
    async with h.rt.services.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(ProcessedUpdate)) == 1
