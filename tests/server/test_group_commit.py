"""The database's group commit on a real SQLite file: a batch of jobs commits together, a
failing job rolls back alone, and a caller hears back only once its job is durable."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import Connection, insert, select

from server_stub.db import meta
from server_stub.storage import Database


def put(key: str, *, fail_after: bool = False):
    def job(conn: Connection) -> str:
        conn.execute(insert(meta).values(key=key, value="v"))
        if fail_after:
            raise ValueError(f"{key} failed after writing")
        return key
    return job


def keys_on_disk(path: Path) -> set[str]:
    with sqlite3.connect(path) as raw:  # a separate connection: only what was committed
        return {k for (k,) in raw.execute("SELECT key FROM meta WHERE key LIKE 'job-%'")}


@pytest.fixture
def db(tmp_path: Path):
    database = Database(f"sqlite:///{tmp_path / 'g.db'}")
    database.create_schema()
    yield database
    database.dispose()


def test_one_failing_job_in_a_batch_rolls_back_alone(db: Database, tmp_path: Path):
    entered, release = threading.Event(), threading.Event()

    def hold(_conn: Connection) -> None:  # keeps the writer busy while the batch queues up
        entered.set()
        release.wait(10)

    db.transact_later(hold)
    assert entered.wait(10)
    outcomes: dict[str, object] = {}

    def call(name: str, **kw: bool) -> None:
        try:
            outcomes[name] = db.transact(put(name, **kw))
        except ValueError as exc:
            outcomes[name] = exc

    callers = [threading.Thread(target=call, args=(f"job-{i}",),
                                kwargs={"fail_after": i == 2}) for i in range(5)]
    for caller in callers:
        caller.start()
    while db.group_commit.waiting() < 5:  # all five wait behind the held job: one batch
        threading.Event().wait(0.01)
    release.set()
    for caller in callers:
        caller.join(10)
    assert isinstance(outcomes.pop("job-2"), ValueError)
    assert outcomes == {f"job-{i}": f"job-{i}" for i in (0, 1, 3, 4)}
    assert keys_on_disk(tmp_path / "g.db") == {"job-0", "job-1", "job-3", "job-4"}


def test_run_answers_on_the_loop_once_durable(db: Database, tmp_path: Path):
    async def main() -> list[object]:
        return await asyncio.gather(db.run(put("job-a")), db.run(put("job-b", fail_after=True)),
                                    return_exceptions=True)

    a, b = asyncio.run(main())
    assert a == "job-a" and isinstance(b, ValueError)
    assert keys_on_disk(tmp_path / "g.db") == {"job-a"}
    with db.read() as conn:
        assert conn.execute(select(meta.c.key).where(meta.c.key == "job-b")).first() is None
