"""Everything a running platform holds: config, database, keys, and request authentication."""

from __future__ import annotations

import logging
import threading
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, delete, insert, select

from kiosk.protocol.errors import ErrorCode, ProtocolError
from kiosk.protocol.signing import RequestVerifier, WireRequest
from server_stub import audit, gallery, idempotency
from server_stub.clock import now_ms
from server_stub.config import ServerConfig
from server_stub.db import Database, nonces
from server_stub.directory import Device, active_device
from server_stub.keys import ServerIdentity, TemplateSealer

log = logging.getLogger("server_stub")
PURGE_EVERY_MS = 60_000
_SPEND_NONCE = insert(nonces)


class Platform:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.db = Database(config.server.db_url)
        self.db.create_schema()
        self.identity = ServerIdentity.load(config.server.key_file)
        self.sealer = TemplateSealer.load(config.server.data_key_file)
        self.inflight = idempotency.InFlight()
        self._next_purge_ms = 0
        self._purge_lock = threading.Lock()
        self._nonce_lock = threading.Lock()
        with self.db.write() as conn:
            changed = gallery.apply_scope_policy(conn, config.gallery.scope)
            self._nonces = {(r.key_id, r.nonce): r.expires_ms for r in conn.execute(
                select(nonces).where(nonces.c.expires_ms >= now_ms()))}
        if changed:
            log.info("gallery scope applied", extra={"scope": config.gallery.scope,
                                                     "rows_changed": changed})
        self.purge_expired()

    def purge_expired(self) -> None:
        """Forget nonces past their window and idempotency keys past retention."""
        now = now_ms()
        with self._purge_lock:
            if now < self._next_purge_ms:
                return
            self._next_purge_ms = now + PURGE_EVERY_MS
        with self._nonce_lock:
            self._nonces = {k: v for k, v in self._nonces.items() if v >= now}
        retention = self.config.security.idempotency_retention_hours

        def purge(conn: Connection) -> None:
            conn.execute(delete(nonces).where(nonces.c.expires_ms < now))
            idempotency.purge(conn, now=now, retention_hours=retention)

        self.db.transact_later(purge)

    def authenticate(self, request: WireRequest, body: bytes) -> Device:
        """Verify the RFC 9421 signature, then spend its nonce. Runs in a worker thread."""
        found: dict[str, Device] = {}

        def lookup(key_id: str) -> Ed25519PublicKey:
            with self.db.read() as conn:
                found["device"] = active_device(conn, key_id)
            return found["device"].public_key

        verifier = RequestVerifier(lookup, skew_s=self.config.security.skew_seconds)
        verified = verifier.verify(request.method, request.url, request.headers, body)
        self.purge_expired()
        self.spend_nonce(verified.key_id, verified.nonce,
                         (verified.created + self.config.security.skew_seconds + 1) * 1000)
        return found["device"]

    def spend_nonce(self, key_id: str, nonce: str, expires_ms: int) -> None:
        """Replay check in memory; the record is queued for the next group commit, so it is
        durable no later than any change the request makes (and reloaded at start-up)."""
        with self._nonce_lock:
            if (key_id, nonce) in self._nonces:
                raise ProtocolError(ErrorCode.NONCE_REPLAYED,
                                    "this signature nonce was already used")
            self._nonces[(key_id, nonce)] = expires_ms
        row = {"key_id": key_id, "nonce": nonce, "expires_ms": expires_ms}
        self.db.transact_later(lambda conn: conn.execute(_SPEND_NONCE, row))

    def record_rejection(self, *, method: str, path: str, status: int, code: str,
                         device: Device | None) -> None:
        """Every rejected request leaves an audit record (no body, no personal data)."""
        details: dict[str, Any] = {"method": method, "path": path[:200], "status": status,
                                   "code": code}
        self.db.transact(lambda conn: audit.append(
            conn, at_ms=now_ms(), actor=device.actor if device else "anonymous",
            action="request.rejected", subject=path[:128], details=details))
