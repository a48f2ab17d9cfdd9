"""``Idempotency-Key`` for every POST that moves money.

Same key and same request: the stored response again, marked ``Idempotent-Replayed: true``.
Same key, different request: 422. Same key while the first is still being processed: 409.
Only successful results are stored, in the same transaction as the change they report, so
either both exist or neither does: after a crash the retry simply runs again. A failed
request (an error status) changed nothing, and the same key may be retried. Keys are scoped
per device and kept ``security.idempotency_retention_hours`` (at least 24 h).
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from pydantic import BaseModel
from sqlalchemy import Connection, bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError
from starlette.responses import Response

from common.errors import ErrorCode
from kiosk.protocol.errors import ProtocolError
from kiosk.protocol.signing import REPLAY_HEADER
from server_stub import engines
from server_stub.clock import now_ms
from server_stub.db import idempotency
from server_stub.nonces import PendingNonce
from server_stub.storage import Database

KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
_LOOKUP = select(idempotency).where(idempotency.c.device_id == bindparam("device_id"),
                                    idempotency.c.key == bindparam("key"))
_STORE = insert(idempotency)


class InFlight:
    """Keys being processed by this process right now. A retry that reaches another
    worker process or platform host meets the first one's transaction instead: on SQLite it
    waits for it (one writer) and gets the stored reply; on PostgreSQL the first holds an
    advisory lock on the key until it commits, and the retry is 409 as here."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: set[tuple[str, str]] = set()

    @contextmanager
    def claim(self, device_id: str, key: str) -> Iterator[None]:
        with self._lock:
            if (device_id, key) in self._keys:
                raise ProtocolError(ErrorCode.IDEMPOTENCY_IN_FLIGHT,
                                    "a request with this Idempotency-Key is still in progress")
            self._keys.add((device_id, key))
        try:
            yield
        finally:
            with self._lock:
                self._keys.discard((device_id, key))


def request_fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    digest = hashlib.sha256(f"{method}\n{path}\n{query}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def check_key(key: str | None) -> str:
    if key is None:
        raise ProtocolError(ErrorCode.IDEMPOTENCY_KEY_MISSING,
                            "this request moves money and needs an Idempotency-Key header")
    if not KEY_PATTERN.match(key):
        raise ProtocolError(ErrorCode.IDEMPOTENCY_KEY_MISSING,
                            "Idempotency-Key must be 1-255 visible ASCII characters")
    return key


def _stored(conn: Connection, device_id: str, key: str, fingerprint: str) -> Response | None:
    row = conn.execute(_LOOKUP, {"device_id": device_id, "key": key}).first()
    if row is None:
        return None
    if row.request_hash != fingerprint:
        raise ProtocolError(ErrorCode.IDEMPOTENCY_KEY_REUSED,
                            "this Idempotency-Key was used for a different request")
    return Response(row.body, status_code=row.status_code, media_type="application/json",
                    headers={REPLAY_HEADER: "true"})


def stored_reply(db: Database, device_id: str, key: str | None,
                 fingerprint: str) -> Response | None:
    """The stored answer if this request ran before: for a route that must call something
    outside the database (a payment provider) before ``run_once``, and not on a replay."""
    with db.read() as conn:
        return _stored(conn, device_id, check_key(key), fingerprint)


async def run_once(db: Database, inflight: InFlight, *, device_id: str, key: str | None,
                   fingerprint: str, status_code: int, nonce: PendingNonce,
                   operation: Callable[[Connection, int], BaseModel],
                   committed: Callable[[BaseModel], Awaitable[None]] | None = None
                   ) -> Response:
    """Run ``operation`` (in one write transaction) at most once per (device, key). The
    request's signature nonce is recorded in the same transaction. ``committed`` is awaited
    with the result of a first execution once it is durable, before the answer goes out."""
    key = check_key(key)
    made: list[BaseModel] = []  # the result of the run that committed (a batch may rerun)

    def once(conn: Connection) -> Response:
        made.clear()
        nonce.record(conn)
        if not engines.try_key_lock(conn, f"idempotency\n{device_id}\n{key}"):
            raise ProtocolError(ErrorCode.IDEMPOTENCY_IN_FLIGHT, "a request with this "
                                "Idempotency-Key is still in progress")
        replay = _stored(conn, device_id, key, fingerprint)
        if replay is not None:
            return replay
        now = now_ms()
        result = operation(conn, now)
        made.append(result)
        payload = result.model_dump_json().encode()
        conn.execute(_STORE, {"device_id": device_id, "key": key, "request_hash": fingerprint,
                              "status_code": status_code, "body": payload, "created_ms": now})
        return Response(payload, status_code=status_code, media_type="application/json")

    with inflight.claim(device_id, key):
        try:
            response = await db.run(once)
            nonce.spent = True
            if committed is not None and made:
                await committed(made[0])
            return response
        except IntegrityError:
            # another process completed the same key first: answer as a replay of it
            with db.read() as conn:
                replay = _stored(conn, device_id, key, fingerprint)
            if replay is None:
                raise
            return replay


def purge(conn: Connection, *, retention_hours: int, now: int | None = None) -> int:
    cutoff = (now if now is not None else now_ms()) - retention_hours * 3_600_000
    return conn.execute(delete(idempotency).where(idempotency.c.created_ms < cutoff)).rowcount
