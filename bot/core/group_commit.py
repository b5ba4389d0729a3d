"""Group commit: updates that arrive while a transaction runs share the next one.

Each update used to be a whole transaction: a session, BEGIN, its statements, COMMIT (on SQLite writing every
touched page to the write-ahead log again; on PostgreSQL a round trip and a WAL flush each). Here the updates
that queued up during one transaction are done together in the next: their statements one update after the
other, as they would have run in turn, then one COMMIT. Nothing is acknowledged before that commit: ``submit``
returns only once its update is committed (the Telegram webhook answers 200, the delivery worker is woken and
the reply sent only after it).

One update failing must not cost the others anything: if any update of a batch raises, the whole transaction is
rolled back (nothing of it was committed or shown) and every update of the batch is done again on its own, in a
transaction of its own and a task of its own beside the next batches, as without batching; the failing one then
fails alone (its caller logs it and queues the error reply), the rest commit. A batch of one that fails simply
fails.

One update that cannot go ahead must not hold up the others: the batch may leave a job out (PostgreSQL: another
node holds its chat's lock; or a second update of a chat whose earlier caller stopped waiting); it is then done
alone, in a task of its own, while the next batches go on.

Ordering: a caller holds its chat's lock while it waits, so a batch holds at most one update of a chat, and no
two batches in flight hold updates of the same chat. Batches start in arrival order; ``concurrency`` of them may
run at once (PostgreSQL: one slow update, an export, say, then holds up only its own batch; SQLite: one, as its
single writer takes them in turn anyway).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Generic, TypeVar, cast

log = logging.getLogger(__name__)

J = TypeVar("J")

MAX_BATCH = 32  # updates per transaction at most (about 30 ms of work: no update waits long behind others)


class GroupCommit(Generic[J]):
    """``await submit(job)``: ``job`` done and committed, alone or with the jobs that queued up beside it.

    ``transaction()`` opens a session inside a transaction (committed when the block ends without an error);
    ``run_in(session, jobs)`` does the jobs' work in it, one after the other, and returns the jobs it left out
    (PostgreSQL: another process holds their chat's lock), which are then done alone, each in a task of its own,
    so that waiting for that lock holds up nobody else; ``run_alone(job)`` does one job in a transaction of its
    own (and raises its error)."""

    def __init__(
        self,
        transaction: Callable[[], AbstractAsyncContextManager[Any]],
        run_in: Callable[[Any, list[J]], Awaitable[list[J]]],
        run_alone: Callable[[J], Awaitable[None]],
        *,
        max_batch: int = MAX_BATCH,
        concurrency: int = 1,
    ) -> None:
        self._transaction = transaction
        self._run_in = run_in
        self._run_alone = run_alone
        self.max_batch = max_batch
        self.concurrency = concurrency  # batches in flight at once, at most
        self._queue: list[tuple[J, asyncio.Future[None]]] = []
        self._tasks: set[asyncio.Task[None]] = set()  # the running batches' loops
        self._aside: set[asyncio.Task[None]] = set()  # jobs left out of their batch, done alone
        # updates done again on their own after their batch failed; updates left out of their batch
        self.stats = {"retried_alone": 0, "left_out": 0}

    async def submit(self, job: J) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((job, done))
        if len(self._tasks) < self.concurrency:
            self._tasks.add(asyncio.create_task(self._drain(), name="group-commit"))
        await done

    async def close(self, timeout: float = 5.0) -> None:
        """Shutdown: let the batches in flight and the jobs being done alone finish (each commits or rolls back
        as usual) for at most ``timeout`` seconds, then cancel what is left (nothing of it was acknowledged)."""
        running = self._tasks | self._aside
        if not running:
            return
        _finished, pending = await asyncio.wait(running, timeout=timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

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
        finally:  # no await between the empty-queue check and this: no job is stranded
            self._tasks.discard(cast("asyncio.Task[None]", asyncio.current_task()))

    async def _run(self, batch: list[tuple[J, asyncio.Future[None]]]) -> None:
        try:
            async with self._transaction() as session:
                left_out = await self._run_in(session, [job for job, _done in batch])
        except Exception as exc:
            if len(batch) == 1:  # it was alone already
                _settle(batch[0][1], exc)
                return
            # the type only: the update that fails again alone is logged in full then
            log.warning("an update of a batch failed; the batch is done again one update at a time",
                        extra={"n": len(batch), "error": type(exc).__name__})
            self.stats["retried_alone"] += len(batch)
            for job, done in batch:  # beside the next batches: one of them waiting for its chat holds up no one
                self._aside_job(job, done)
            return
        skipped = {id(job) for job in left_out}
        for job, done in batch:
            if id(job) in skipped:
                self.stats["left_out"] += 1
                self._aside_job(job, done)
            else:
                _settle(done)

    def _aside_job(self, job: J, done: asyncio.Future[None]) -> None:
        """Do ``job`` alone, in a task of its own (its caller still holds its chat's lock while it waits)."""
        task = asyncio.create_task(self._alone(job, done), name="group-commit-aside")
        self._aside.add(task)
        task.add_done_callback(self._aside.discard)

    async def _alone(self, job: J, done: asyncio.Future[None]) -> None:
        try:
            await self._run_alone(job)
        except Exception as exc:
            _settle(done, exc)
        except BaseException:  # cancelled (shutdown)
            done.cancel()
            raise
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
