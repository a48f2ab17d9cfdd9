"""Group commit: one writer thread per process takes every job waiting, runs the batch in one
transaction and commits it with one fsync, and only then answers the callers.

A crash before that commit loses the whole batch and no caller has been answered, so nothing
acknowledged is ever lost or half-applied. On SQLite the batches of all processes take turns
behind :class:`WriterLock`. On PostgreSQL there is no file lock: batches of different
processes and hosts meet only on the rows they share, locked ``FOR UPDATE``; a job that
deadlocked or failed to serialise runs again in the next attempt (jobs are functions of the
connection only, so a rolled-back run leaves nothing behind). Group commit matters there
too: every money transaction ends on the counters and the audit chain's head (one row each,
held to the commit), so transactions one by one would take turns at one commit (and standby
round trip) each; a batch takes its turn once for all its jobs (measured: README, Platform
database).
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Connection

from server_stub import engines

try:
    import fcntl
except ImportError:  # not POSIX: SQLite's busy handler alone serialises processes
    fcntl = None  # type: ignore[assignment]

T = TypeVar("T")
log = logging.getLogger("server_stub.writer")
MAX_BATCH = 64
RETRIES = 8  # PostgreSQL: runs of one transaction that deadlocked or failed to serialise


class WriterLock:
    """One SQLite writer at a time, across threads and processes (server workers, admin
    commands). SQLite's own busy handler would also serialise them, but it polls with
    sleeps of up to 100 ms; a blocking ``flock`` hands the lock over as soon as it is free."""

    def __init__(self, database: str | None) -> None:
        self._threads = threading.Lock()
        self._path = (f"{database}.writer-lock" if fcntl is not None and database
                      and database != ":memory:" else None)
        self._fd: int | None = None

    def __enter__(self) -> None:
        self._threads.acquire()
        if self._path is None:
            return
        try:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def __exit__(self, *_exc: object) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def close(self) -> None:
        with self._threads:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


class _JobFailed(Exception):
    """A job of an all-or-nothing batch run failed; the batch is run again job by job."""


@dataclass
class _Job:
    fn: Callable[[Connection], Any]
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None
    awaited: bool = True
    on_done: Callable[[_Job], None] | None = None  # called from the writer thread


def _resolve(future: asyncio.Future[Any], job: _Job) -> None:
    if future.cancelled():  # the caller went away; the job's outcome stands regardless
        return
    if job.error is not None:
        future.set_exception(job.error)
    else:
        future.set_result(job.result)


class GroupCommit:
    """The writer thread and its queue. ``begin()`` opens one write transaction (the caller
    of the constructor decides how: ``BEGIN IMMEDIATE`` on SQLite); ``lock`` is held around
    each batch, so jobs that queued while another process was writing join the next one."""

    def __init__(self, begin: Callable[[], AbstractContextManager[Connection]],
                 lock: WriterLock | None) -> None:
        self._begin = begin
        self._lock = lock
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()

    def transact(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn(conn)`` in the next group commit; its result once durable, or its error."""
        job = _Job(fn)
        self._submit(job)
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.result

    async def run(self, fn: Callable[[Connection], T]) -> T:
        """``transact`` for the event loop: awaits the group commit without holding a
        worker thread (one thread hop per request instead of three)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._submit(_Job(fn, on_done=lambda job: loop.call_soon_threadsafe(
            _resolve, future, job)))
        return await future

    def transact_later(self, fn: Callable[[Connection], Any]) -> None:
        """Queue ``fn`` for the next group commit without waiting for it."""
        self._submit(_Job(fn, awaited=False))

    def waiting(self) -> int:
        """Jobs queued behind the batch being run (approximate while the thread runs)."""
        return self._jobs.qsize()

    def _submit(self, job: _Job) -> None:
        if self._thread is None:
            with self._thread_lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._loop, daemon=True,
                                                    name="db-writer")
                    self._thread.start()
        self._jobs.put(job)

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            # the lock first, then the batch: jobs that queued while another process was
            # writing join this batch, so each commit carries as many as are waiting
            with self._lock or nullcontext():
                batch = [job]
                while len(batch) < MAX_BATCH:
                    try:
                        more = self._jobs.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        self._jobs.put(None)
                        break
                    batch.append(more)
                self._run_batch(batch)

    def _run_batch(self, batch: list[_Job]) -> None:
        """Run the batch in one transaction. Jobs rarely fail, so they first run without a
        SAVEPOINT each (two statements per job saved); if one does fail, the whole
        transaction is rolled back and the batch runs again with one SAVEPOINT per job, so
        the failing job rolls back alone. Jobs are functions of the connection only, so a
        rolled-back first run leaves nothing behind. On PostgreSQL, jobs that met a deadlock
        or a serialization failure run again (with a short, growing pause)."""
        pending = batch
        try:
            for attempt in range(RETRIES):
                try:
                    if len(pending) == 1 or not self._commit_all(pending):
                        self._commit_each(pending)
                except Exception as exc:  # the commit itself failed: none of it is kept
                    for job in pending:
                        job.error, job.result = job.error or exc, None
                pending = [job for job in pending
                           if job.error is not None and engines.retryable(job.error)]
                if not pending or attempt == RETRIES - 1:
                    break
                for job in pending:
                    job.error, job.result = None, None
                time.sleep(0.002 * 2 ** attempt)
        finally:
            for job in batch:
                if job.error is not None and not job.awaited:
                    log.error("queued write failed", extra={"error": repr(job.error)})
                job.done.set()
                if job.on_done is not None:
                    job.on_done(job)

    def _commit_all(self, batch: list[_Job]) -> bool:
        """False (and nothing written) if any job failed."""
        try:
            with self._begin() as conn:
                results = []
                for job in batch:
                    try:
                        results.append(job.fn(conn))
                    except Exception as exc:
                        raise _JobFailed from exc  # rolls the whole transaction back
        except _JobFailed:
            return False
        for job, result in zip(batch, results, strict=True):
            job.result = result
        return True

    def _commit_each(self, batch: list[_Job]) -> None:
        with self._begin() as conn:
            for job in batch:
                try:
                    with conn.begin_nested():
                        job.result = job.fn(conn)
                except Exception as exc:
                    job.error = exc

    def close(self) -> None:
        """Run what is queued, then stop the thread."""
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join(timeout=30)
            self._thread = None
