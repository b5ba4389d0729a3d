"""Group commit: updates that arrive while a transaction runs share the next one (SQLite).

SQLite has one writer at a time, so this process's update transactions take turns anyway. Each turn used to be
a whole transaction: a session, BEGIN IMMEDIATE, the statements, COMMIT (writing every touched page to the
write-ahead log again). Here the updates that queued up during a turn are done together in the next one: their
statements one update after the other, as they would have run in turn, then one COMMIT. Nothing is acknowledged
before that commit: ``submit`` returns only once its update is committed (the Telegram webhook answers 200, the
delivery worker is woken and the reply sent only after it).

One update failing must not cost the others anything: if any update of a batch raises, the whole transaction is
rolled back (nothing of it was committed or shown) and every update of the batch is done again on its own, in a
transaction of its own, as without batching; the failing one then fails alone (its caller logs it and queues the
error reply), the rest commit. A batch of one is simply done on its own.

Ordering: a caller holds its chat's lock while it waits, so a batch holds at most one update of a chat, and the
batches run one after the other in arrival order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

J = TypeVar("J")

MAX_BATCH = 32  # updates per transaction at most (about 30 ms of work: no update waits long behind others)


class GroupCommit(Generic[J]):
    """``await submit(job)``: ``job`` done and committed, alone or with the jobs that queued up beside it.

    ``transaction()`` opens a session inside a transaction (committed when the block ends without an error);
    ``run_in(session, jobs)`` does the jobs' work in it, one after the other; ``run_alone(job)`` does one job in a
    transaction of its own (and raises its error)."""

    def __init__(
        self,
        transaction: Callable[[], AbstractAsyncContextManager[Any]],
        run_in: Callable[[Any, list[J]], Awaitable[None]],
        run_alone: Callable[[J], Awaitable[None]],
        *,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._transaction = transaction
        self._run_in = run_in
        self._run_alone = run_alone
        self.max_batch = max_batch
        self._queue: list[tuple[J, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self.stats = {"retried_alone": 0}  # updates done again on their own after their batch failed

    async def submit(self, job: J) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((job, done))
        if self._task is None:
            self._task = asyncio.create_task(self._drain(), name="group-commit")
        await done

    async def _drain(self) -> None:
        batch: list[tuple[J, asyncio.Future[None]]] = []
        try:
            while self._queue:
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                await self._run(batch)
        except BaseException:  # cancelled (shutdown): nobody may wait for ever on a future nobody will set
            for _job, done in batch + self._queue:
                if not done.done():
                    done.cancel()
            self._queue = []
            raise
        finally:
            self._task = None  # no await between the empty-queue check and this: no job is stranded

    async def _run(self, batch: list[tuple[J, asyncio.Future[None]]]) -> None:
        if len(batch) > 1:
            try:
                async with self._transaction() as session:
                    await self._run_in(session, [job for job, _done in batch])
            except Exception as exc:  # the type only: the update that fails again alone is logged in full then
                log.warning("an update of a batch failed; the batch is done again one update at a time",
                            extra={"n": len(batch), "error": type(exc).__name__})
                self.stats["retried_alone"] += len(batch)
            else:
                for _job, done in batch:
                    _settle(done)
                return
        for job, done in batch:
            try:
                await self._run_alone(job)
            except Exception as exc:
                _settle(done, exc)
            else:
                _settle(done)


def _settle(done: asyncio.Future[None], error: Exception | None = None) -> None:
    """Tell a waiting caller how its job ended (unless it stopped waiting: cancelling cancelled its future)."""
    if done.done():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
